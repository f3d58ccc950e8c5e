"""The ``workers`` Typer app and its output helpers (the options commands share are in
:mod:`._options`).

The commands live in one module per family, named as the library's subpackages
(``_swarm.py`` holds ``workers deploy``); :mod:`._main` maps every failure to a message and
an exit code.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.text import Text

__all__ = ["app", "emit", "progress", "say", "say_on_stderr", "terminal_width", "warn"]

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


def progress(source: str, line: str) -> None:
    """A line of a long job as it happens, after its source: ``[hello-world] Step 3/9 :
    RUN ...`` for a build (one source per image), ``[stack] ...`` for a deploy's services."""
    say(Text.assemble((f"[{source}]", "dim"), " ", line), highlight=False)


def terminal_width() -> int:
    return _console.width


@app.callback()
def _root() -> None:
    """Run, scaffold and deploy camunda-workers."""
