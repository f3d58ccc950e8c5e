"""One source for each rule: the settings model, its keyword arguments, its environment
variables, worker.json (the SDK's part and the tooling's part) agree field by field, and
the tooling uses only the SDK's public API."""

from __future__ import annotations

import ast
import re
import types
import typing
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from pydantic import SecretStr

import camunda_workers
from camunda_workers import ENV_VARIABLES, WorkerOptions, WorkerSettings, WorkerSpec
from camunda_workers._settings import SETTINGS_FROM_SPEC
from camunda_workers._spec import DEPLOYMENT_FIELDS
from workers_tooling import ServiceSpec

from .helpers import REPO


def _plain(annotation: Any) -> Any:
    """``X | None`` -> X, ``Annotated[X, ...]`` -> X, ``SecretStr`` -> str (what callers pass)."""
    if get_origin(annotation) is typing.Annotated:
        return _plain(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return _plain(rest[0])
    return str if annotation is SecretStr else annotation


def test_worker_options_are_the_settings_fields() -> None:
    options = get_type_hints(WorkerOptions, include_extras=True)
    fields = WorkerSettings.model_fields
    assert list(options) == list(fields)
    for name, annotation in options.items():
        assert _plain(annotation) == _plain(fields[name].annotation), name


def test_every_environment_variable_is_a_setting_and_documented() -> None:
    table = [line for line in (REPO / "sdk" / "README.md").read_text().splitlines()
             if line.startswith("| `")]
    for variable, setting in ENV_VARIABLES.items():
        assert setting in WorkerSettings.model_fields, variable
        assert any(f"`{variable}`" in line for line in table), variable


def _rule(model: type[Any], field: str) -> dict[str, Any]:
    schema = dict(model.model_json_schema()["properties"][field])
    return {key: schema.get(key) for key in ("type", "minimum", "maximum", "default")}


@pytest.mark.parametrize("field", [f for f in SETTINGS_FROM_SPEC if f != "port"])
def test_settings_read_from_worker_json_have_the_same_rules(field: str) -> None:
    setting = SETTINGS_FROM_SPEC[field]  # lock_duration -> lock_duration_ms
    assert _rule(WorkerSpec, field) == _rule(WorkerSettings, setting)
    assert _rule(ServiceSpec, field) == _rule(WorkerSettings, setting)
    spec, settings = WorkerSpec.model_fields[field], WorkerSettings.model_fields[setting]
    assert spec.metadata == settings.metadata


def test_the_port_differs_on_purpose() -> None:
    """worker.json's port is published on the Swarm (1024-65535); at run time 0 (any free
    port, as `workers demo` uses) and no port at all are fine too."""
    assert (_rule(WorkerSpec, "port")["minimum"], _rule(WorkerSpec, "port")["maximum"]) == (
        1024, 65535)
    assert WorkerSettings(name="x", port=0).port == 0
    assert WorkerSettings(name="x").port is None


def test_the_swarm_sections_are_the_toolings() -> None:
    """The SDK accepts them as written; ServiceSpec gives each its type, and adds nothing."""
    sdk_fields = WorkerSpec.model_fields
    tooling_fields = ServiceSpec.model_fields
    assert set(tooling_fields) == set(sdk_fields)
    for field in DEPLOYMENT_FIELDS:
        assert sdk_fields[field].annotation is Any, field
        assert tooling_fields[field].annotation is not Any, field
    for field in set(sdk_fields) - set(DEPLOYMENT_FIELDS):
        assert tooling_fields[field].annotation == sdk_fields[field].annotation, field
    assert not {"Resources", "Placement", "UpdatePolicy"} & set(dir(camunda_workers))


def test_the_tooling_uses_only_the_public_sdk() -> None:
    sources = sorted((REPO / "tooling/src").rglob("*.py"))
    assert sources
    modules: set[str] = set()
    used: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
                if node.module == "camunda_workers":
                    used |= {alias.name for alias in node.names}
            elif isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
    assert {m for m in modules if m.startswith("camunda_workers.")} == set()
    assert used <= set(camunda_workers.__all__)


def test_the_committed_schema_is_the_toolings(tmp_path: Path) -> None:
    from workers_tooling import worker_schema

    assert (REPO / "workers/worker.schema.json").read_text() == worker_schema()
    assert '"resources"' in worker_schema()


def test_the_worker_label_and_the_default_registry_are_written_once() -> None:
    sources = {path.name: path.read_text() for path in (REPO / "tooling/src").rglob("*.py")}
    assert [name for name, text in sources.items()
            if '"camunda-workers.' in text] == ["_labels.py"]
    assert [name for name, text in sources.items() if re.search(r'"local"', text)] == [
        "_image_names.py"]
