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
    """Groups for `make test`'s two processes (pytest-xdist, ``--dist loadgroup``).

    Every test that uses Docker runs in one of them, one after another: they share this
    machine's Swarm and cluster, and wait on them most of the time (about 30 minutes at a
    load average of 1). The other tests spread over both, a module at a time (a module's
    tests may share files, such as the benchmarks' client builds).
    """
    for item in items:
        docker = (item.get_closest_marker("docker") is not None
                  or item.nodeid.startswith("tests/deploy/"))
        group = "docker" if docker else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


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
