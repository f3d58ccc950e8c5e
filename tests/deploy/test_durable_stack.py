"""The stack loses nothing: the engine on PostgreSQL (the db service) on a real Swarm.

One stack, deployed from the seed as a new project would (with its database: the password
a Docker secret, the node labelled), serves every case in order: the engine's container
killed under load, the database's container killed under load, a rolling update of the
engine image under load; each time every instance completes and incidents stay. The
password shows nowhere. Figures go to stdout (-s).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.docker import (
    PYTHON_BASE,
    StackDatabase,
    copy_repo,
    hand_edit_engine,
    remove_stack,
    stack_database,
)
from tests.support.docker import containers as stack_containers
from tests.support.docker import run as _run
from tests.support.engine import REPO, EngineApi, free_port, unique, wait_until
from workers_tooling import compose_stack, deploy
from workers_tooling.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

STACK = f"durable-{os.getpid()}"
INSTANCES = 300


@dataclass
class Stack:
    repo: Path
    stack_file: Path
    api: EngineApi
    database: StackDatabase
    incidents: list[str]  # instances with an incident made before any fault
    engine_image: str


def _containers(service: str, *, all_states: bool = False) -> list[str]:
    return stack_containers(STACK, service, all_states=all_states)


def _make_incidents(api: EngineApi, count: int) -> list[str]:
    """Instances whose external task failed with no retries left: an incident each."""
    topic = unique("durable_incident")
    key = api.deploy_external_task(topic)
    instances = [api.start(key) for _ in range(count)]
    tasks = api.post("/external-task/fetchAndLock", {
        "workerId": "durable-test", "maxTasks": count,
        "topics": [{"topicName": topic, "lockDuration": 60_000}]})
    for task in tasks:
        api.post(f"/external-task/{task['id']}/failure",
                 {"workerId": "durable-test", "errorMessage": "made up", "retries": 0})
    wait_until(lambda: all(api.incidents(i) for i in instances), timeout=60,
               what="the incidents")
    return instances


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, swarm_engine_image: str) -> Iterator[Stack]:
    started = time.monotonic()
    repo = copy_repo(tmp_path_factory.mktemp("durable") / "repo")
    stack_file = repo / "docker-compose.swarm.yml"
    stack_file.unlink()  # from the seed, as a new project would
    compose_stack(repo, stack_file=stack_file)
    port = free_port()
    hand_edit_engine(stack_file, port)
    database = stack_database(STACK)
    api = EngineApi(f"http://127.0.0.1:{port}/engine-rest")
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in {**database.environ, "ENGINE_IMAGE": swarm_engine_image}.items():
                env.setenv(name, value)
            deploy(repo, stack=STACK, stack_file=stack_file, environment="local",
                   base_image=PYTHON_BASE)
            wait_until(api.answers, timeout=420, interval=2, what="the engine service")
            bpmn = "hello_world.bpmn"
            files = {bpmn: (bpmn, (repo / "processes" / bpmn).read_bytes(), "application/xml")}
            assert api.http.post("/deployment/create", files=files,
                                 data={"deployment-name": bpmn}).status_code == 200
            print(f"\n[durable] stack with its database up in {time.monotonic() - started:.0f}s")
            yield Stack(repo, stack_file, api, database, _make_incidents(api, 3),
                        swarm_engine_image)
    finally:
        api.close()
        remove_stack(STACK)
        database.remove()


def _under_load(stack: Stack, name: str, fault: Callable[[], None]) -> None:
    """INSTANCES instances waiting, the worker started, ``fault`` once some are done:
    every instance completes, the incidents made before are still there."""
    api = stack.api
    _run("docker", "service", "scale", "-d", f"{STACK}_hello-world=0")
    wait_until(lambda: not _containers("hello-world"), timeout=120, interval=1,
               what="the worker to stop")
    with ThreadPoolExecutor(8) as pool:
        instances = list(pool.map(lambda n: api.start("hello_world", {"name": f"{name}{n}"}),
                                  range(INSTANCES)))
    _run("docker", "service", "scale", "-d", f"{STACK}_hello-world=1")
    wait_until(lambda: api.finished(instances) >= 20, timeout=180, interval=0.2,
               what="the worker to get going")
    done_before = api.finished(instances)
    faulted = time.monotonic()
    fault()
    wait_until(api.answers, timeout=420, interval=1, what="the engine again")
    back = time.monotonic() - faulted
    api.wait_finished(instances, timeout=600)
    total = time.monotonic() - faulted
    finished = api.finished(instances)
    print(f"\n[durable] {name}: started={INSTANCES} finished before the fault={done_before} "
          f"completed={finished} lost={INSTANCES - finished} engine answering after "
          f"{back:.0f}s, all completed after {total:.0f}s")
    assert done_before < INSTANCES  # the fault came while the worker had work
    assert finished == INSTANCES
    for instance in stack.incidents:
        assert len(api.incidents(instance)) == 1


def test_the_engine_killed_under_load_loses_nothing(stack: Stack) -> None:
    engine = _containers("camunda")
    assert len(engine) == 1

    def kill_engine() -> None:
        _run("docker", "kill", engine[0])
        wait_until(lambda: not stack.api.answers(), timeout=30, interval=0.5,
                   what="the engine to be gone")

    _under_load(stack, "engine-killed-", kill_engine)
    assert _containers("camunda") != engine  # Swarm started another container
    log = _run("docker", "logs", _containers("camunda")[0])
    assert "schema 7.24.0 present, checked by the engine" in log  # the same database


def test_the_database_killed_under_load_loses_nothing(stack: Stack) -> None:
    db = _containers("db")
    assert len(db) == 1

    def kill_db() -> None:
        _run("docker", "kill", db[0])
        wait_until(lambda: _containers("db") not in ([], db), timeout=120, interval=1,
                   what="Swarm to start the database again")

    _under_load(stack, "db-killed-", kill_db)


def test_a_rolling_engine_update_under_load_loses_nothing(stack: Stack) -> None:
    new_image = f"{stack.engine_image}-v2"
    _run("docker", "tag", stack.engine_image, new_image)
    old = _containers("camunda")

    def roll() -> None:
        os.environ["ENGINE_IMAGE"] = new_image
        deploy(stack.repo, stack=STACK, stack_file=stack.stack_file, environment="local",
               build=False)
        wait_until(lambda: _containers("camunda") not in ([], old), timeout=300, interval=1,
                   what="the new engine container")

    try:
        _under_load(stack, "rolled-", roll)
    finally:
        os.environ["ENGINE_IMAGE"] = stack.engine_image
    image = _run("docker", "service", "inspect", "-f",
                 "{{.Spec.TaskTemplate.ContainerSpec.Image}}", f"{STACK}_camunda")
    assert image.startswith(new_image)


def _make(stack: Stack, target: str, dump: Path) -> str:
    """``make db-backup`` / ``make db-restore`` in the deployed copy, as a person types it."""
    done = subprocess.run(["make", "-s", "-C", str(stack.repo), target, f"STACK={STACK}",
                           f"FILE={dump}"], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_backup_then_a_lost_volume_then_restore_loses_nothing(stack: Stack) -> None:
    api = stack.api
    _run("docker", "service", "scale", "-d", f"{STACK}_hello-world=0")
    wait_until(lambda: not _containers("hello-world"), timeout=120, interval=1,
               what="the worker to stop")
    instances = [api.start("hello_world", {"name": f"restored{n}"}) for n in range(50)]
    dump = stack.repo / "backups" / "running.dump"
    started = time.monotonic()
    assert f"to {dump}" in _make(stack, "db-backup", dump)
    backed_up = time.monotonic() - started
    # the volume is lost: the database starts again empty
    _run("docker", "service", "scale", "-d", f"{STACK}_db=0")
    wait_until(lambda: not _containers("db"), timeout=180, interval=1, what="the db to stop")
    _run("docker", "rm", *_containers("db", all_states=True))  # Swarm's task history
    _run("docker", "volume", "rm", f"{STACK}_db-data")
    _run("docker", "service", "scale", "-d", f"{STACK}_db=1")
    wait_until(lambda: _containers("db"), timeout=180, interval=1, what="an empty db")
    started = time.monotonic()
    assert "started again (1 replica(s))" in _make(stack, "db-restore", dump)
    wait_until(api.answers, timeout=420, interval=1, what="the engine again")
    restored = time.monotonic() - started
    _run("docker", "service", "scale", "-d", f"{STACK}_hello-world=1")
    api.wait_finished(instances, timeout=300)
    finished = api.finished(instances)
    print(f"\n[durable] backup {backed_up:.0f}s ({dump.stat().st_size} bytes), volume dropped, "
          f"restore until the engine answers {restored:.0f}s: running={len(instances)} "
          f"completed={finished} lost={len(instances) - finished}")
    assert finished == len(instances)
    for instance in stack.incidents:
        assert len(api.incidents(instance)) == 1
    log = _run("docker", "logs", _containers("camunda")[0])
    assert "schema 7.24.0 present, checked by the engine" in log


def test_db_upgrade_reads_the_stacks_schema(stack: Stack,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`workers db-upgrade` through the db service's container: the schema the engine made is
    the engine's own, so there is nothing to run (the scripts themselves: tests/engine)."""
    jar = REPO / "engine" / "target" / "engine-camunda.jar"
    assert main(["db-upgrade", "--stack", STACK, "--jar", str(jar), "--dry-run"]) == 0
    assert ("the database holds schema 7.24.0; the engine of "
            f"{jar} needs 7.24.0: nothing to run") in " ".join(capsys.readouterr().out.split())


def test_the_password_shows_nowhere(stack: Stack) -> None:
    password = stack.database.password
    services = _run("docker", "service", "ls", "-q", "--filter",
                    f"label=com.docker.stack.namespace={STACK}").split()
    assert len(services) >= 4  # engine, db, two workers
    assert password not in _run("docker", "service", "inspect", *services)
    for path in stack.repo.glob("*.yml"):
        assert password not in path.read_text()
    for path in stack.repo.glob(".*.yml"):  # the rendered file deployed
        assert password not in path.read_text()
    for service in ("camunda", "db", "hello-world", "publicacao"):
        for container in _containers(service, all_states=True):
            logs = subprocess.run(["docker", "logs", container], capture_output=True,
                                  text=True, check=True)
            assert password not in logs.stdout + logs.stderr
