"""The ``workers`` Typer app and its output helpers (the options commands share are in
:mod:`._options`).

The commands live in one module per family, named as the library's subpackages
(``_swarm.py`` holds ``workers deploy``); :mod:`._main` maps every failure to a message and
an exit code.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import typer

from ._coercion import defer_typer_coercion

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["app", "emit", "progress", "say", "say_on_stderr", "terminal_width", "warn",
           "warn_plain"]

# rich_markup_mode=None: click's plain help screen; typer's rich one imports rich.markdown and
# rich.traceback (about 70 ms of a 0.25 s budget, bench/README.md "CLI startup"). Failures are
# ours to show (_main.py), so typer's pretty tracebacks are off too.
app = typer.Typer(help="Run, scaffold and deploy camunda-workers.", no_args_is_help=True,
                  rich_markup_mode=None, pretty_exceptions_enable=False)
defer_typer_coercion()  # no pydantic for options left out, flags, text and plain paths


@cache
def _console(stderr: bool) -> Console:
    """rich's console, made on first output: commands that print only plain lines (and
    ``--help``) never import rich."""
    from rich.console import Console

    # soft_wrap: messages keep their lines (they name files and fields people grep for)
    return Console(stderr=stderr, soft_wrap=True)


def say(*parts: Any, **style: Any) -> None:
    """What a command tells the user, on stdout (rich markup and tables)."""
    _console(False).print(*parts, **style)


def say_on_stderr(*parts: Any, **style: Any) -> None:
    """Warnings, notes and errors, on stderr."""
    _console(True).print(*parts, **style)


def emit(text: str, *, nl: bool = True) -> None:
    """Output for machines (JSON, a diff, a URL, log lines), written as it is."""
    typer.echo(text, nl=nl)


def warn(message: str) -> None:
    say_on_stderr(f"[yellow]warning:[/] {message}", highlight=False)


def warn_plain(message: str) -> None:
    """A warning whose text is shown as it is (no rich markup read in it)."""
    from rich.text import Text

    say_on_stderr(Text.assemble(("warning: ", "yellow"), message))


def progress(source: str, line: str) -> None:
    """A line of a long job as it happens, after its source: ``[hello-world] Step 3/9 :
    RUN ...`` for a build (one source per image), ``[stack] ...`` for a deploy's services."""
    from rich.text import Text

    say(Text.assemble((f"[{source}]", "dim"), " ", line), highlight=False)


def terminal_width() -> int:
    return _console(False).width


@app.callback()
def _root() -> None:
    """Run, scaffold and deploy camunda-workers."""
