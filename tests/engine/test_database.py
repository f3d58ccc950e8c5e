"""The engine of engine/ on PostgreSQL: the schema made on the first start and checked on later
ones, instances and incidents kept through a kill, a schema of another version refused, and
clear one-line errors for wrong settings (the password never in the log)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from camunda_workers import Task, TaskFailure
from tests.support.engine import EngineApi, EngineProcess, engine_jar, free_port, unique, wait_until
from tests.support.postgres import PostgresServer
from tests.support.running import make_worker, running
from tests.support.sessions import postgres_server

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def server() -> PostgresServer:
    return postgres_server()


@pytest.fixture(scope="module", params=["camunda", "operaton"])
def restarted(request: pytest.FixtureRequest, server: PostgresServer,
              ) -> Iterator[tuple[EngineProcess, str]]:
    """An engine on a database of its own; the test kills and starts it again."""
    database = unique(f"restart_{request.param}")
    server.create_database(database)
    engine = EngineProcess(request.param, free_port(), server.engine_args(database))
    engine.start()
    yield engine, database
    engine.stop()


def log_of(engine: EngineProcess) -> str:
    assert engine.log_path is not None
    return engine.log_path.read_text(errors="replace")


def test_instances_and_incidents_survive_a_killed_engine(
        restarted: tuple[EngineProcess, str], server: PostgresServer) -> None:
    engine, _ = restarted
    api = EngineApi(engine.url)
    topic, failing = unique("kept"), unique("incident")
    key, failing_key = api.deploy_external_task(topic), api.deploy_external_task(failing)
    instances = api.start_many(key, 5)
    broken = api.start(failing_key)
    worker = make_worker(api)

    @worker.topic(failing)
    def fail(task: Task) -> None:
        raise TaskFailure("broken for good", retries=0)

    with running(worker):
        wait_until(lambda: api.incidents(broken), timeout=60, what="the incident")
    api.close()
    assert "empty, the engine creates its schema" in log_of(engine)

    engine.stop(kill=True)
    engine.start()
    api = EngineApi(engine.url)
    assert "schema 7.24.0 present, checked by the engine" in log_of(engine)
    assert len(api.incidents(broken)) == 1
    assert api.finished(instances) == 0
    worker = make_worker(api)

    @worker.topic(topic)
    def done(task: Task) -> dict[str, int]:
        return {"after_restart": 1}

    with running(worker):
        api.wait_finished(instances)
    assert server.password not in log_of(engine)
    api.close()


def test_a_schema_of_another_version_is_refused(restarted: tuple[EngineProcess, str],
                                                server: PostgresServer) -> None:
    engine, database = restarted
    engine.stop()
    server.psql("update act_ge_schema_log set version_ = '7.23.0'", database)
    try:
        done = subprocess.run(
            ["java", "-XX:TieredStopAtLevel=1", "-jar", str(engine_jar(engine.flavour)),
             f"--server.port={free_port()}", *server.engine_args(database)],
            capture_output=True, text=True, timeout=120)
    finally:
        server.psql("update act_ge_schema_log set version_ = '7.24.0' where id_ = '0'",
                    database)
        engine.start()
    assert done.returncode != 0
    assert "holds the schema of engine 7.23.0" in done.stdout
    assert "needs 7.24.0" in done.stdout
    assert "make db-upgrade" in done.stdout
    assert "\tat " not in done.stdout  # no stack trace


@pytest.mark.parametrize(("args", "message"), [
    (["--engine.db-url=jdbc:mysql://db/x"], "is 'jdbc:mysql://db/x', not a PostgreSQL JDBC URL"),
    (["--engine.db-url=jdbc:postgresql://127.0.0.1:1/x"],
     "engine.db-url is set but engine.db-password-file is not"),
    (["--engine.db-url=jdbc:postgresql://127.0.0.1:1/x", "--engine.db-password-file=/nope"],
     "engine.db-password-file /nope does not exist"),
])
def test_wrong_settings_stop_the_engine_with_one_clear_line(args: list[str],
                                                            message: str) -> None:
    done = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-jar", str(engine_jar("camunda")),
                           f"--server.port={free_port()}", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert message in done.stdout
    assert "\tat " not in done.stdout


def test_a_wrong_password_is_named_not_shown(server: PostgresServer, tmp_path: Path) -> None:
    wrong = tmp_path / "password"
    wrong.write_text("not-the-password\n")
    url = server.url("postgres")
    done = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-jar", str(engine_jar("camunda")),
                           f"--server.port={free_port()}", f"--engine.db-url={url}",
                           f"--engine.db-password-file={wrong}", "--engine.db-wait=2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "did not answer within 2 s" in done.stdout
    assert "password authentication failed" in done.stdout
    assert "not-the-password" not in done.stdout
