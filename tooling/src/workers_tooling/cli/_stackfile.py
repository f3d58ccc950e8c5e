"""``workers compose``: the Swarm stack file (:mod:`..stackfile`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import app, emit, say_on_stderr
from ._options import (
    FROM_CWD,
    AutoscaleOption,
    MonitoringOption,
    PublishMonitoringOption,
    RepoOption,
    StackFileOption,
)


@app.command()
def compose(
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; print the diff and exit 1 if the file is stale.")] = False,
    env: Annotated[str | None, typer.Option(
        help="Apply the overlay deploy/ENV.yml, e.g. production.")] = None,
    stack_file: StackFileOption = None,
    output: Annotated[Path | None, typer.Option(
        help="Write the result here and leave the stack file as it is.")] = None,
    monitoring: MonitoringOption = None,
    publish_monitoring: PublishMonitoringOption = None,
    autoscale: AutoscaleOption = None,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Add, update and remove the worker services of the Swarm stack file, keeping the rest.

    Images are ${REGISTRY:-local}/workers-NAME:${TAG:-VERSION}: `docker stack deploy` (and
    `workers deploy`) fill in REGISTRY and TAG."""
    from ..stackfile._compose import compose_stack
    result = compose_stack(repo, stack_file=stack_file, environment=env,
                           output=output, monitoring=monitoring,
                           publish_monitoring=publish_monitoring, autoscale=autoscale,
                           check=check)
    if result.method != "splice":
        say_on_stderr(f"note: {result.reason}: ruamel.yaml rewrote the whole file "
                      "(formatting outside the worker services may be normalised)",
                      highlight=False, markup=False)
    target = result.output or result.stack_file
    if check:
        if result.changed:
            emit(result.diff, nl=False)
            say_on_stderr(f"{target} is stale: run `workers compose`", highlight=False,
                          markup=False)
            raise typer.Exit(1)
        emit(f"{target}: up to date")
        return
    for label, names in (("added", result.added), ("updated", result.updated),
                         ("removed", result.removed)):
        if names:
            emit(f"{label}: {', '.join(names)}")
    state = "written" if result.written else "unchanged"
    emit(f"{target}: {state} ({len(result.workers)} worker services)")
