"""End to end on a real Docker engine and Swarm: deploy, run instances, scale, roll updates.

The stack is built from a copy of the repository (so the test can change a worker) with
locally built base images (no registry is reachable here). Counts go to stdout (-s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.docker import (
    PYTHON_BASE,
    copy_repo,
    hand_edit_engine,
    remove_stack,
    stack_database,
)
from tests.support.docker import run as _run
from tests.support.engine import EngineApi, free_port, wait_until
from workers_tooling import deploy, scale, service_logs, stack_status
from workers_tooling.cli import main
from workers_tooling.errors import ToolingError

# Deploys and rolling updates take minutes on 2 cores.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

STACK = f"cw-e2e-{os.getpid()}"  # unique: other checkouts may run this test too
ENVIRONMENT = "local"  # deploy/local.yml: single node without IPVS (DNS round robin)
# A Docker secret publicacao lists in its worker.json (README, "Security"): its value must
# reach the worker as a file and never show in `docker service inspect`.
SECRET = f"cw-e2e-{os.getpid()}-token"
SECRET_VALUE = f"s3cret-{os.getpid()}-value"
SECRET_FILE_VARIABLE = SECRET.replace("-", "_").upper() + "_FILE"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory,
          swarm_engine_image: str) -> Iterator[tuple[Path, EngineApi]]:
    repo = copy_repo(tmp_path_factory.mktemp("e2e") / "repo")
    engine_port = free_port()
    stack_file = repo / "docker-compose.swarm.yml"
    stack_file.unlink(missing_ok=True)  # start from the seed, as a new project would
    from workers_tooling import compose_stack

    spec_file = repo / "workers" / "publicacao" / "worker.json"
    spec_file.write_text(json.dumps({**json.loads(spec_file.read_text()), "secrets": [SECRET]}))
    # a quicker rolling update than the defaults (10 s between replicas, 60 s watched):
    # the same rules, 2-3 minutes less waiting
    hello = repo / "workers" / "hello-world" / "worker.json"
    hello.write_text(json.dumps({**json.loads(hello.read_text()),
                                 "update": {"delay": "2s", "monitor": "30s"}}))
    subprocess.run(["docker", "secret", "create", SECRET, "-"], input=SECRET_VALUE, text=True,
                   capture_output=True, check=True)

    compose_stack(repo, stack_file=stack_file)
    hand_edit_engine(stack_file, engine_port)
    database = stack_database(STACK)  # the engine's PostgreSQL: its secret, the node label
    api = EngineApi(f"http://127.0.0.1:{engine_port}/engine-rest")
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in {**database.environ, "ENGINE_IMAGE": swarm_engine_image}.items():
                env.setenv(name, value)
            deploy(repo, stack=STACK, stack_file=stack_file, environment=ENVIRONMENT,
                   base_image=PYTHON_BASE)
            wait_until(api.answers, timeout=300, interval=2, what="the engine service")
            for bpmn in ("hello_world.bpmn", "publicacao.bpmn"):
                files = {bpmn: (bpmn, (repo / "processes" / bpmn).read_bytes(),
                                "application/xml")}
                response = api.http.post("/deployment/create", files=files,
                                         data={"deployment-name": bpmn})
                assert response.status_code == 200, response.text
            yield repo, api
    finally:
        api.close()
        remove_stack(STACK)
        wait_until(lambda: subprocess.run(["docker", "secret", "rm", SECRET],
                                          capture_output=True).returncode == 0,
                   timeout=60, interval=2, what="the secret to be removed")
        database.remove()


def _start(api: EngineApi, count: int, prefix: str) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda n: api.start("hello_world", {"name": f"{prefix}{n}"}),
                             range(count)))


def _start_paced(api: EngineApi, count: int, prefix: str, per_second: float) -> list[str]:
    instances = []
    for n in range(count):
        instances.append(api.start("hello_world", {"name": f"{prefix}{n}"}))
        time.sleep(1 / per_second)
    return instances


def _greeted() -> Counter[str]:
    """Handler executions per process instance, from every replica's log lines."""
    pattern = re.compile(r"greeted \S+ for ([0-9a-f-]{36})")
    counts: Counter[str] = Counter()
    for line in _logs():
        match = pattern.search(line)
        if match:
            counts[match.group(1)] += 1
    return counts


def _logs() -> list[str]:
    for _ in range(3):  # a log stream can stall on Docker 20.10 (see service_logs)
        try:
            return list(service_logs("hello-world", stack=STACK))
        except ToolingError:
            time.sleep(5)
    return list(service_logs("hello-world", stack=STACK))


def _report(name: str, instances: list[str], api: EngineApi) -> int:
    counts = _greeted()
    duplicates = sum(counts[i] - 1 for i in instances if counts[i] > 1)
    print(f"\n[swarm] {name}: started={len(instances)} completed={api.finished(instances)} "
          f"duplicates={duplicates}")
    return duplicates


def _completed(worker: str, port: int) -> float:
    """Completed tasks summed over the replicas' /metrics, read inside each container."""
    containers = _run("docker", "ps", "-q", "--filter",
                      f"label=com.docker.swarm.service.name={STACK}_{worker}").split()
    total = 0.0
    for container in containers:
        text = _run("docker", "exec", container, "python", "-c",
                    "import urllib.request as r; "
                    f"print(r.urlopen('http://127.0.0.1:{port}/metrics').read().decode())")
        total += sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                     if line.startswith("camunda_worker_tasks_handled_total{")
                     and 'outcome="completed"' in line)
    return total


def test_deploy_runs_instances_and_reports(stack: tuple[Path, EngineApi],
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    repo, api = stack
    # deployed with --env local from a rendered file: the stack file is as committed
    assert main(["compose", "--check", "--repo", str(repo)]) == 0
    assert (repo / f".docker-compose.swarm.{STACK}.deploy.yml").is_file()
    instances = _start(api, 200, "first-")
    article = {"titulo": "Boletim", "autor": "Equipe",
               "secoes": [{"titulo": "Notas", "paragrafos": ["Tudo certo."]}]}
    publications = [api.start("publicacao", article) for _ in range(5)]
    api.wait_finished(instances + publications, timeout=300)
    assert _report("deploy", instances, api) == 0
    services = {s.worker: s for s in stack_status(STACK) if s.worker}
    assert (services["hello-world"].running, services["hello-world"].desired) == (1, 1)
    assert services["publicacao"].running == 1
    assert len(_greeted()) >= 200  # `workers logs hello-world` shows the task lines
    monkeypatch.setenv("COLUMNS", "200")  # the status table, unfolded
    assert main(["status", "--stack", STACK]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"^hello-world\s+1/1\s.*local/workers-hello-world:0.1.0", shown, re.M)
    assert main(["logs", "hello-world", "--stack", STACK, "--tail", "5"]) == 0
    assert "greeted" in capsys.readouterr().out
    assert main(["monitoring-status", "--stack", STACK, "--repo", str(stack[0])]) == 0
    shown = capsys.readouterr().out
    # each replica at its overlay address (the port is not published)
    assert re.search(r"up hello-world .*\(1/1 replicas answer\)", shown), shown
    assert re.search(rf"up {STACK}_hello-world\.1\.\w+ on \S+ http://[\d.]+:8001/metrics "
                     r"\(\d+ samples\)", shown), shown
    assert _completed("hello-world", 8001) == 200
    assert _completed("publicacao", 8002) == 5


def test_a_secret_reaches_the_worker_as_a_file_and_never_shows_in_inspect(
        stack: tuple[Path, EngineApi]) -> None:
    service = f"{STACK}_publicacao"
    inspect = _run("docker", "service", "inspect", service)
    assert SECRET_VALUE not in inspect
    [spec] = json.loads(inspect)
    container_spec = spec["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert f"{SECRET_FILE_VARIABLE}=/run/secrets/{SECRET}" in container_spec["Env"]
    assert [s["SecretName"] for s in container_spec["Secrets"]] == [SECRET]

    def container() -> str:
        return _run("docker", "ps", "-q", "--filter",
                    f"label=com.docker.swarm.service.name={service}").split("\n")[0].strip()

    wait_until(lambda: bool(container()), timeout=180, interval=2, what="a publicacao task")
    read = _run("docker", "exec", container(), "python3", "-c",
                f"import os; print(open(os.environ['{SECRET_FILE_VARIABLE}']).read())")
    assert read.strip() == SECRET_VALUE


def test_scale_under_load_without_duplicates(stack: tuple[Path, EngineApi]) -> None:
    repo, api = stack
    instances = _start(api, 300, "scaled-")
    result = scale(["hello-world=3"], stack=STACK, repo=repo)
    # kept for the next deploy: worker.json and the stack file say 3 too
    assert result.written == ("workers/hello-world/worker.json",)
    assert json.loads((repo / "workers/hello-world/worker.json").read_text())["replicas"] == 3
    assert "      replicas: 3\n" in (repo / "docker-compose.swarm.yml").read_text()
    more = _start(api, 200, "scaled-more-")
    api.wait_finished(instances + more, timeout=300)
    wait_until(lambda: next(s for s in stack_status(STACK) if s.worker == "hello-world"
                            ).running == 3, timeout=120, interval=1)
    assert _report("scale to 3", instances + more, api) == 0


def test_rolling_update_under_load_and_rollback_of_a_broken_image(
    stack: tuple[Path, EngineApi],
) -> None:
    repo, api = stack
    stack_file = repo / "docker-compose.swarm.yml"
    main = repo / "workers" / "hello-world" / "main.py"
    spec = repo / "workers" / "hello-world" / "worker.json"
    original_main, original_spec = main.read_text(), spec.read_text()
    main.write_text(original_main.replace('f"Hello, {name}!"', 'f"Hi, {name}!"'))
    spec.write_text(original_spec.replace('"version": "0.1.0"', '"version": "0.1.1"'))
    # 300 instances arrive at ~4/s while the update replaces the replicas one by one.
    with ThreadPoolExecutor(1) as background:
        arriving = background.submit(_start_paced, api, 300, "rolling-", 4.0)
        seconds = _redeploy(repo, stack_file, until="completed", tag="v2")
        print(f"\n[swarm] rolling update took {seconds:.0f}s")
        instances = arriving.result()
    api.wait_finished(instances, timeout=300)
    assert _report("rolling update", instances, api) == 0
    rows = api.post("/history/variable-instance?maxResults=5000&deserializeValues=false",
                    {"variableName": "greeting", "processInstanceIdIn": instances})
    greetings = Counter(row["value"].split(",")[0] for row in rows)
    print(f"[swarm] rolling update: greetings by version {dict(greetings)}")
    assert set(greetings) == {"Hello", "Hi"}  # old and new versions both served
    assert any("draining" in line or "stopped" in line for line in _logs())  # old ones drained
    # TAG=v2: built, tagged and deployed as :v2; the scale to 3 survived the deploy
    services = {s.worker: s for s in stack_status(STACK) if s.worker}
    assert services["hello-world"].image == "local/workers-hello-world:v2"
    assert services["publicacao"].image == "local/workers-publicacao:v2"
    assert services["hello-world"].desired == 3
    assert "v2" not in stack_file.read_text()  # the stack file leaves TAG to the deploy

    # A broken image: never becomes healthy -> the update rolls back by itself.
    main.write_text(original_main.replace("    worker.run()",
                                          "    import time\n    time.sleep(3600)"))
    spec.write_text(original_spec.replace('"version": "0.1.0"', '"version": "0.1.2"'))
    seconds = _redeploy(repo, stack_file, until="rollback_completed", tag="v3")
    print(f"[swarm] broken image rolled back after {seconds:.0f}s")
    image = next(s for s in stack_status(STACK) if s.worker == "hello-world").image
    assert image.endswith(":v2")
    after = _start(api, 50, "after-rollback-")
    api.wait_finished(after, timeout=120)


def _redeploy(repo: Path, stack_file: Path, *, until: str, tag: str) -> float:
    """``TAG=tag workers deploy`` of the changed copy; wait until hello-world's update
    reaches ``until``. The deploy follows the update: it exits 0 once it completed, 1
    when it rolled back."""
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TAG", tag)
        code = main(["deploy", "--stack", STACK, "--stack-file", str(stack_file), "--env",
                     ENVIRONMENT, "--base-image", PYTHON_BASE, "--repo", str(repo)])
    assert code == (1 if until == "rollback_completed" else 0)
    wait_until(lambda: _update_state("hello-world") == until, timeout=400, interval=2,
               what=f"the update to reach {until}")
    return time.monotonic() - started


def _update_state(worker: str) -> str:
    return next(s for s in stack_status(STACK) if s.worker == worker).update_state
