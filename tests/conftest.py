"""Shared fixtures: real engines (Camunda 7.24 and Operaton), started once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.engine import IN_CI, EngineApi, EngineProcess, EngineUnavailable, free_port

_started: dict[str, EngineProcess] = {}


def _engine_url(flavour: str) -> str:
    """URL of a running engine of ``flavour``: CAMUNDA_URL/OPERATON_URL, or one we start."""
    env = {"camunda": "CAMUNDA_URL", "operaton": "OPERATON_URL"}[flavour]
    if os.environ.get(env):
        return os.environ[env]
    if flavour not in _started:
        engine = EngineProcess(flavour, free_port())
        try:
            engine.start()
        except (EngineUnavailable, OSError) as exc:
            if IN_CI:
                pytest.fail(f"{flavour} engine unavailable in CI: {exc}", pytrace=False)
            pytest.skip(f"{flavour} engine unavailable: {exc}")
        _started[flavour] = engine
    return _started[flavour].url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for engine in _started.values():
        engine.stop()


@pytest.fixture(scope="session")
def camunda() -> Iterator[EngineApi]:
    """The Camunda 7.24 engine every SDK test runs against."""
    api = EngineApi(_engine_url("camunda"))
    yield api
    api.close()


@pytest.fixture(scope="session", params=["camunda", "operaton"])
def engine(request: pytest.FixtureRequest) -> Iterator[EngineApi]:
    """The compatibility subset: the same test against Camunda 7.24 and Operaton."""
    api = EngineApi(_engine_url(request.param))
    yield api
    api.close()
