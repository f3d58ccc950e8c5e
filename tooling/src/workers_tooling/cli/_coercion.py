"""typer's coercion of option values, built only for a value that needs it.

typer (0.29) coerces each option's value through a pydantic ``TypeAdapter`` it builds on
the first parse, and so imports pydantic: about 0.1 s of the 0.25 s a command may take
(bench/README.md, "CLI startup"). Most values need none of it: an option left out
(``None``), a flag (a bool), text for a ``str`` option, a path for a ``Path`` option that
asks for no checks. Those are returned as typer returns them; any other value goes through
typer's own coercion, built then. The change is typer's, for the whole process (any typer
app in it gets the same values, later). With a typer whose internals differ from what this
expects, :func:`defer_typer_coercion` changes nothing (the commands work, only slower;
``tests/tooling/cli/test_cli_imports.py`` then fails).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["defer_typer_coercion", "plain_value"]

_NOT_PLAIN = object()
# A Path option with these settings (typer's defaults) checks no more than readability.
_NO_PATH_CHECKS = {"exists": False, "file_okay": True, "dir_okay": True, "writable": False,
                   "resolve_path": False, "allow_dash": False, "path_type": None}


def plain_value(annotation: Any, parameter_info: Any, value: Any) -> Any:
    """``value`` as typer's coercion would return it, when that needs no pydantic; else
    ``_NOT_PLAIN``."""
    if getattr(parameter_info, "parser", None) is not None:
        return _NOT_PLAIN
    if annotation is str and type(value) is str:
        return value
    if annotation is bool and type(value) is bool:
        return value
    if (annotation is Path and type(value) is str and value and "\0" not in value
            and all(getattr(parameter_info, name, None) == default
                    for name, default in _NO_PATH_CHECKS.items())):
        # typer refuses an existing path that cannot be read: left to typer's message
        if getattr(parameter_info, "readable", True) and os.path.exists(value) and \
                not os.access(value, os.R_OK):
            return _NOT_PLAIN
        return Path(value)
    return _NOT_PLAIN


class _Deferred:
    """One option's coercion: plain values here, the rest by typer's, built on first use."""

    def __init__(self, descriptor: Any, build: Any) -> None:
        self._descriptor = descriptor
        self._build = build
        self._built: Any = None

    def _typer(self) -> Any:
        if self._built is None:
            self._built = self._build(self._descriptor)
        return self._built

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:  # as typer's RuntimeParam.coerce: nothing given stays nothing
            return () if param.multiple or param.nargs == -1 else None
        plain = plain_value(self._descriptor.annotation, self._descriptor.parameter_info,
                            value)
        if plain is not _NOT_PLAIN:
            return plain
        return self._typer().coerce(value, param=param, ctx=ctx)

    def __getattr__(self, name: str) -> Any:  # whatever else typer asks of it
        return getattr(self._typer(), name)


def defer_typer_coercion() -> bool:
    """Make typer build its coercion of an option only for a value that needs it; False
    (and nothing changed) if this typer does not work as expected."""
    try:
        from typer import core
        from typer._coercion import RuntimeParam
    except ImportError:
        return False
    build = getattr(core, "build_runtime_param", None)
    if build is None or getattr(build, "deferred", False):
        return build is not None
    if getattr(RuntimeParam, "coerce", None) is None:
        return False

    def deferred(descriptor: Any) -> Any:
        return _Deferred(descriptor, build)

    deferred.deferred = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", deferred)  # noqa: B010 (not exported by typer)
    return True
