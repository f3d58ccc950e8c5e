"""Errors of the tooling; the CLI maps each to an exit code and a message in one place.

Exit codes (``workers_tooling.cli``): 1 a command failed or a check found something to
do, 2 invalid input (:class:`InputError`: a ``worker.json``, the stack file, an overlay,
the command line), 3 something needed is missing or does not answer
(:class:`Unavailable`: the Docker engine, a Swarm, git, the Camunda engine).

Every error the library raises is one of these: the modules that call Docker, git, Copier
or an HTTP server translate those errors where they call them.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BuildFailed", "DockerCommandTimeout", "DockerRefused", "DockerUnavailable",
    "EngineNotReachable", "GitMissing", "InputError", "LocalImagesOnMultiNodeSwarm",
    "NoTemplateVersion", "NotASwarm", "NotConverged", "TemplateVersionError", "ToolingError",
    "Unavailable", "UntrustedTemplate", "WorkerValidationError",
]


class ToolingError(Exception):
    """A problem the user can fix; the message says how. Exit code 1."""

    exit_code = 1


class InputError(ToolingError):
    """A file or argument is not what it must be; the message names it and the fix. Exit 2."""

    exit_code = 2


class Unavailable(ToolingError):
    """Something the command needs is missing or does not answer. Exit code 3."""

    exit_code = 3


class EngineNotReachable(Unavailable):
    """No engine answered at the configured URL."""


class GitMissing(Unavailable):
    """git is not installed (:mod:`workers_tooling.git` runs it)."""


class DockerUnavailable(Unavailable):
    """No Docker engine answers."""


class NotASwarm(Unavailable):
    """The engine is not a Swarm manager."""


class DockerRefused(ToolingError):
    """The Docker engine answered a request with an error."""


class DockerCommandTimeout(ToolingError):
    """A docker CLI command did not finish in time."""


class BuildFailed(ToolingError):
    """A worker's image did not build; the message names the worker and the failing step,
    ``output`` holds the last lines that step printed (for callers that did not show the
    build's lines as they came)."""

    def __init__(self, message: str, output: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.output = tuple(output)


class LocalImagesOnMultiNodeSwarm(ToolingError):
    """A Swarm of several nodes and worker images no registry serves."""


class NotConverged(ToolingError):
    """Services of a deployed stack did not reach their desired state; the message names
    each, its running/desired count and why."""


class TemplateVersionError(ToolingError):
    """The template's version or its tags are inconsistent; the message says the fix."""


class NoTemplateVersion(TemplateVersionError):
    """A worker records no template version, or one its template does not have."""


class UntrustedTemplate(ToolingError):
    """A template that is not this repository's would run code, and ``--trust`` was not
    given. Exit code 1."""


class WorkerValidationError(InputError):
    """The worker declarations have problems; ``problems`` lists every one of them.

    Each line reads ``workers/NAME/worker.json: field.path: message`` and says the fix.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the worker declarations:"
        super().__init__("\n".join([header, *self.problems]))
