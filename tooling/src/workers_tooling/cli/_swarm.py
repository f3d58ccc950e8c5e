"""``workers build``, ``deploy``, ``status``, ``db-upgrade``, ``logs``, ``scale``: Docker and
Swarm (:mod:`..swarm`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ._app import app, emit, progress, say, say_on_stderr, terminal_width, warn, warn_plain
from ._options import (
    DEFAULT_STACK,
    FROM_CWD,
    AllWorkersOption,
    AutoscaleOption,
    BaseImageOption,
    MonitoringOption,
    PublishMonitoringOption,
    QuietBuildOption,
    RegistryOption,
    RepoOption,
    StackFileOption,
    StackOption,
    TagOption,
    WorkerNamesArgument,
)


@app.command()
def build(
    names: WorkerNamesArgument = None,
    all_workers: AllWorkersOption = False,
    push: Annotated[bool, typer.Option("--push", help="Push to REGISTRY.")] = False,
    base_image: BaseImageOption = None,
    registry: RegistryOption = None,
    tag: TagOption = None,
    quiet: QuietBuildOption = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Build worker images with the Docker SDK (REGISTRY/workers-NAME:TAG, latest, commit),
    each line of the builds shown as it comes: [NAME] Step 3/9 : ... (--quiet: only the
    images built)."""
    from ..swarm._images import build_images
    with _failed_step_shown(quiet):
        images = build_images(repo, None if all_workers else names,
                              registry=registry, tag=tag, base_image=base_image, push=push,
                              progress=_nothing if quiet else progress, warn=warn)
    for image in images:
        say(f"[green]built[/] {image.worker}: {', '.join(image.tags)} "
            f"({image.size_bytes / 1e6:.0f} MB, {image.seconds:.1f}s)")


def _nothing(source: str, line: str) -> None:
    """The build lines of a quiet command."""


@contextmanager
def _failed_step_shown(quiet: bool) -> Iterator[None]:
    """A quiet build's lines were not shown as they came: when it fails, those of its
    failing step are, on stderr, before the error (which names the image and the step)."""
    from ..errors import BuildFailed
    try:
        yield
    except BuildFailed as exc:
        if quiet:
            for line in exc.output:
                say_on_stderr(f"  {line}", highlight=False, markup=False)
        raise


@app.command()
def deploy(
    env: Annotated[str | None, typer.Option("--env", envvar="ENVIRONMENT",
                                            help="Overlay, e.g. production.")] = None,
    stack: StackOption = DEFAULT_STACK,
    push: Annotated[bool | None, typer.Option(
        "--push/--no-push", help="Push the images to REGISTRY (default: when REGISTRY is set)."),
    ] = None,
    no_build: Annotated[bool, typer.Option("--no-build", help="Use the images as they are.")
                        ] = False,
    base_image: BaseImageOption = None,
    stack_file: StackFileOption = None,
    registry: RegistryOption = None,
    tag: TagOption = None,
    monitoring: MonitoringOption = None,
    publish_monitoring: PublishMonitoringOption = None,
    autoscale: AutoscaleOption = None,
    detach: Annotated[bool, typer.Option(
        "--detach", help="Return once Swarm has the stack; do not wait for the services.")
    ] = False,
    timeout: Annotated[float, typer.Option(
        min=1, help="Seconds to wait for the services to converge.")] = 300.0,
    quiet: QuietBuildOption = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Render the stack (the stack file stays as it is), build (and push) the images,
    `docker stack deploy` them, and follow the services until each runs its desired
    replicas (exit 1 naming those that do not, and why; --detach: do not wait).

    On a Swarm of several nodes the images must come from a registry every node reaches
    (REGISTRY=HOST:PORT); deploy refuses images that are only local. Without a registry
    and ENGINE_IMAGE, the engine runs local/camunda-engine:camunda-7.24, found or built.
    """
    from ..swarm import _deploy
    with _failed_step_shown(quiet):
        result = _deploy.deploy(repo, stack=stack, environment=env, push=push,
                                build=not no_build, base_image=base_image,
                                stack_file=stack_file, registry=registry, tag=tag,
                                monitoring=monitoring, publish_monitoring=publish_monitoring,
                                autoscale=autoscale, progress=progress,
                                build_progress=_nothing if quiet else None, warn=warn,
                                follow=not detach, timeout=timeout)
    if detach:
        say(result.output.strip(), highlight=False, markup=False)
    nodes = f" on {result.nodes} nodes" if result.nodes > 1 else ""
    state = "deployed (not followed)" if detach else "deployed and converged"
    say(f"[green]{state}[/] stack {result.stack} "
        f"({len(result.compose.workers)} workers{nodes}, {result.rendered.name}, "
        f"images {result.names.repository('NAME')}:{result.names.tag or 'VERSION'}); "
        "`workers status` shows it", highlight=False)
    if result.monitoring_published:
        say("Prometheus: http://MANAGER-NODE:${MONITORING_PORT:-9090} (host port of "
            "the node that runs the monitoring service)", highlight=False,
            markup=False)
    elif result.monitoring:
        say("Prometheus: not published; `workers prometheus-url` on its node gives "
            "its address (docs/production.md, Monitoring and ports)", highlight=False, markup=False)


@app.command()
def status(stack: StackOption = DEFAULT_STACK) -> None:
    """Per service: running/desired replicas, the node and state of each, image, update
    state, and the error that keeps it short (if it is). Exit 1 if a service is below
    its desired count."""
    from ..swarm._status import stack_status, status_lines
    services = stack_status(stack)
    say(f"stack {stack}: service, running/desired, update, image", style="bold",
        highlight=False)
    for line in status_lines(services, stack, terminal_width()):
        say(line, highlight=False, markup=False)
    short = [service.short_name(stack) for service in services
             if service.running < service.desired]
    if short:
        say_on_stderr(f"below the desired count: {', '.join(short)}", highlight=False)
        raise typer.Exit(1)


@app.command("db-upgrade")
def db_upgrade(
    stack: StackOption = DEFAULT_STACK,
    jar: Annotated[Path, typer.Option(help="The new engine's jar (its upgrade scripts).")] = (
        Path("engine/target/engine-camunda.jar")),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would run.")] = False,
) -> None:
    """Run the engine's SQL upgrade scripts on the stack's database (before the new engine
    starts; stop the old one first), all in one transaction."""
    from ..swarm._db_upgrade import stack_database_sql, upgrade_database

    plan = upgrade_database(jar, stack_database_sql(stack), dry_run=dry_run)
    if not plan.scripts:
        say(f"the database holds schema {plan.current}; the engine of {jar} needs "
            f"{plan.target}: nothing to run")
        return
    verb = "ran" if plan.applied else "would run"
    say(f"schema {plan.current} -> {plan.target}: {verb} {len(plan.scripts)} "
        f"upgrade script(s) from {jar} in one transaction:")
    for script in plan.scripts:
        say(f"  {script}")


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Worker or service name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following.")] = False,
    since: Annotated[str | None, typer.Option(help="e.g. 10m or an RFC 3339 time.")] = None,
    tail: Annotated[int | None, typer.Option(help="Last N lines per replica.")] = None,
    stack: StackOption = DEFAULT_STACK,
) -> None:
    """Log lines of every replica of a worker's service, gathered from every node."""
    from ..swarm._logs import service_logs
    for line in service_logs(name, stack=stack, follow=follow, since=since, tail=tail,
                             warn=warn):
        emit(line)


@app.command()
def scale(
    assignments: Annotated[list[str], typer.Argument(
        help="NAME=N, e.g. hello-world=3; with --bounds NAME=MIN..MAX.")],
    bounds: Annotated[bool, typer.Option(
        "--bounds", help="Change the min/max replicas of autoscaled workers (their "
        "worker.json; `workers deploy` applies them).")] = False,
    stack: StackOption = DEFAULT_STACK,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Set the replicas of services; a worker's are written to its worker.json too, so the
    next deploy keeps them (commit it). An autoscaled worker's replicas belong to the
    autoscaler: --bounds changes its min/max instead."""
    if bounds:
        from ..autoscale import set_bounds
        from ..stackfile._compose import compose_stack
        for path in set_bounds(assignments, repo):
            say(f"{path}: autoscale bounds written; `workers deploy` applies them; commit it",
                highlight=False, markup=False)
        compose_stack(repo)
        return
    from ..swarm import _scale
    result = _scale.scale(assignments, stack=stack, repo=repo)
    for name, count in result.replicas.items():
        say(f"scaled {name} to {count}")
    for path in result.written:
        say(f"{path}: replicas written (and the stack file updated); commit them")
    for warning in result.warnings:
        warn_plain(warning)
