"""``workers``: every command registered, and the one place a failure becomes a message and
an exit code (:func:`main`; :func:`._failures.failure_for` is the map). A run that names a
command gets an app of that command alone (:func:`app_for`)."""

from __future__ import annotations

import copy
import os
import sys

import typer
from typer.main import get_command_name

from ._app import app, say_on_stderr

# Importing a family's module registers its commands, in the order ``workers --help`` shows.
# isort: off
from . import _local, _project, _stackfile, _template, _swarm  # noqa: F401
from . import _autoscale, _monitoring  # noqa: F401
# isort: on

__all__ = ["app", "app_for", "main"]


def app_for(args: list[str]) -> typer.Typer:
    """The app with only the command (or group) ``args`` names, when it names one exactly:
    typer builds every command's options on each run (30 to 100 ms for all 23, a few for
    one). No command, an option first (``--help``) or a name that is none get the whole
    app, which lists every command and suggests the closest."""
    if not args:
        return app
    commands = [info for info in app.registered_commands
                if get_command_name(str(info.name or getattr(info.callback, "__name__", "")))
                == args[0]]
    groups = [info for info in app.registered_groups if info.name == args[0]]
    if len(commands) + len(groups) != 1:
        return app
    one = copy.copy(app)  # the same settings and root callback
    one.registered_commands, one.registered_groups = commands, groups
    return one


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; every failure becomes a message and an exit code here."""
    args = sys.argv[1:] if argv is None else argv
    try:
        # Without standalone mode, click returns typer.Exit's code instead of exiting.
        code = app_for(args)(args=args, standalone_mode=False)
    except typer.Exit as exc:
        if exc.exit_code == 130:  # Ctrl-C at a prompt: typer says nothing, we say one line
            say_on_stderr("interrupted")
        return int(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: bad options or arguments
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _say_error(str(exc))
        return int(getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        from ._failures import EXIT_INTERRUPTED

        say_on_stderr("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("WORKERS_DEBUG"):
            raise
        from ._failures import failure_for  # only on failure: it imports every layer below

        failure = failure_for(exc)
        _say_error(failure.message)
        return failure.exit_code
    if code == 130:  # Ctrl-C inside a command: typer returns this instead of raising
        say_on_stderr("interrupted")
    return code if isinstance(code, int) else 0


def _say_error(message: str) -> None:
    from rich.text import Text  # only on failure: plain commands do not import rich

    say_on_stderr(Text.assemble(("error: ", "red"), message))
