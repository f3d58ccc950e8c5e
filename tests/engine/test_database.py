"""The engine of engine/ on PostgreSQL: the schema made on the first start and checked on later
ones, instances and incidents kept through a kill, a schema of another version refused, and
clear one-line errors for wrong settings (the password never in the log)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from camunda_workers import Task, TaskFailure
from tests.support.engine import EngineApi, EngineProcess, engine_jar, free_port, unique, wait_until
from tests.support.postgres import PostgresServer
from tests.support.running import make_worker, running
from tests.support.sessions import postgres_server
from workers_tooling.swarm._db_upgrade import schema_version, upgrade_database

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
    engine.stop()  # for good: this database is no other test's
    server.psql("update act_ge_schema_log set version_ = '7.23.0'", database)
    done = subprocess.run(
        ["java", "-XX:TieredStopAtLevel=1", "-jar", str(engine_jar(engine.flavour)),
         f"--server.port={free_port()}", *server.engine_args(database)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "holds the schema of engine 7.23.0" in done.stdout
    assert "needs 7.24.0" in done.stdout
    assert "make db-upgrade" in done.stdout
    assert "\tat " not in done.stdout  # no stack trace


def test_the_engine_waits_for_a_database_that_starts_later(tmp_path: Path) -> None:
    """Swarm starts the engine and its database in no order: the engine retries."""
    late = PostgresServer()
    late.init()
    engine = EngineProcess("camunda", free_port(), late.engine_args("postgres"))
    starter = threading.Timer(8, late.start)
    starter.start()
    try:
        engine.start()
        log = log_of(engine)
        assert "not ready (Connection to 127.0.0.1:" in log  # it tried before the start
        assert "empty, the engine creates its schema" in log
    finally:
        starter.join()
        engine.stop()
        late.remove()


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


OLD_ENGINE = "7.23.0"
# the order the engine creates its tables in (foreign keys between them)
CREATE_PARTS = ("engine", "history", "identity", "case.engine", "case.history",
                "decision.engine", "decision.history")


def _old_engine_library(tmp_path: Path) -> Path:
    """camunda-engine 7.23.0 from Maven Central (its create scripts make a real 7.23 schema)."""
    if shutil.which("mvn") is None:
        pytest.skip("mvn not found")
    subprocess.run(["mvn", "-q", "-B", "dependency:copy",
                    f"-Dartifact=org.camunda.bpm:camunda-engine:{OLD_ENGINE}",
                    f"-DoutputDirectory={tmp_path}"], check=True, capture_output=True,
                   cwd=tmp_path)
    return tmp_path / f"camunda-engine-{OLD_ENGINE}.jar"


def test_the_upgrade_scripts_bring_a_723_schema_to_the_724_engine(
        server: PostgresServer, tmp_path: Path) -> None:
    database = unique("upgrade")
    server.create_database(database)
    with zipfile.ZipFile(_old_engine_library(tmp_path)) as old:
        for part in CREATE_PARTS:
            server.psql(old.read(f"org/camunda/bpm/engine/db/create/activiti.postgres.create."
                                 f"{part}.sql").decode(), database)

    def run_sql(sql: str) -> str:
        return server.psql(sql, database)

    assert schema_version(run_sql) == OLD_ENGINE
    for flavour in ("camunda", "operaton"):  # Operaton 1.0 carries the same 7.24 schema
        plan = upgrade_database(engine_jar(flavour), run_sql, dry_run=True)
        assert (plan.current, plan.target, plan.applied) == (OLD_ENGINE, "7.24.0", False)
        assert plan.scripts == ("postgres_engine_7.23_to_7.24.sql",)
    assert schema_version(run_sql) == OLD_ENGINE  # a dry run changes nothing

    plan = upgrade_database(engine_jar("camunda"), run_sql)
    assert plan.applied
    assert schema_version(run_sql) == "7.24.0"
    assert upgrade_database(engine_jar("camunda"), run_sql).scripts == ()  # nothing left

    engine = EngineProcess("camunda", free_port(), server.engine_args(database))
    engine.start()
    try:
        assert "schema 7.24.0 present, checked by the engine" in log_of(engine)
        api = EngineApi(engine.url)
        topic = unique("upgraded")
        instance = api.start(api.deploy_external_task(topic))
        worker = make_worker(api)

        @worker.topic(topic)
        def done(task: Task) -> None:
            return None

        with running(worker):
            api.wait_finished([instance])
        api.close()
    finally:
        engine.stop()
