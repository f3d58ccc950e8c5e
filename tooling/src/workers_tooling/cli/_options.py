"""The options and arguments the ``workers`` commands share, and the repository they act on
(resolved here, once, by ``--repo``'s callback)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

from ..project._paths import find_repo_root
from ..swarm._stack_name import DEFAULT_STACK

__all__ = [
    "DEFAULT_STACK", "ENGINE_URL", "FROM_CWD", "AllWorkersOption", "AutoscaleOption",
    "BaseImageOption", "EngineUrlOption", "MonitoringOption", "PublishMonitoringOption",
    "QuietBuildOption", "RegistryOption", "RepoOption", "StackFileOption", "StackOption",
    "TagOption", "WorkerNameArgument", "WorkerNamesArgument",
]


def _repository(value: Path | None) -> Path:
    """``--repo``, or the repository found from the current directory: resolved once, here."""
    return find_repo_root() if value is None else value


# --repo not given: the option's callback finds the repository (a command always gets a Path)
FROM_CWD = cast(Path, None)
RepoOption = Annotated[Path, typer.Option(
    callback=_repository, show_default=False,
    help="Repository root (default: found from cwd).")]
StackOption = Annotated[str, typer.Option(envvar="STACK", help="Swarm stack name.")]
StackFileOption = Annotated[Path | None, typer.Option(
    help="Stack file (default: docker-compose.swarm.yml in the repository).")]
ENGINE_URL = "http://localhost:8080/engine-rest"
EngineUrlOption = Annotated[str, typer.Option(envvar="CAMUNDA_URL", help="Engine REST URL.")]
WorkerNameArgument = Annotated[str, typer.Argument(help="Worker name.")]
WorkerNamesArgument = Annotated[list[str] | None, typer.Argument(
    help="Workers (default: all).")]
AllWorkersOption = Annotated[bool, typer.Option("--all", help="Every worker.")]
BaseImageOption = Annotated[str | None, typer.Option(
    envvar="BASE_IMAGE", help="Base image for the Dockerfiles.")]
RegistryOption = Annotated[str | None, typer.Option(
    envvar="REGISTRY", help="Image registry (default: local).")]
TagOption = Annotated[str | None, typer.Option(
    envvar="TAG", help="Image tag (default: each worker's version).")]
QuietBuildOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Do not show the images' build steps (the output of a step that "
    "fails is still shown).")]
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
