"""``workers compose --autoscale`` writes the autoscaler service (with the monitoring
services), the proxy's bounds on autoscaled workers; ``workers scale`` leaves autoscaled
workers to the autoscaler unless ``--bounds``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.tooling.helpers import docker_stack_config, make_repo, run_cli, worker_files
from workers_tooling import compose_stack
from workers_tooling.autoscale._main import SettingError, workers_from_environment

STACK = "docker-compose.swarm.yml"
POLICY = {"min_replicas": 0, "max_replicas": 6, "tasks_per_replica": 100}


def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe").load(path.read_text())
    assert isinstance(data, dict)
    return data


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path, worker_files("hello-world", 8001, autoscale=POLICY,
                                            secrets=["camunda_user", "camunda_password"]),
                     worker_files("fixed", 8002, replicas=2))


def test_autoscale_adds_the_autoscaler_with_the_monitoring_services(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = compose_stack(repo, autoscale=True)
    assert result.added[-4:] == ("monitoring", "backlog", "socket-proxy", "autoscaler")
    services = load(repo / STACK)["services"]
    autoscaler = services["autoscaler"]
    assert autoscaler["image"].startswith("${REGISTRY:-local}/workers-autoscaler:")
    assert autoscaler["networks"] == ["workers", "docker-api"]
    assert "volumes" not in autoscaler  # the socket proxy alone has the Docker socket
    assert autoscaler["deploy"]["replicas"] == 1
    assert autoscaler["deploy"]["placement"] == {"constraints": ["node.role == manager"]}
    assert autoscaler["deploy"]["labels"]["prometheus.job"] == "camunda-autoscaler"
    assert autoscaler["deploy"]["labels"]["prometheus.port"] == "9181"
    env = autoscaler["environment"]
    assert env["DOCKER_HOST"] == "tcp://socket-proxy:2375"
    assert env["AUTOSCALER_SERVICE"] == "{{.Service.Name}}"
    assert env["AUTOSCALE_INTERVAL"] == "${AUTOSCALE_INTERVAL:-15}"
    assert env["CAMUNDA_USER_FILE"] == "/run/secrets/camunda_user"
    assert autoscaler["secrets"] == ["camunda_password", "camunda_user"]
    # what the service reads back: only the autoscaled worker, its topics and policy
    [worker] = workers_from_environment(env["AUTOSCALE_WORKERS"])
    assert (worker.name, worker.topics) == ("hello-world", ("hello_world",))
    assert (worker.policy.min_replicas, worker.policy.max_replicas,
            worker.policy.tasks_per_replica) == (0, 6, 100)
    # the socket proxy's bounds: on the autoscaled worker only; the proxy knows its stack
    labels = services["hello-world"]["deploy"]["labels"]
    assert (labels["camunda-workers.autoscale.min_replicas"],
            labels["camunda-workers.autoscale.max_replicas"]) == ("0", "6")
    assert not any("autoscale" in key for key in services["fixed"]["deploy"]["labels"])
    assert services["socket-proxy"]["environment"] == {
        "SOCKET_PROXY_SERVICE": "{{.Service.Name}}"}
    docker_stack_config(repo / STACK)  # the Swarm's schema takes it

    # kept without the flag, removed with --no-autoscale (the monitoring services stay)
    assert not compose_stack(repo).changed
    assert compose_stack(repo, autoscale=False).removed == ("autoscaler",)
    assert {"monitoring", "backlog", "socket-proxy"} <= set(load(repo / STACK)["services"])
    assert "autoscaler" not in load(repo / STACK)["services"]


def test_autoscale_refuses_what_cannot_work(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    code, out, err = run_cli(capsys, "compose", "--autoscale", "--no-monitoring",
                             "--repo", str(repo))
    assert code != 0
    assert "--autoscale: the autoscaler needs the monitoring services" in err
    assert "Traceback" not in out + err
    fixed_only = make_repo(tmp_path / "fixed", worker_files("fixed", 8002))
    code, out, err = run_cli(capsys, "compose", "--autoscale", "--repo", str(fixed_only))
    assert code != 0
    assert "no worker has an \"autoscale\" section" in err


@pytest.mark.parametrize(("text", "message"), [
    ("", "AUTOSCALE_WORKERS: not JSON"),
    ("{}", "AUTOSCALE_WORKERS: expected"),
    ('{"w": {"topics": []}}', "AUTOSCALE_WORKERS: w.topics: expected a list of names"),
    ('{"w": {"topics": ["t"], "autoscale": {"max_replicas": 0}}}',
     "AUTOSCALE_WORKERS: w.autoscale: max_replicas:"),
    ('{"w": {"topics": ["t"], "autoscale": {"typo": 1}}}',
     "AUTOSCALE_WORKERS: w.autoscale: typo: Extra inputs"),
])
def test_the_service_refuses_a_bad_setting_in_one_line(text: str, message: str) -> None:
    with pytest.raises(SettingError) as caught:
        workers_from_environment(text)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_scale_leaves_an_autoscaled_worker_to_the_autoscaler(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    compose_stack(repo, autoscale=True)
    spec_path = repo / "workers/hello-world/worker.json"
    before = spec_path.read_text()
    code, out, err = run_cli(capsys, "scale", "hello-world=3", "--repo", str(repo))
    assert code != 0
    assert ("hello-world is autoscaled (workers/hello-world/worker.json: autoscale, 0..6 "
            "replicas): the autoscaler owns its replicas; `workers scale --bounds "
            "hello-world=MIN..MAX` changes its bounds") in " ".join(err.split())
    assert spec_path.read_text() == before

    code, out, err = run_cli(capsys, "scale", "--bounds", "hello-world=1..4",
                             "--repo", str(repo))
    assert (code, err) == (0, "")
    assert json.loads(spec_path.read_text())["autoscale"] == {
        **POLICY, "min_replicas": 1, "max_replicas": 4}
    services = load(repo / STACK)["services"]
    assert services["hello-world"]["deploy"]["labels"][
        "camunda-workers.autoscale.max_replicas"] == "4"
    [worker] = workers_from_environment(services["autoscaler"]["environment"][
        "AUTOSCALE_WORKERS"])
    assert (worker.policy.min_replicas, worker.policy.max_replicas) == (1, 4)

    for bad, says in (("hello-world=5..2", "max_replicas"), ("fixed=0..3", "not an autoscaled"),
                      ("hello-world=3", "expected NAME=MIN..MAX")):
        code, out, err = run_cli(capsys, "scale", "--bounds", bad, "--repo", str(repo))
        assert code != 0, bad
        assert says in err, (bad, err)
        assert "Traceback" not in out + err
