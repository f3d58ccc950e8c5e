"""`workers NAME ...` runs an app with only that command (typer builds every command's
options on each run: cli/_main.app_for); it must behave as the whole app does."""

from __future__ import annotations

import pytest
import typer.main

from workers_tooling.cli import app, main
from workers_tooling.cli._main import app_for

from ..helpers import run_cli

NAMES = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _whole_app(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = app(args=list(args), standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:
        exc.show()  # type: ignore[attr-defined]
        code = exc.exit_code  # type: ignore[attr-defined]
    out, err = capsys.readouterr()
    return int(code or 0), out, err


@pytest.mark.parametrize("args", [[name, "--help"] for name in NAMES]
                         + [["monitoring", "status", "--help"], ["list", "--bogus"],
                            ["scale"]], ids=" ".join)
def test_the_same_as_the_whole_app(args: list[str], capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    assert app_for(args) is not app
    assert run_cli(capsys, *args) == _whole_app(capsys, *args)


@pytest.mark.parametrize("args", [[], ["--help"], ["lis"], ["--install-completion", "x"]])
def test_the_whole_app_without_an_exact_command(args: list[str]) -> None:
    assert app_for(args) is app


def test_a_typo_gets_the_whole_app_and_its_suggestion(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert len(NAMES) > 20
    assert main(["lis"]) == 2
    assert "Did you mean 'list'?" in capsys.readouterr().err
