"""The ``workers`` Typer app and what its commands share: the options, the repository they
act on (resolved here, once) and the output helpers.

The commands live in one module per family, named as the library's subpackages
(``_swarm.py`` holds ``workers deploy``); :mod:`._main` maps every failure to a message and
an exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.text import Text

from ..project._paths import find_repo_root
from ..swarm._stack_name import DEFAULT_STACK

__all__ = [
    "AutoscaleOption", "DEFAULT_STACK", "FROM_CWD", "MonitoringOption", "PublishMonitoringOption",
    "RegistryOption", "RepoOption", "StackOption", "TagOption", "app", "emit", "progress", "say",
    "say_on_stderr", "warn",
]

app = typer.Typer(help="Run, scaffold and deploy camunda-workers.", no_args_is_help=True)
# soft_wrap: messages keep their lines (they name files and fields people grep for)
_console = Console(soft_wrap=True)
_err_console = Console(stderr=True, soft_wrap=True)


def say(*parts: Any, **style: Any) -> None:
    """What a command tells the user, on stdout (rich markup and tables)."""
    _console.print(*parts, **style)


def say_on_stderr(*parts: Any, **style: Any) -> None:
    """Warnings, notes and errors, on stderr."""
    _err_console.print(*parts, **style)


def emit(text: str, *, nl: bool = True) -> None:
    """Output for machines (JSON, a diff, a URL, log lines), written as it is."""
    typer.echo(text, nl=nl)


def warn(message: str) -> None:
    say_on_stderr(f"[yellow]warning:[/] {message}", highlight=False)


def progress(worker: str, line: str) -> None:
    say(Text.assemble((worker, "dim"), " ", line), highlight=False)


def terminal_width() -> int:
    return _console.width


def _repository(value: Path | None) -> Path:
    """``--repo``, or the repository found from the current directory: resolved once, here."""
    return find_repo_root() if value is None else value


# --repo not given: the option's callback finds the repository (a command always gets a Path)
FROM_CWD = cast(Path, None)
RepoOption = Annotated[Path, typer.Option(
    callback=_repository, show_default=False,
    help="Repository root (default: found from cwd).")]
StackOption = Annotated[str, typer.Option(envvar="STACK", help="Swarm stack name.")]
RegistryOption = Annotated[str | None, typer.Option(
    envvar="REGISTRY", help="Image registry (default: local).")]
TagOption = Annotated[str | None, typer.Option(
    envvar="TAG", help="Image tag (default: each worker's version).")]
MonitoringOption = Annotated[bool | None, typer.Option(
    "--monitoring/--no-monitoring",
    help="Add (or remove) the Prometheus and backlog exporter services; without either, "
         "the stack file keeps what it has.")]
AutoscaleOption = Annotated[bool | None, typer.Option(
    "--autoscale/--no-autoscale",
    help="Add (with the monitoring services) or remove the autoscaler service, which sets "
         "the replicas of workers with an \"autoscale\" policy; without either, as the "
         "stack file has it.")]
PublishMonitoringOption = Annotated[bool | None, typer.Option(
    "--publish-monitoring/--no-publish-monitoring",
    help="Publish Prometheus' port (host port MONITORING_PORT, default 9090, of its node; "
         "no authentication) or stop publishing it; without either, as the stack file has "
         "it (new: not published, see `workers prometheus-url`).")]


@app.callback()
def _root() -> None:
    """Run, scaffold and deploy camunda-workers."""
