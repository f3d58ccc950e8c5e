"""The topics a worker's code serves, read statically (``ast``; nothing is imported or run).

A handler is registered as ``@anything.topic("name", ...)`` (a decorator) or
``anything.topic("name", ...)(function)``; the topic is a string literal or a module-level
constant (``TOPIC = "name"``). Every ``*.py`` of the worker's folder is read (not
``tests/``, not hidden folders), and the modules of ``workers/common`` it imports.

What a file registers is kept in :class:`TopicCache` (a file per repository under
``$XDG_CACHE_HOME/camunda-workers``, default ``~/.cache``, as :mod:`.._memo` keeps its
results), keyed by the file's size and content hash, so unchanged files are not parsed
again.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _memo

__all__ = ["ServedTopics", "TopicCache", "cache_file", "served_topics"]

_CACHE_VERSION = 2  # 2: keyed by content, not modification time

_SKIPPED_DIRS = frozenset({"tests", "test", "__pycache__", "node_modules"})
COMMON = "common"


@dataclass
class ServedTopics:
    """Topics found (topic -> ``file:line`` of its first registration) and what was unclear."""

    topics: dict[str, str] = field(default_factory=dict)
    unclear: list[str] = field(default_factory=list)  # "file:line: what"


def _python_files(folder: Path, listing: dict[str, bool]) -> Iterator[tuple[str, str]]:
    """(path, source: the path shown in messages) of each Python file; ``listing``:
    name -> is a folder."""
    base = os.fspath(folder)
    for name in sorted(listing):
        if listing[name]:
            if name not in _SKIPPED_DIRS and not name.startswith("."):
                for root, dirs, files in os.walk(os.path.join(base, name)):
                    dirs[:] = sorted(d for d in dirs
                                     if d not in _SKIPPED_DIRS and not d.startswith("."))
                    for file in sorted(files):
                        if file.endswith(".py") and not file.startswith("test_"):
                            path = os.path.join(root, file)
                            yield path, f"workers/{os.path.relpath(path, folder.parent)}"
        elif name.endswith(".py") and not name.startswith("test_"):
            yield os.path.join(base, name), f"workers/{folder.name}/{name}"


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


def _common_imports(statements: list[ast.stmt]) -> list[list[str]]:
    """Modules of ``workers/common`` these statements import, as parts after ``common``."""
    found: list[list[str]] = []
    for node in statements:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found += [name.split(".")[1:] for name in names
                  if name.split(".")[0] == COMMON and "." in name]
    return found


@dataclass
class _FileTopics:
    """What one file registers: (topic, line), problems, imports of ``common``."""

    topics: list[tuple[str, int]] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)
    imports: list[list[str]] = field(default_factory=list)


def _analyse(code: bytes, source: str) -> _FileTopics:
    found = _FileTopics()
    if b".topic" not in code and COMMON.encode() not in code:
        return found  # nothing to see: skip the parse
    try:
        tree = ast.parse(code, filename=source)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        found.unclear.append(f"{source}{f':{line}' if line else ''}: cannot parse "
                             f"({getattr(exc, 'msg', exc)}); fix the syntax error")
        return found
    except RecursionError:
        found.unclear.append(f"{source}: nested too deeply to parse")
        return found
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
        if topic is None:
            found.unclear.append(f"{source}:{call.lineno}: cannot tell statically which topic "
                                 "this handler serves; pass it as a string literal or a "
                                 "module-level constant")
        else:
            found.topics.append((topic, call.lineno))
    found.imports = _common_imports(imports)
    return found


def cache_file(repo: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the cache of ``repo`` lives (None: caches are off, ``WORKERS_NO_CACHE``)."""
    return _memo.cache_file(repo, "topics", environ) if _memo.caching(environ) else None


class TopicCache:
    """Per file (by path, size and content hash): what it registers."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.files: dict[str, list[Any]] = {}
        self.dirty = False
        if path is not None:
            with contextlib.suppress(OSError, ValueError, TypeError):
                data = json.loads(path.read_bytes())
                if data.get("version") == _CACHE_VERSION:
                    self.files = dict(data["files"])

    def analyse(self, path: str, source: str) -> _FileTopics:
        try:
            with open(path, "rb") as file:
                code = file.read()
        except OSError as exc:
            return _FileTopics(unclear=[f"{source}: cannot read ({exc.strerror})"])
        # by content: an edit that keeps the size and the modification time is seen too
        key = [len(code), hashlib.sha256(code).hexdigest(), source]
        cached = self.files.get(path)
        if cached is not None and cached[:3] == key:
            topics, unclear, imports = cached[3]
            return _FileTopics([(t, n) for t, n in topics], list(unclear), list(imports))
        found = _analyse(code, source)
        self.files[path] = [*key, [found.topics, found.unclear, found.imports]]
        self.dirty = True
        return found

    def save(self) -> None:
        """Write the cache if it changed; a cache that cannot be written is no error."""
        if self.path is None or not self.dirty:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"version": _CACHE_VERSION, "files": self.files}))
            os.replace(temporary, self.path)
        self.dirty = False


def served_topics(folder: Path, common: Path, listing: dict[str, bool] | None = None,
                  cache: TopicCache | None = None) -> ServedTopics:
    """What the code in ``folder`` (and the ``common`` modules it imports) registers.

    ``listing`` (name -> is a folder) saves listing ``folder`` again."""
    if listing is None:
        with os.scandir(folder) as entries:
            listing = {entry.name: entry.is_dir() for entry in entries}
    cache = cache or TopicCache(None)
    found = ServedTopics()
    queue = list(_python_files(folder, listing))
    seen: set[str] = set()
    while queue:  # the worker's files, then the common modules they import (and so on)
        path, source = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        result = cache.analyse(path, source)
        for topic, line in result.topics:
            found.topics.setdefault(topic, f"{source}:{line}")
        found.unclear += result.unclear
        for parts in result.imports:
            module = common.joinpath(*parts)
            for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                if candidate.is_file():
                    queue.append((str(candidate), f"workers/{COMMON}/"
                                  f"{candidate.relative_to(common).as_posix()}"))
    return found
