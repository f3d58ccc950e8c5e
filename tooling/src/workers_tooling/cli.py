"""The ``workers`` command: thin commands over library functions.

Errors are mapped to exit codes and messages in one place, :func:`main`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from camunda_workers import SpecError

from ._demo import run_demo
from ._paths import find_repo_root
from .errors import ToolingError

app = typer.Typer(help="Run, scaffold and deploy camunda-workers.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

RepoOption = Annotated[Path | None, typer.Option(help="Repository root (default: found from cwd).")]


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
    report = run_demo(repo=repo or find_repo_root(), engine_url=engine_url, instances=instances)
    console.print(f"[bold]engine[/] {report.engine_url}")
    console.print(f"started {report.started} hello_world instances; "
                  f"[green]{report.completed} completed[/] in {report.seconds:.1f}s "
                  f"by workers/hello-world (exit code {report.worker_exit_code} after SIGTERM)")
    for greeting in report.greetings:
        console.print(f"  greeting = {greeting!r}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning our errors into messages and exit codes."""
    try:
        app(args=argv, standalone_mode=False)
    except SpecError as exc:
        err_console.print(f"[red]invalid worker specification[/]\n{exc}", highlight=False)
        return 2
    except ToolingError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
