"""The ``workers`` command: thin commands over library functions.

Errors are mapped to exit codes and messages in one place, :func:`main`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from ._paths import find_repo_root
from ._stack_name import DEFAULT_STACK
from .errors import InputError, ToolingError

app = typer.Typer(help="Run, scaffold and deploy camunda-workers.", no_args_is_help=True)
# soft_wrap: messages keep their lines (they name files and fields people grep for)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

RepoOption = Annotated[Path | None, typer.Option(help="Repository root (default: found from cwd).")]
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


@app.command()
def demo(
    instances: Annotated[int, typer.Option(min=1, help="Process instances to start.")] = 10,
    engine_url: Annotated[str, typer.Option(envvar="CAMUNDA_URL", help="Engine REST URL.")] = (
        "http://localhost:8080/engine-rest"),
    repo: RepoOption = None,
) -> None:
    """Deploy the demo process, run hello-world as a local process, report what happened."""
    from ._demo import run_demo
    report = run_demo(repo=repo or find_repo_root(), engine_url=engine_url, instances=instances)
    console.print(f"[bold]engine[/] {report.engine_url}")
    console.print(f"started {report.started} hello_world instances; "
                  f"[green]{report.completed} completed[/] in {report.seconds:.1f}s "
                  f"by workers/hello-world (exit code {report.worker_exit_code} after SIGTERM)")
    for greeting in report.greetings:
        console.print(f"  greeting = {greeting!r}")


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="Worker name.")],
    reload: Annotated[bool, typer.Option(
        "--reload", help="Restart on a change of its files or workers/common.")] = False,
    engine_url: Annotated[str | None, typer.Option(
        envvar="CAMUNDA_URL", help="Engine REST URL (default: the local engine, started "
        "if needed).")] = None,
    repo: RepoOption = None,
) -> None:
    """Run one worker as a local process, as its image runs it; a line per task."""
    from ._run import run_worker

    code = run_worker(repo or find_repo_root(), name, engine_url=engine_url, reload=reload,
                      say=lambda line: err_console.print(
                          Text.assemble(("workers run: ", "bold"), line), highlight=False))
    raise typer.Exit(code)


@app.command("list")
def list_workers(repo: RepoOption = None) -> None:
    """Print a table of the workers (validating every worker.json)."""
    from rich.table import Table

    from ._discovery import discover_workers, worker_summary
    table = Table("name", "port", "topics", "replicas", "version", "Dockerfile")
    for worker in discover_workers(repo or find_repo_root()):
        row = worker_summary(worker)
        table.add_row(row["name"], str(row["port"]), ", ".join(row["topics"]),
                      str(row["replicas"]), row["version"],
                      "custom" if row["dockerfile"] else "shared")
    console.print(table)


@app.command()
def discover(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    repo: RepoOption = None,
) -> None:
    """Find and validate every workers/*/worker.json; all problems are listed at once."""
    from ._discovery import discover_workers, worker_summary
    workers = discover_workers(repo or find_repo_root())
    if as_json:
        typer.echo(json.dumps([worker_summary(worker) for worker in workers], indent=2))
        return
    for worker in workers:
        typer.echo(f"{worker.name}  port {worker.spec.port}  {worker.path}")
    typer.echo(f"{len(workers)} worker(s), all valid")


@app.command()
def schema(
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if stale.")] = False,
    repo: RepoOption = None,
) -> None:
    """Write workers/worker.schema.json (JSON Schema of worker.json, for editors)."""
    from ._schema import write_schema
    result = write_schema(repo or find_repo_root(), check=check)
    if check and result.changed:
        typer.echo(f"{result.path} is stale: run `workers schema`", err=True)
        raise typer.Exit(1)
    typer.echo(f"{result.path}: {'written' if result.written else 'up to date'}")


@app.command()
def compose(
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; print the diff and exit 1 if the file is stale.")] = False,
    env: Annotated[str | None, typer.Option(
        help="Apply the overlay deploy/ENV.yml, e.g. production.")] = None,
    stack_file: Annotated[Path | None, typer.Option(
        help="Stack file (default: docker-compose.swarm.yml in the repository).")] = None,
    output: Annotated[Path | None, typer.Option(
        help="Write the result here and leave the stack file as it is.")] = None,
    monitoring: MonitoringOption = None,
    publish_monitoring: PublishMonitoringOption = None,
    autoscale: AutoscaleOption = None,
    repo: RepoOption = None,
) -> None:
    """Add, update and remove the worker services of the Swarm stack file, keeping the rest.

    Images are ${REGISTRY:-local}/workers-NAME:${TAG:-VERSION}: `docker stack deploy` (and
    `workers deploy`) fill in REGISTRY and TAG."""
    from ._compose import compose_stack
    result = compose_stack(repo or find_repo_root(), stack_file=stack_file, environment=env,
                           output=output, monitoring=monitoring,
                           publish_monitoring=publish_monitoring, autoscale=autoscale,
                           check=check)
    if result.method != "splice":
        err_console.print(f"note: {result.reason}: ruamel.yaml rewrote the whole file "
                          "(formatting outside the worker services may be normalised)",
                          highlight=False, markup=False)
    target = result.output or result.stack_file
    if check:
        if result.changed:
            typer.echo(result.diff, nl=False)
            typer.echo(f"{target} is stale: run `workers compose`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{target}: up to date")
        return
    for label, names in (("added", result.added), ("updated", result.updated),
                         ("removed", result.removed)):
        if names:
            typer.echo(f"{label}: {', '.join(names)}")
    state = "written" if result.written else "unchanged"
    typer.echo(f"{target}: {state} ({len(result.workers)} worker services)")


def next_steps(name: str) -> list[str]:
    """What to type after `workers new NAME` (and `make new-worker`)."""
    return ["Next:",
            f"  workers run {name} --reload                 # run it against the local engine",
            f"  (cd workers/{name} && ../../.venv/bin/pytest -q)  # its own tests",
            "  workers deploy --env local                  # the stack on the local Swarm"]


def _warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False)


VersionOption = Annotated[str | None, typer.Option(
    "--vcs-ref", "--version", help="Template version, e.g. v0.3.0 (default: the latest).")]
TrustOption = Annotated[bool, typer.Option(
    "--trust", help="Let a template other than this repository's run its tasks, migrations "
                    "and Jinja extensions (code, run as you): check it first.")]


@app.command()
def new(
    name: Annotated[str | None, typer.Argument(help="Worker name, kebab-case.")] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Topic it serves (repeat).")] = None,
    port: Annotated[int | None, typer.Option(help="Metrics port (default: next free).")] = None,
    description: Annotated[str | None, typer.Option(help="One line about it.")] = None,
    max_tasks: Annotated[int | None, typer.Option(help="Handlers in flight.")] = None,
    lock_duration: Annotated[int | None, typer.Option(help="Lock per task, ms.")] = None,
    replicas: Annotated[int | None, typer.Option(help="Swarm replicas.")] = None,
    dockerfile: Annotated[bool, typer.Option("--dockerfile", help="Own Dockerfile.")] = False,
    api: Annotated[str | None, typer.Option(
        help="Handler API: native (default) or py3 (handlers written for "
             "camunda-external-task-client-python3, run by camunda_workers.compat).")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="Ask every question.")] = False,
    template: Annotated[str | None, typer.Option(
        help="Template path or git URL (default: this repository).")] = None,
    vcs_ref: VersionOption = None,
    trust: TrustOption = False,
    repo: RepoOption = None,
) -> None:
    """Create workers/NAME from the Copier template (its latest version, recorded)."""
    from ._answers import read_answers
    given = {"name": name, "topics": topic or None, "port": port, "description": description,
             "max_tasks": max_tasks, "lock_duration": lock_duration, "replicas": replicas,
             "custom_dockerfile": dockerfile or None, "api": api}
    answers = {key: value for key, value in given.items() if value is not None}
    if not interactive and ("name" not in answers or "topics" not in answers):
        raise ToolingError("give NAME and at least one --topic, or use --interactive")
    from ._scaffold import new_worker  # Copier loads slowly: only for these commands

    folder = new_worker(repo or find_repo_root(), answers=answers, template=template,
                        vcs_ref=vcs_ref, interactive=interactive, trust=trust, warn=_warn)
    version = read_answers(folder).get("_commit")
    console.print(f"[green]created[/] {folder} (template {version})", highlight=False)
    for line in next_steps(folder.name):
        console.print(line, highlight=False, markup=False)


@app.command()
def update(
    names: Annotated[list[str] | None, typer.Argument(help="Workers (default: all).")] = None,
    all_workers: Annotated[bool, typer.Option("--all", help="Every worker.")] = False,
    vcs_ref: VersionOption = None,
    trust: TrustOption = False,
    repo: RepoOption = None,
) -> None:
    """Re-apply the template (3-way merge) and report per worker; exit 1 on conflicts.

    A worker whose answers file names a template other than this repository's stops the
    update if that template runs code (tasks, migrations), unless --trust."""
    from ._scaffold import WorkerTemplate, update_workers

    def announce(worker: WorkerTemplate, target: str) -> None:
        console.print(f"updating {worker.name} ({worker.recorded} -> {target}) from "
                      f"{worker.describe()}", highlight=False, markup=False)

    results = update_workers(repo or find_repo_root(), None if all_workers else names,
                             vcs_ref=vcs_ref, trust=trust, warn=_warn, announce=announce)
    for result in results:
        change = f"{result.from_commit} -> {result.to_commit}"
        if result.status == "conflicts":
            console.print(f"[red]conflicts[/] {result.name} ({change}): "
                          f"{', '.join(result.conflicts)}", highlight=False)
        elif result.status == "updated":
            console.print(f"[green]updated[/] {result.name} ({change})", highlight=False)
        else:
            console.print(f"current {result.name} ({result.to_commit})", highlight=False)
    if any(result.status == "conflicts" for result in results):
        raise typer.Exit(1)


@app.command("check-update")
def check_update(
    names: Annotated[list[str] | None, typer.Argument(help="Workers (default: all).")] = None,
    repo: RepoOption = None,
) -> None:
    """Say which workers are behind the template, and which answers a worker.json no longer
    agrees with (a hand-edited port: the README still shows the answer); exit 2 if any."""
    from ._scaffold import check_updates

    checks = check_updates(repo or find_repo_root(), names, warn=_warn)
    for check in checks:
        if check.source is not None:
            _warn(f"workers/{check.name}/.copier-answers.yml: _src_path is {check.source!r} "
                  "(not this repository's template); `workers update` runs its tasks and "
                  "migrations only with --trust")
        if check.behind:
            console.print(f"[yellow]behind[/] {check.name}: {check.current} -> {check.latest}",
                          highlight=False)
        else:
            console.print(f"current {check.name}: {check.current}", highlight=False)
        for drift in check.drift:
            console.print(f"differs {drift.message()}", highlight=False, markup=False)
    if any(check.behind or check.drift for check in checks):
        raise typer.Exit(2)


@app.command()
def adopt(
    name: Annotated[str, typer.Argument(help="Worker name.")],
    version: Annotated[str | None, typer.Argument(
        help="Template version its files came from (default: the closest one).")] = None,
    trust: TrustOption = False,
    repo: RepoOption = None,
) -> None:
    """Record the template version a worker was made from (when its answers file names one
    the template does not have, e.g. after a squash); then commit it and `workers update`.

    Only the version is recorded: answers that worker.json disagrees with (a hand-edited
    port) stay, and `workers check-update` names them with the fix."""
    from ._adopt import adopt_worker

    result = adopt_worker(repo or find_repo_root(), name, version, trust=trust, warn=_warn)
    for tag, lines in result.distances.items():
        console.print(f"  {tag}: {lines} line(s) differ from workers/{name}", highlight=False)
    console.print(f"[green]recorded[/] {result.version} in workers/{name}/.copier-answers.yml "
                  f"(was {result.previous or 'nothing'})", highlight=False)
    then = ("it is current" if result.version == result.latest else
            f"then `workers update {name}` brings {result.latest}")
    console.print(f"commit it; {then}", highlight=False)


@app.command("template-version")
def template_version(
    check: Annotated[bool, typer.Option(
        "--check", help="Exit 1 if a release step is missing (CHANGELOG entry, version bump).")
    ] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only tags created or moved, and problems.")] = False,
    repo: RepoOption = None,
) -> None:
    """Print the template version (copier.yml) and the vX.Y.Z tags derived from the history
    (creating or moving the ones that are missing or stale)."""
    from ._template_tags import sync_template_tags
    from ._template_versions import VERSION_KEY
    versions = sync_template_tags(repo or find_repo_root())
    if not quiet:
        console.print(f"template version {versions.current} (copier.yml {VERSION_KEY})",
                      highlight=False)
    for tag in versions.tags:
        if not quiet or tag.state != "present":
            console.print(f"  {tag.name}  {tag.commit[:12]}  {tag.state}", highlight=False)
    for message in versions.warnings:
        _warn(message)
    for message in versions.release_problems:
        _warn(message)
    if check and versions.release_problems:
        raise typer.Exit(1)


StackOption = Annotated[str, typer.Option(envvar="STACK", help="Swarm stack name.")]
RegistryOption = Annotated[str | None, typer.Option(
    envvar="REGISTRY", help="Image registry (default: local).")]
TagOption = Annotated[str | None, typer.Option(
    envvar="TAG", help="Image tag (default: each worker's version).")]


def _progress(worker: str, line: str) -> None:
    console.print(Text.assemble((worker, "dim"), " ", line), highlight=False)


@app.command()
def build(
    names: Annotated[list[str] | None, typer.Argument(help="Workers (default: all).")] = None,
    all_workers: Annotated[bool, typer.Option("--all", help="Every worker.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push to REGISTRY.")] = False,
    base_image: Annotated[str | None, typer.Option(envvar="BASE_IMAGE",
                                                   help="Base image for the Dockerfiles.")] = None,
    registry: RegistryOption = None,
    tag: TagOption = None,
    repo: RepoOption = None,
) -> None:
    """Build worker images with the Docker SDK (REGISTRY/workers-NAME:TAG, latest, commit)."""
    from ._images import build_images
    images = build_images(repo or find_repo_root(), None if all_workers else names,
                          registry=registry, tag=tag, base_image=base_image, push=push,
                          progress=_progress)
    for image in images:
        console.print(f"[green]built[/] {image.worker}: {', '.join(image.tags)} "
                      f"({image.size_bytes / 1e6:.0f} MB, {image.seconds:.1f}s)")


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
    base_image: Annotated[str | None, typer.Option(envvar="BASE_IMAGE",
                                                   help="Base image for the Dockerfiles.")] = None,
    stack_file: Annotated[Path | None, typer.Option(
        help="Stack file (default: docker-compose.swarm.yml).")] = None,
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
    repo: RepoOption = None,
) -> None:
    """Render the stack (the stack file stays as it is), build (and push) the images,
    `docker stack deploy` them, and follow the services until each runs its desired
    replicas (exit 1 naming those that do not, and why; --detach: do not wait).

    On a Swarm of several nodes the images must come from a registry every node reaches
    (REGISTRY=HOST:PORT); deploy refuses images that are only local. Without a registry
    and ENGINE_IMAGE, the engine runs local/camunda-engine:camunda-7.24, found or built.
    """
    from ._deploy import deploy as swarm_deploy
    result = swarm_deploy(repo or find_repo_root(), stack=stack, environment=env, push=push,
                          build=not no_build, base_image=base_image, stack_file=stack_file,
                          registry=registry, tag=tag, monitoring=monitoring,
                          publish_monitoring=publish_monitoring, autoscale=autoscale,
                          progress=_progress,
                          warn=_warn, follow=not detach, timeout=timeout)
    if detach:
        console.print(result.output.strip(), highlight=False, markup=False)
    nodes = f" on {result.nodes} nodes" if result.nodes > 1 else ""
    state = "deployed (not followed)" if detach else "deployed and converged"
    console.print(f"[green]{state}[/] stack {result.stack} "
                  f"({len(result.compose.workers)} workers{nodes}, {result.rendered.name}, "
                  f"images {result.names.repository('NAME')}:{result.names.tag or 'VERSION'}); "
                  "`workers status` shows it", highlight=False)
    if result.monitoring_published:
        console.print("Prometheus: http://MANAGER-NODE:${MONITORING_PORT:-9090} (host port of "
                      "the node that runs the monitoring service)", highlight=False,
                      markup=False)
    elif result.monitoring:
        console.print("Prometheus: not published; `workers prometheus-url` on its node gives "
                      "its address (README.md, Security)", highlight=False, markup=False)


@app.command()
def status(stack: StackOption = DEFAULT_STACK) -> None:
    """Per service: running/desired replicas, the node and state of each, image, update
    state, and the error that keeps it short (if it is). Exit 1 if a service is below
    its desired count."""
    from ._status import stack_status, status_lines
    services = stack_status(stack)
    console.print(f"stack {stack}: service, running/desired, update, image", style="bold",
                  highlight=False)
    for line in status_lines(services, stack, console.width):
        console.print(line, highlight=False, markup=False)
    short = [service.short_name(stack) for service in services
             if service.running < service.desired]
    if short:
        err_console.print(f"below the desired count: {', '.join(short)}", highlight=False)
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
    from ._db_upgrade import stack_database_sql, upgrade_database

    plan = upgrade_database(jar, stack_database_sql(stack), dry_run=dry_run)
    if not plan.scripts:
        console.print(f"the database holds schema {plan.current}; the engine of {jar} needs "
                      f"{plan.target}: nothing to run")
        return
    verb = "ran" if plan.applied else "would run"
    console.print(f"schema {plan.current} -> {plan.target}: {verb} {len(plan.scripts)} "
                  f"upgrade script(s) from {jar} in one transaction:")
    for script in plan.scripts:
        console.print(f"  {script}")


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Worker or service name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following.")] = False,
    since: Annotated[str | None, typer.Option(help="e.g. 10m or an RFC 3339 time.")] = None,
    tail: Annotated[int | None, typer.Option(help="Last N lines per replica.")] = None,
    stack: StackOption = DEFAULT_STACK,
) -> None:
    """Log lines of every replica of a worker's service, gathered from every node."""
    from ._logs import service_logs
    for line in service_logs(name, stack=stack, follow=follow, since=since, tail=tail,
                             warn=_warn):
        typer.echo(line)


@app.command("scale")
def scale_command(
    assignments: Annotated[list[str], typer.Argument(
        help="NAME=N, e.g. hello-world=3; with --bounds NAME=MIN..MAX.")],
    bounds: Annotated[bool, typer.Option(
        "--bounds", help="Change the min/max replicas of autoscaled workers (their "
        "worker.json; `workers deploy` applies them).")] = False,
    stack: StackOption = DEFAULT_STACK,
    repo: RepoOption = None,
) -> None:
    """Set the replicas of services; a worker's are written to its worker.json too, so the
    next deploy keeps them (commit it). An autoscaled worker's replicas belong to the
    autoscaler: --bounds changes its min/max instead."""
    if bounds:
        from ._compose import compose_stack
        from .autoscale import set_bounds
        root = repo or find_repo_root()
        for path in set_bounds(assignments, root):
            console.print(f"{path}: autoscale bounds written; `workers deploy` applies them; "
                          "commit it")
        compose_stack(root)
        return
    from ._scale import scale
    result = scale(assignments, stack=stack, repo=repo or find_repo_root())
    for name, count in result.replicas.items():
        console.print(f"scaled {name} to {count}")
    for path in result.written:
        console.print(f"{path}: replicas written (and the stack file updated); commit them")
    for warning in result.warnings:
        err_console.print(Text.assemble(("warning: ", "yellow"), warning))


@app.command("autoscale")
def autoscale_command(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print each decision, change nothing (required for now).")] = False,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    interval: Annotated[float, typer.Option(min=1, max=3600,
                                            help="Seconds between rounds.")] = 15.0,
    engine_url: Annotated[str, typer.Option(envvar="CAMUNDA_URL", help="Engine REST URL.")] = (
        "http://localhost:8080/engine-rest"),
    stack: StackOption = DEFAULT_STACK,
    repo: RepoOption = None,
) -> None:
    """Decide the replicas of the workers with an "autoscale" policy from their backlog,
    every interval, against the Swarm of DOCKER_HOST (README.md, Autoscaling)."""
    if not dry_run:
        raise InputError("the autoscaler that changes replicas runs in the stack: "
                         "`workers deploy --autoscale`; here only --dry-run")
    from .autoscale import autoscale_dry_run

    autoscale_dry_run(repo or find_repo_root(), stack=stack, engine_url=engine_url,
                      interval=interval, once=once,
                      report=lambda line: console.print(line, highlight=False, markup=False))


monitoring_app = typer.Typer(help="Prometheus next to workers run as local processes.",
                             no_args_is_help=True)
app.add_typer(monitoring_app, name="monitoring")


@monitoring_app.command("start")
def monitoring_start(
    port: Annotated[int, typer.Option(envvar="PROMETHEUS_PORT", help="Prometheus' port.")] = 9090,
    engine_url: Annotated[str, typer.Option(envvar="CAMUNDA_URL", help="Engine REST URL.")] = (
        "http://localhost:8080/engine-rest"),
    repo: RepoOption = None,
) -> None:
    """Start Prometheus and the backlog exporter locally (make monitoring); print the URL."""
    from ._local_monitoring import start_local_monitoring
    started = start_local_monitoring(repo or find_repo_root(), engine_url=engine_url, port=port)
    state = "already running" if started.already_running else "started"
    console.print(f"Prometheus {state}: [bold]{started.url}[/] (alerts: {started.alerts_url})")
    console.print(f"scraping {', '.join(started.targets)} and the backlog of {engine_url}; "
                  "`workers monitoring stop` stops it", highlight=False)


@monitoring_app.command("stop")
def monitoring_stop(repo: RepoOption = None) -> None:
    """Stop what `workers monitoring start` started."""
    from ._local_monitoring import stop_local_monitoring
    stopped = stop_local_monitoring(repo or find_repo_root())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("prometheus-url")
def prometheus_url_command(stack: StackOption = DEFAULT_STACK) -> None:
    """The URL of the stack's Prometheus on the node that runs it (its port unpublished):
    open it there, or through `ssh -N -L 9090:HOST:PORT user@that-node`."""
    from ._monitoring_access import prometheus_url
    typer.echo(prometheus_url(stack=stack))


@app.command("monitoring-status")
def monitoring_status_command(
    prometheus: Annotated[str | None, typer.Option(
        envvar="PROMETHEUS_URL", help="Read everything from this Prometheus, e.g. "
        "http://localhost:9090: replicas, tasks/s, failure ratio, backlog, alerts.")] = None,
    host: Annotated[str | None, typer.Option(
        help="Ask http://HOST:PORT/metrics of each worker instead (local processes).")] = None,
    stack: StackOption = DEFAULT_STACK,
    repo: RepoOption = None,
) -> None:
    """Per worker: are its replicas up? Exit 1 if one is not (or an alert fires).

    Without options each replica of the stack is asked over the overlay network.
    """
    from rich.table import Table

    from ._health_report import prometheus_status
    from ._monitoring import monitoring_status
    root = repo or find_repo_root()
    if prometheus is not None:
        table = Table("worker", "replicas up", "tasks/s", "failed", "open", "locked",
                      "incidents", "alerts firing")
        report = prometheus_status(root, prometheus, stack=stack)
        for health in report:
            down = f" [red]({health.replicas_down} down)[/]" if health.replicas_down else ""
            color = "green" if health.replicas_up and not health.replicas_down else "red"
            table.add_row(
                health.worker, f"[{color}]{health.replicas_up}[/]{down}",
                f"{health.tasks_per_second:.2f}", _ratio(health.failure_ratio),
                *("-" if count is None else str(count) for count in (
                    health.open_tasks, health.locked_tasks, health.incidents)),
                ", ".join(health.alerts) or "-")
        console.print(table)
        if not all(health.ok for health in report):
            raise typer.Exit(1)
        return
    endpoints = monitoring_status(root, host=host, stack=stack)
    for endpoint in endpoints:
        state = "[green]up[/]" if endpoint.up else "[red]down[/]"
        console.print(f"{state} {endpoint.worker} {endpoint.url} ({endpoint.detail})")
        for replica in endpoint.replicas:
            mark = "[green]up[/]" if replica.up else "[red]down[/]"
            console.print(f"    {mark} {replica.task} on {replica.node} {replica.url} "
                          f"({replica.detail})", highlight=False)
    if not all(endpoint.up for endpoint in endpoints):
        raise typer.Exit(1)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; every failure becomes a message and an exit code here
    (:func:`workers_tooling._failures.describe` is the map)."""
    try:
        # Without standalone mode, click returns typer.Exit's code instead of exiting.
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        if exc.exit_code == 130:  # Ctrl-C at a prompt: typer says nothing, we say one line
            err_console.print("interrupted")
        return int(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: bad options or arguments
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(Text.assemble(("error: ", "red"), str(exc)))
        return int(getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        from ._failures import EXIT_INTERRUPTED

        err_console.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("WORKERS_DEBUG"):
            raise
        from ._failures import describe  # only on failure: it imports every layer below

        failure = describe(exc)
        err_console.print(Text.assemble(("error: ", "red"), failure.message))
        return failure.exit_code
    if code == 130:  # Ctrl-C inside a command: typer returns this instead of raising
        err_console.print("interrupted")
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
