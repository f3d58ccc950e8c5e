"""The engines and the PostgreSQL server a test session shares, started on first use.

``CAMUNDA_URL`` / ``OPERATON_URL`` / ``CAMUNDA_POSTGRES_URL`` make the tests use a running
engine instead. Without Java, Maven or PostgreSQL the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.engine import IN_CI, EngineApi, EngineProcess, EngineUnavailable, free_port
from tests.support.postgres import PostgresServer, PostgresUnavailable

_started: dict[str, EngineProcess] = {}
_postgres: list[PostgresServer] = []
_URL_VARIABLES = {"camunda": "CAMUNDA_URL", "operaton": "OPERATON_URL",
                  "camunda-postgres": "CAMUNDA_POSTGRES_URL"}


def postgres_server() -> PostgresServer:
    """The session's PostgreSQL server."""
    if not _postgres:
        server = PostgresServer()
        _postgres.append(server)
        try:
            server.start()
        except (PostgresUnavailable, OSError) as exc:
            if IN_CI:
                pytest.fail(f"PostgreSQL unavailable in CI: {exc}", pytrace=False)
            pytest.skip(f"PostgreSQL unavailable: {exc}")
    return _postgres[0]


def engine_url(flavour: str) -> str:
    """URL of a running engine: ``camunda``, ``operaton``, or ``camunda-postgres`` (the
    Camunda engine on a database of the session's PostgreSQL)."""
    if os.environ.get(_URL_VARIABLES[flavour]):
        return os.environ[_URL_VARIABLES[flavour]]
    if flavour not in _started:
        args: list[str] = []
        if flavour.endswith("-postgres"):
            server = postgres_server()
            server.create_database("engine")
            args = server.engine_args("engine")
        engine = EngineProcess(flavour.removesuffix("-postgres"), free_port(), args)
        try:
            engine.start()
        except (EngineUnavailable, OSError) as exc:
            if IN_CI:
                pytest.fail(f"{flavour} engine unavailable in CI: {exc}", pytrace=False)
            pytest.skip(f"{flavour} engine unavailable: {exc}")
        _started[flavour] = engine
    return _started[flavour].url


def stop_all() -> None:
    for engine in _started.values():
        engine.stop()
    for server in _postgres:
        server.remove()


def _api(request: pytest.FixtureRequest) -> Iterator[EngineApi]:
    api = EngineApi(engine_url(request.param))
    yield api
    api.close()


# A test module that imports these (they are its fixtures `camunda` and `engine`) runs each of its
# tests once more on the Camunda engine backed by PostgreSQL (the production database).
camunda_also_on_postgres = pytest.fixture(
    _api, scope="session", params=["camunda", "camunda-postgres"], name="camunda")
engine_also_on_postgres = pytest.fixture(
    _api, scope="session", params=["camunda", "operaton", "camunda-postgres"], name="engine")
