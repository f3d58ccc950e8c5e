"""The topics a worker's code serves, read statically (``ast``; nothing is imported or run).

A handler is registered as ``@anything.topic("name", ...)`` (a decorator) or
``anything.topic("name", ...)(function)``; the topic is a string literal or a module-level
constant (``TOPIC = "name"``). Every ``*.py`` of the worker's folder is read (not
``tests/``, not hidden folders), and the modules of ``workers/common`` it imports.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ServedTopics", "served_topics"]

_SKIPPED_DIRS = frozenset({"tests", "test", "__pycache__", "node_modules"})
COMMON = "common"


@dataclass
class ServedTopics:
    """Topics found (topic -> ``file:line`` of its first registration) and what was unclear."""

    topics: dict[str, str] = field(default_factory=dict)
    unclear: list[str] = field(default_factory=list)  # "file:line: what"


def _python_files(folder: Path, listing: dict[str, bool]) -> Iterator[tuple[str, str]]:
    """(path, path shown) of each Python file; ``listing``: name -> is a folder."""
    for name in sorted(listing):
        if listing[name]:
            if name not in _SKIPPED_DIRS and not name.startswith("."):
                for root, dirs, files in os.walk(folder / name):
                    dirs[:] = sorted(d for d in dirs
                                     if d not in _SKIPPED_DIRS and not d.startswith("."))
                    for file in sorted(files):
                        if file.endswith(".py") and not file.startswith("test_"):
                            path = os.path.join(root, file)
                            yield path, f"workers/{os.path.relpath(path, folder.parent)}"
        elif name.endswith(".py") and not name.startswith("test_"):
            yield os.path.join(folder, name), f"workers/{folder.name}/{name}"


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments."""
    found: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        value = getattr(node, "value", None)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.update((t.id, value.value) for t in targets if isinstance(t, ast.Name))
    return found


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _topic_call(node: ast.expr) -> ast.Call | None:
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "topic"):
        return node
    return None


def _scan(body: list[Any], calls: list[ast.Call], imports: list[ast.stmt]) -> None:
    """Registrations and imports among the statements, nested ones too. Registrations are
    ``x.topic(...)`` as a decorator, or called with the handler as a statement
    (``router.topic("name")(handle)``). Expressions are not entered (cheaper than ast.walk).
    """
    for statement in body:
        if isinstance(statement, _DEFINITIONS):
            calls.extend(c for c in map(_topic_call, statement.decorator_list) if c is not None)
        elif isinstance(statement, ast.Expr | ast.Assign):
            if isinstance(statement.value, ast.Call):
                call = _topic_call(statement.value.func)
                if call is not None:
                    calls.append(call)
            continue
        elif isinstance(statement, _IMPORTS):
            imports.append(statement)
            continue
        for name in _BODIES:
            inner = getattr(statement, name, None)
            if inner:
                _scan(inner, calls, imports)


def _common_modules(statements: list[ast.stmt], common: Path) -> Iterator[Path]:
    """Files of ``workers/common`` that these statements import."""
    for node in statements:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            parts = name.split(".")
            if parts[0] != COMMON or len(parts) < 2:
                continue
            path = common.joinpath(*parts[1:])
            for candidate in (path.with_suffix(".py"), path / "__init__.py"):
                if candidate.is_file():
                    yield candidate


def _read(path: str | Path, shown: str, found: ServedTopics, common: Path | None,
          queue: list[tuple[Path, str]]) -> None:
    try:
        with open(path, "rb") as file:
            source = file.read()
    except OSError as exc:
        found.unclear.append(f"{shown}: cannot read ({exc.strerror})")
        return
    if b".topic" not in source and (common is None or COMMON.encode() not in source):
        return  # nothing to see: skip the parse
    try:
        tree = ast.parse(source, filename=shown)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        found.unclear.append(f"{shown}{f':{line}' if line else ''}: cannot parse "
                             f"({getattr(exc, 'msg', exc)}); fix the syntax error")
        return
    except RecursionError:
        found.unclear.append(f"{shown}: nested too deeply to parse")
        return
    constants = _constants(tree)
    calls: list[ast.Call] = []
    imports: list[ast.stmt] = []
    _scan(tree.body, calls, imports)
    for call in calls:
        argument = call.args[0] if call.args else next(
            (k.value for k in call.keywords if k.arg == "name"), None)
        topic = None
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            topic = argument.value
        elif isinstance(argument, ast.Name):
            topic = constants.get(argument.id)
        where = f"{shown}:{call.lineno}"
        if topic is None:
            found.unclear.append(f"{where}: cannot tell statically which topic this handler "
                                 "serves; pass it as a string literal or a module-level constant")
        else:
            found.topics.setdefault(topic, where)
    if common is not None and COMMON.encode() in source:
        queue.extend((module, f"workers/{COMMON}/{module.relative_to(common).as_posix()}")
                     for module in _common_modules(imports, common))


def served_topics(folder: Path, common: Path,
                  listing: dict[str, bool] | None = None) -> ServedTopics:
    """What the code in ``folder`` (and the ``common`` modules it imports) registers.

    ``listing`` (name -> is a folder) saves listing ``folder`` again."""
    if listing is None:
        with os.scandir(folder) as entries:
            listing = {entry.name: entry.is_dir() for entry in entries}
    found = ServedTopics()
    queue: list[tuple[Path, str]] = []
    for file, shown in _python_files(folder, listing):
        _read(file, shown, found, common, queue)
    seen: set[Path] = set()
    while queue:  # common modules: their own imports of common are followed too
        module, shown = queue.pop(0)
        if module not in seen:
            seen.add(module)
            _read(module, shown, found, common, queue)
    return found
