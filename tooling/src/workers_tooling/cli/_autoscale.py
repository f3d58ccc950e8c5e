"""``workers autoscale``: replicas from the backlog (:mod:`..autoscale`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import InputError
from ._app import app, say
from ._options import DEFAULT_STACK, ENGINE_URL, FROM_CWD, EngineUrlOption, RepoOption, StackOption


@app.command()
def autoscale(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print each decision, change nothing (required for now).")] = False,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    interval: Annotated[float, typer.Option(min=1, max=3600,
                                            help="Seconds between rounds.")] = 15.0,
    engine_url: EngineUrlOption = ENGINE_URL,
    stack: StackOption = DEFAULT_STACK,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Decide the replicas of the workers with an "autoscale" policy from their backlog,
    every interval, against the Swarm of DOCKER_HOST (docs/production.md, Autoscaling)."""
    if not dry_run:
        raise InputError("the autoscaler that changes replicas runs in the stack: "
                         "`workers deploy --autoscale`; here only --dry-run")
    from ..autoscale import autoscale_dry_run

    autoscale_dry_run(repo, stack=stack, engine_url=engine_url,
                      interval=interval, once=once,
                      report=lambda line: say(line, highlight=False, markup=False))
