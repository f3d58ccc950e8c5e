"""``workers demo`` and ``workers run``: a worker on this machine (:mod:`..local`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import app, say, say_on_stderr
from ._options import ENGINE_URL, FROM_CWD, EngineUrlOption, RepoOption, WorkerNameArgument


@app.command()
def demo(
    instances: Annotated[int, typer.Option(min=1, help="Process instances to start.")] = 10,
    engine_url: EngineUrlOption = ENGINE_URL,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Deploy the demo process, run hello-world as a local process, report what happened."""
    from ..local._demo import run_demo
    report = run_demo(repo=repo, engine_url=engine_url, instances=instances)
    say(f"[bold]engine[/] {report.engine_url}")
    say(f"started {report.started} hello_world instances; "
        f"[green]{report.completed} completed[/] in {report.seconds:.1f}s "
        f"by workers/hello-world (exit code {report.worker_exit_code} after SIGTERM)")
    for greeting in report.greetings:
        say(f"  greeting = {greeting!r}")


@app.command()
def run(
    name: WorkerNameArgument,
    reload: Annotated[bool, typer.Option(
        "--reload", help="Restart on a change of its files or workers/common.")] = False,
    engine_url: Annotated[str | None, typer.Option(
        envvar="CAMUNDA_URL", help="Engine REST URL (default: the local engine, started "
        "if needed).")] = None,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Run one worker as a local process, as its image runs it; a line per task."""
    from rich.text import Text

    from ..local._run import run_worker

    code = run_worker(repo, name, engine_url=engine_url, reload=reload,
                      say=lambda line: say_on_stderr(
                          Text.assemble(("workers run: ", "bold"), line), highlight=False))
    raise typer.Exit(code)
