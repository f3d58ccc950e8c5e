"""The one map from an exception to what the user reads and the exit code.

The library raises :class:`~workers_tooling.errors.ToolingError` with messages that name
the file, field or resource and the fix: Docker's errors are translated where the client is
made (:func:`~..swarm._docker_client.docker_client`), HTTP errors where each request is
sent, Copier's and git's around each Copier call (:func:`~..template._scaffold.copier_errors`)
and in :mod:`..git`. This map turns those, and what the Python runtime may still raise (a
file system error, a file that is not UTF-8, input nested too deeply), into one line of
advice each. Nothing reaches the user as a traceback (``WORKERS_DEBUG=1`` shows it).

Exit codes: 0 done; 1 a command failed, or a check found something to do; 2 invalid
input (a ``worker.json``, the stack file, an overlay, the command line); 3 something
needed is missing or does not answer (Docker, a Swarm, git, the Camunda engine);
70 an internal error (a bug); 130 interrupted.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import pydantic
import ruamel.yaml.error
import yaml

from camunda_workers import SpecError

from ..errors import ToolingError

__all__ = ["EXIT_BUG", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_UNAVAILABLE", "Failure",
           "failure_for"]

EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3
EXIT_BUG = 70
EXIT_INTERRUPTED = 130
_INSTALL = {"git": "apt-get install git", "docker": "apt-get install docker.io"}


@dataclass(frozen=True)
class Failure:
    message: str
    exit_code: int


def _oneline(text: object, limit: int = 400) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _os_error(exc: OSError) -> Failure:
    name = exc.filename if exc.filename is not None else ""
    if isinstance(exc, FileNotFoundError) and str(name) in _INSTALL:
        return Failure(f"{name} is not installed or not on PATH; install it "
                       f"({_INSTALL[str(name)]})", EXIT_UNAVAILABLE)
    if isinstance(exc, PermissionError):
        return Failure(f"{name}: permission denied; check its permissions and owner "
                       f"(ls -l {name})", 1)
    where = f"{name}: " if name else ""
    return Failure(f"{where}{exc.strerror or exc}", 1)


def _copier(exc: Exception) -> Failure | None:
    """Copier's own errors, and those of the git it runs through plumbum. Only looked
    for when Copier was imported (the commands that use it import it; others stay fast)."""
    if "copier" not in sys.modules:
        return None
    from copier.errors import CopierError, UnsafeTemplateError
    from plumbum.commands.processes import CommandNotFound, ProcessExecutionError

    if isinstance(exc, CommandNotFound):
        program = str(exc.program)
        return Failure(f"{program} is not installed or not on PATH; install it "
                       f"({_INSTALL.get(program, 'with your package manager')})",
                       EXIT_UNAVAILABLE)
    if isinstance(exc, ProcessExecutionError):
        failed: Any = exc
        command = " ".join(str(part) for part in failed.argv[:3])
        detail = _oneline(failed.stderr or failed.stdout or "")
        return Failure(f"`{command} ...` failed with exit code {failed.retcode}: {detail}", 1)
    if isinstance(exc, CopierError):
        hint = " (the template runs tasks: it needs --trust)" if isinstance(
            exc, UnsafeTemplateError) else ""
        return Failure(f"Copier: {_oneline(exc)}{hint}", 1)
    return None


def failure_for(exc: Exception) -> Failure:
    """What to tell the user about ``exc``, and the exit code."""
    if isinstance(exc, SpecError):
        return Failure(f"invalid worker specification\n{exc}", EXIT_INPUT)
    if isinstance(exc, ToolingError):
        return Failure(str(exc), exc.exit_code)
    if isinstance(exc, UnicodeDecodeError):
        return Failure(f"a file is not UTF-8 ({exc.reason} at byte {exc.start}); save it as "
                       "UTF-8", EXIT_INPUT)
    if isinstance(exc, RecursionError):
        return Failure("the input is nested too deeply to read; flatten it", EXIT_INPUT)
    copier_failure = _copier(exc)
    if copier_failure is not None:
        return copier_failure
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, ruamel.yaml.error.YAMLError | yaml.YAMLError):
        return Failure(f"not valid YAML: {_oneline(exc)}", EXIT_INPUT)
    if isinstance(exc, pydantic.ValidationError):
        return Failure(f"invalid input: {_oneline(exc)}", EXIT_INPUT)
    return Failure(f"internal error ({type(exc).__name__}: {_oneline(exc)}); this is a bug: "
                   "please report it with the command you ran (WORKERS_DEBUG=1 shows the "
                   "traceback)", EXIT_BUG)
