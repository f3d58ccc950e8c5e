"""``workers monitoring start|stop|status``, ``prometheus-url`` (:mod:`..monitoring`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import app, emit, say
from ._options import DEFAULT_STACK, ENGINE_URL, FROM_CWD, EngineUrlOption, RepoOption, StackOption

monitoring_app = typer.Typer(help="Prometheus next to workers run as local processes "
                                  "(start, stop), and each worker's health (status).",
                             no_args_is_help=True)
app.add_typer(monitoring_app, name="monitoring")


@monitoring_app.command("start")
def start(
    port: Annotated[int, typer.Option(envvar="PROMETHEUS_PORT", help="Prometheus' port.")] = 9090,
    engine_url: EngineUrlOption = ENGINE_URL,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Start Prometheus and the backlog exporter locally (make monitoring); print the URL."""
    from ..monitoring._local import start_local_monitoring
    started = start_local_monitoring(repo, engine_url=engine_url, port=port)
    state = "already running" if started.already_running else "started"
    say(f"Prometheus {state}: [bold]{started.url}[/] (alerts: {started.alerts_url})")
    say(f"scraping {', '.join(started.targets)} and the backlog of {engine_url}; "
        "`workers monitoring stop` stops it", highlight=False)


@monitoring_app.command("stop")
def stop(repo: RepoOption = FROM_CWD) -> None:
    """Stop what `workers monitoring start` started."""
    from ..monitoring._local import stop_local_monitoring
    stopped = stop_local_monitoring(repo)
    say(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("prometheus-url")
def prometheus_url(stack: StackOption = DEFAULT_STACK) -> None:
    """The URL of the stack's Prometheus on the node that runs it (its port unpublished):
    open it there, or through `ssh -N -L 9090:HOST:PORT user@that-node`."""
    from ..monitoring import _access
    emit(_access.prometheus_url(stack=stack))


@monitoring_app.command("status")
def status(
    prometheus: Annotated[str | None, typer.Option(
        envvar="PROMETHEUS_URL", help="Read everything from this Prometheus, e.g. "
        "http://localhost:9090: replicas, tasks/s, failure ratio, backlog, alerts.")] = None,
    host: Annotated[str | None, typer.Option(
        help="Ask http://HOST:PORT/metrics of each worker instead (local processes).")] = None,
    stack: StackOption = DEFAULT_STACK,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Per worker: are its replicas up? Exit 1 if one is not (or an alert fires).

    Without options each replica of the stack is asked over the overlay network.
    """
    from rich.table import Table

    from ..monitoring import _replicas
    from ..monitoring._health import prometheus_status
    if prometheus is not None:
        table = Table("worker", "replicas up", "tasks/s", "failed", "open", "locked",
                      "incidents", "alerts firing")
        report = prometheus_status(repo, prometheus, stack=stack)
        for health in report:
            down = f" [red]({health.replicas_down} down)[/]" if health.replicas_down else ""
            color = "green" if health.replicas_up and not health.replicas_down else "red"
            table.add_row(
                health.worker, f"[{color}]{health.replicas_up}[/]{down}",
                f"{health.tasks_per_second:.2f}", _ratio(health.failure_ratio),
                *("-" if count is None else str(count) for count in (
                    health.open_tasks, health.locked_tasks, health.incidents)),
                ", ".join(health.alerts) or "-")
        say(table)
        if not all(health.ok for health in report):
            raise typer.Exit(1)
        return
    endpoints = _replicas.monitoring_status(repo, host=host, stack=stack)
    for endpoint in endpoints:
        state = "[green]up[/]" if endpoint.up else "[red]down[/]"
        say(f"{state} {endpoint.worker} {endpoint.url} ({endpoint.detail})")
        for replica in endpoint.replicas:
            mark = "[green]up[/]" if replica.up else "[red]down[/]"
            say(f"    {mark} {replica.task} on {replica.node} {replica.url} "
                f"({replica.detail})", highlight=False)
    if not all(endpoint.up for endpoint in endpoints):
        raise typer.Exit(1)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


# The earlier name, kept for `make monitoring-status` and scripts.
app.command("monitoring-status", help=status.__doc__)(status)
