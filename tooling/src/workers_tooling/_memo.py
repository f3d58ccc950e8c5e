"""Results remembered between runs, keyed by the content of everything they were made from.

``workers list``, ``discover`` and a ``compose`` that changes nothing give, for the same
files and the same code, the same answer; recomputing it costs pydantic, PyYAML and
ruamel.yaml imports and a validation per ``worker.json`` (bench/README.md, "CLI startup").
A result is kept with a key: a hash of the content of every file it depends on (a whole
folder, such as ``workers/``: :func:`tree_fingerprint`), of the code that computed it
(:func:`code_fingerprint`: this package's and the SDK's sources, the versions of pydantic,
PyYAML and ruamel.yaml, Python's) and of the arguments. A key that differs in one byte
finds nothing, so a changed file is always seen; only successes are kept.

One small JSON file per repository and kind, beside the topics cache
(``$XDG_CACHE_HOME/camunda-workers``, default ``~/.cache``), written atomically; a file
that cannot be read or parsed is as good as none. ``WORKERS_NO_CACHE=1`` turns every
cache off (nothing read, nothing written).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

__all__ = ["cache_file", "caching", "code_fingerprint", "key_of", "recall", "remember",
           "tree_fingerprint"]

_FORMAT = 1
# Folders no command reads: tools' caches (a test run writes them).
_SKIPPED = frozenset({"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
# A folder bigger than this (e.g. a virtualenv inside a worker) is not worth hashing.
MAX_FILES = 20_000
MAX_BYTES = 64 * 1024 * 1024
# Files whose content names the version of a library whose behaviour a result depends on
# (top-level packages: finding them imports nothing).
_VERSION_FILES = (("pydantic", "version.py"), ("yaml", "__init__.py"),
                  ("ruamel", "yaml/__init__.py"))


def caching(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``WORKERS_NO_CACHE`` is set (to anything but ``0`` or nothing)."""
    value = (os.environ if environ is None else environ).get("WORKERS_NO_CACHE", "")
    return value in ("", "0")


def cache_file(repo: Path, kind: str, environ: Mapping[str, str] | None = None) -> Path:
    """Where the cache of ``kind`` for ``repo`` lives (outside the repository: nothing to
    ignore in git, nothing left in a Docker build context)."""
    environ = os.environ if environ is None else environ
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:16]
    return base / "camunda-workers" / f"{kind}-{digest}.json"


def _hash_file(digest: Any, path: str) -> int:
    with open(path, "rb") as file:
        data = file.read()
    digest.update(f"{len(data)}\0".encode())
    digest.update(data)
    return len(data)


class _Unusable(Exception):
    """The folder cannot serve as a key (see :func:`tree_fingerprint`)."""


def _hash_folder(digest: Any, folder: str, relative: str, counts: list[int]) -> None:
    """The folder's entries in name order; files by content, folders recursively."""
    with os.scandir(folder) as listing:
        entries = sorted((entry for entry in listing if not (
            entry.name in _SKIPPED and entry.is_dir(follow_symlinks=False))),
            key=lambda entry: entry.name)
    digest.update(f"d\0{relative}\0{len(entries)}\0".encode())
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            _hash_folder(digest, entry.path, f"{relative}/{entry.name}", counts)
            continue
        if entry.is_symlink() and entry.is_dir():
            raise _Unusable  # its content is elsewhere
        digest.update(f"f\0{entry.name}\0".encode())
        if entry.is_file():  # not a socket or a broken link: for those the name is enough
            counts[0] += 1
            counts[1] += _hash_file(digest, entry.path)
            if counts[0] > MAX_FILES or counts[1] > MAX_BYTES:
                raise _Unusable


def tree_fingerprint(root: Path) -> str | None:
    """A hash of every file under ``root`` (relative path and content) and of every folder's
    entries; None when it cannot serve as a key: a folder too big, a symbolic link to a
    folder (its content is elsewhere), a file that cannot be read."""
    digest = hashlib.sha256(b"tree\0")
    if not root.is_dir():
        return digest.hexdigest() + "-absent"
    try:
        _hash_folder(digest, os.fspath(root), ".", [0, 0])
    except (_Unusable, OSError, UnicodeError, RecursionError):
        return None
    return digest.hexdigest()


def _source_files(package: str) -> list[str]:
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    found = []
    for location in spec.submodule_search_locations:
        for folder, folders, names in os.walk(location):
            folders[:] = sorted(name for name in folders if name not in _SKIPPED)
            found += [os.path.join(folder, name) for name in sorted(names)
                      if name.endswith((".py", ".json"))]
    return found


@cache
def code_fingerprint() -> str:
    """A hash of the code a remembered result came from (this package, the SDK, the
    libraries that read and validate files, Python); changes with any of them."""
    digest = hashlib.sha256(f"{_FORMAT}\0{sys.version}\0".encode())
    for package in ("workers_tooling", "camunda_workers"):
        for path in _source_files(package):
            digest.update(path.encode() + b"\0")
            _hash_file(digest, path)
    for package, name in _VERSION_FILES:
        spec = find_spec(package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        path = os.path.join(locations[0], name) if locations else ""
        digest.update(f"{package}\0".encode())
        with contextlib.suppress(OSError):
            _hash_file(digest, path)
    return digest.hexdigest()


def recall(repo: Path, kind: str, key: str) -> Any:
    """The result kept for ``key``, or None (none kept, another key, unreadable, off)."""
    if not caching():
        return None
    try:
        data = json.loads(cache_file(repo, kind).read_bytes())
        if data["format"] == _FORMAT and data["key"] == key:
            return data["value"]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        pass
    return None


def remember(repo: Path, kind: str, key: str, value: Any) -> None:
    """Keep ``value`` for ``key`` (replacing what was kept); failing to is no error."""
    if not caching():
        return
    path = cache_file(repo, kind)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps({"format": _FORMAT, "key": key, "value": value}),
                                 encoding="utf-8")
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink()


def key_of(*parts: Any) -> str:
    """One key from the parts (fingerprints, arguments), in order."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
