"""``workers list``, ``discover`` and ``schema``: the repository's workers (:mod:`..project`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ._app import app, emit, say, say_on_stderr
from ._options import FROM_CWD, RepoOption


@app.command("list")
def list_workers(repo: RepoOption = FROM_CWD) -> None:
    """Print a table of the workers (validating every worker.json)."""
    from rich.table import Table

    from ..project._summaries import worker_summaries
    table = Table("name", "port", "topics", "replicas", "version", "Dockerfile")
    for row in worker_summaries(repo):
        table.add_row(row["name"], str(row["port"]), ", ".join(row["topics"]),
                      str(row["replicas"]), row["version"],
                      "custom" if row["dockerfile"] else "shared")
    say(table)


@app.command()
def discover(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Find and validate every workers/*/worker.json; all problems are listed at once."""
    from ..project._summaries import worker_summaries
    workers = worker_summaries(repo)
    if as_json:
        emit(json.dumps(workers, indent=2))
        return
    for worker in workers:
        emit(f"{worker['name']}  port {worker['port']}  {repo / worker['path']}")
    emit(f"{len(workers)} worker(s), all valid")


@app.command()
def schema(
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if stale.")] = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Write workers/worker.schema.json (JSON Schema of worker.json, for editors)."""
    from ..project._schema import write_schema
    result = write_schema(repo, check=check)
    if check and result.changed:
        say_on_stderr(f"{result.path} is stale: run `workers schema`", highlight=False,
                      markup=False)
        raise typer.Exit(1)
    emit(f"{result.path}: {'written' if result.written else 'up to date'}")
