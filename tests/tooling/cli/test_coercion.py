"""Options coerced without pydantic (cli/_coercion.py) get the values typer's own coercion
gives them, and whatever is not plain still goes through typer's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer import _coercion, core

from workers_tooling.cli._coercion import defer_typer_coercion


def _app(seen: dict[str, Any]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def command(
        text: Annotated[str | None, typer.Option()] = None,
        path: Annotated[Path | None, typer.Option()] = None,
        must_exist: Annotated[Path | None, typer.Option(exists=True)] = None,
        number: Annotated[int, typer.Option(min=1)] = 3,
        flag: Annotated[bool, typer.Option("--flag")] = False,
        switch: Annotated[bool | None, typer.Option("--on/--off")] = None,
        many: Annotated[list[str] | None, typer.Option()] = None,
    ) -> None:
        seen.update(text=text, path=path, must_exist=must_exist, number=number, flag=flag,
                    switch=switch, many=many)

    return app


def _run(args: list[str]) -> tuple[str, dict[str, Any]]:
    seen: dict[str, Any] = {}
    try:
        _app(seen)(args, standalone_mode=False)
    except typer.TyperException as exc:  # a usage error: its message
        return exc.format_message(), seen
    return "", seen


CASES = [[], ["--text", "hello"], ["--text", ""], ["--path", "some/where"],
         ["--path", "."], ["--path", ""], ["--must-exist", "."], ["--must-exist", "no/such"],
         ["--number", "7"], ["--number", "0"], ["--number", "x"], ["--flag"], ["--on"],
         ["--off"], ["--many", "a", "--many", "b"], ["--text", "a b", "--path", "/tmp"]]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_the_same_values_as_typer(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert defer_typer_coercion()
    deferred = _run(args)
    monkeypatch.setattr(core, "build_runtime_param", _coercion.build_runtime_param)
    assert _run(args) == deferred


def test_it_is_in_place() -> None:
    """Importing the CLI defers typer's coercion (else the startup figures are lost)."""
    import workers_tooling.cli  # noqa: F401

    assert getattr(core.build_runtime_param, "deferred", False)
