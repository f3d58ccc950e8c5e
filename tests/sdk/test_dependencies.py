"""The SDK imports only what its package declares: a worker image (and the backlog
exporter's) installs the SDK's dependencies and nothing else, so an import of a package
the development environment happens to have fails only in production."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

from tests.support.engine import REPO

SDK = REPO / "sdk"
# import name -> distribution, where they differ
_DISTRIBUTION = {"camunda": "camunda-external-task-client-python3",
                 "prometheus_client": "prometheus-client"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower()
            for requirement in requirements}


def _declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"])
    if extra is not None:
        declared |= _names(project["optional-dependencies"][extra])
    return declared


def _in_extra(path: Path) -> str | None:
    """The extra a module needs: camunda_workers.compat and its helpers need [compat]."""
    return "compat" if path.stem == "compat" or path.stem.startswith("_compat_") else None


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_of_the_sdk_is_a_declared_dependency() -> None:
    """Modules outside camunda_workers.compat import only the plain dependencies."""
    undeclared = {}
    for path in sorted((SDK / "src" / "camunda_workers").rglob("*.py")):
        declared = _declared(_in_extra(path))
        for name in _imported(path) - set(sys.stdlib_module_names) - {"camunda_workers"}:
            if _DISTRIBUTION.get(name, name).lower() not in declared:
                undeclared.setdefault(name, []).append(path.name)
    assert undeclared == {}
    assert "aiohttp" in _declared()  # the check sees the dependencies at all
    # requests comes with that library: only images that ask for the extra get it
    assert "camunda-external-task-client-python3" not in _declared()
    assert "camunda-external-task-client-python3" in _declared("compat")

