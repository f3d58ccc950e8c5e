"""Shared fixtures: real engines (Camunda 7.24 and Operaton), started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.engine import EngineApi
from tests.support.secured_engine import secured, tls_files
from tests.support.sessions import engine_url, stop_all

__all__ = ["camunda", "engine", "secured", "tls_files"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/deploy uses Docker: marked so, `make test` runs them in a
    process of their own beside the others (scripts/pytest-split.sh)."""
    for item in items:
        if item.nodeid.startswith("tests/deploy/"):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def camunda() -> Iterator[EngineApi]:
    """The Camunda 7.24 engine every SDK test runs against."""
    api = EngineApi(engine_url("camunda"))
    yield api
    api.close()


@pytest.fixture(scope="session", params=["camunda", "operaton"])
def engine(request: pytest.FixtureRequest) -> Iterator[EngineApi]:
    """The compatibility subset: the same test against Camunda 7.24 and Operaton."""
    api = EngineApi(engine_url(request.param))
    yield api
    api.close()
