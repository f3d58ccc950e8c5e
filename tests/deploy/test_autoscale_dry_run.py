"""``workers autoscale --dry-run`` against the real Swarm and the real engine: the load of
the worker's topics, the replicas its service runs, the decision printed, nothing changed."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.docker import require_docker_or_skip, run
from tests.support.engine import EngineApi, free_port, unique, wait_until
from tests.tooling.helpers import make_repo, run_cli, worker_files
from workers_tooling.autoscale import autoscale_dry_run

pytestmark = [pytest.mark.docker, pytest.mark.engine, pytest.mark.timeout(300)]

POLICY = {"min_replicas": 0, "max_replicas": 6, "tasks_per_replica": 10,
          "cooldown_seconds": 60, "scale_down_window_seconds": 60}


@pytest.fixture
def stack() -> Iterator[str]:
    """A stack with one service, hello-world, at 2 replicas (created as `docker stack
    deploy` names and labels it; the image only sleeps)."""
    require_docker_or_skip()
    name = f"as{uuid.uuid4().hex[:8]}"
    run("docker", "service", "create", "--detach", "--name", f"{name}_hello-world",
        "--label", f"com.docker.stack.namespace={name}", "--replicas", "2",
        "local/python-base:bookworm", "sleep", "600")
    yield name
    run("docker", "service", "rm", f"{name}_hello-world")


def replicas(service: str) -> int:
    spec = json.loads(run("docker", "service", "inspect", service))[0]["Spec"]
    return int(spec["Mode"]["Replicated"]["Replicas"])


def update_state(service: str) -> str:
    attrs = json.loads(run("docker", "service", "inspect", service))[0]
    return str((attrs.get("UpdateStatus") or {}).get("State", ""))


def test_dry_run_prints_decisions_from_engine_and_swarm(
        camunda: EngineApi, stack: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    topic = unique("as_dry")
    repo = make_repo(tmp_path, worker_files("hello-world", 8001, topics=[topic], replicas=2,
                                            autoscale=POLICY),
                     worker_files("idle-one", 8002, autoscale=POLICY),
                     worker_files("fixed", 8003))
    camunda.deploy_external_task(topic)
    camunda.start_many(f"p_{topic}", 58)
    args = ["autoscale", "--dry-run", "--once", "--stack", stack, "--repo", str(repo)]

    code, out, err = run_cli(capsys, *args, "--engine-url", camunda.url)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "[dry-run] would scale: hello-world 2 -> 6: load 58 over 10 per replica",
        f"no service 'idle-one' in stack {stack!r}; `workers status` lists them",
    ]
    assert replicas(f"{stack}_hello-world") == 2  # a dry run changes nothing

    away = f"http://127.0.0.1:{free_port()}/engine-rest"
    code, out, err = run_cli(capsys, *args, "--engine-url", away)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("engine: GET /external-task/topic-names: engine unreachable")
    assert lines[0].endswith("; replicas stay as they are")
    assert lines[1] == "[dry-run] steady: hello-world stays at 2: load unknown (engine away)"

    # the loop: a round every interval until stopped
    stop, seen = threading.Event(), []

    def report(line: str) -> None:
        seen.append(line)
        if len(seen) == 4:
            stop.set()
    rounds = autoscale_dry_run(repo, stack=stack, engine_url=camunda.url, interval=1,
                               once=False, report=report, stop=stop)
    assert rounds == 2
    assert seen[0] == seen[2] == (
        "[dry-run] would scale: hello-world 2 -> 6: load 58 over 10 per replica")

    # a rolling update in progress (60 s between the two replicas): left alone
    service = f"{stack}_hello-world"
    run("docker", "service", "update", "--detach", "--update-parallelism", "1",
        "--update-delay", "60s", "--env-add", "AUTOSCALE_TEST=1", service)
    wait_until(lambda: update_state(service) == "updating", timeout=30)
    code, out, err = run_cli(capsys, *args, "--engine-url", camunda.url)
    assert code == 0
    assert out.splitlines()[0] == (
        "hello-world: update in progress (updating); left alone until it ends")


def test_without_dry_run_or_policy_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, worker_files("fixed", 8003))
    code, out, err = run_cli(capsys, "autoscale", "--repo", str(repo))
    assert (code, out) == (2, "")
    assert err == ("error: the autoscaler that changes replicas runs in the stack: "
                   "`workers deploy --autoscale`; here only --dry-run\n")
    code, out, err = run_cli(capsys, "autoscale", "--dry-run", "--repo", str(repo))
    assert (code, out) == (2, "")
    assert err == ("error: no worker has an \"autoscale\" section in its worker.json; add one "
                   "(docs/production.md, Autoscaling)\n")
