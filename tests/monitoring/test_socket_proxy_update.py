"""The socket proxy's one write, in front of the real Docker daemon: the autoscaler may
change the replicas of an autoscaled service of its stack, within the service's bounds,
and nothing else (what a compromised autoscaler or Prometheus would try is refused)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.monitoring.test_socket_proxy import Proxy, _running_proxy
from tests.support.docker import require_docker_or_skip
from tests.support.docker import run as docker_run

pytestmark = [pytest.mark.docker]

MAX = "camunda-workers.autoscale.max_replicas"
MIN = "camunda-workers.autoscale.min_replicas"


@pytest.fixture(scope="module")
def stack() -> str:
    return f"px{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def services(stack: str) -> Iterator[dict[str, str]]:
    """Three services at 0 replicas: autoscaled in the stack, fixed in the stack, and
    autoscaled in another stack."""
    require_docker_or_skip()
    made = {"autoscaled": (stack, True), "fixed": (stack, False),
            "elsewhere": (f"{stack}x", True)}
    names = {}
    for role, (namespace, autoscaled) in made.items():
        name = f"{namespace}_{role}"
        bounds = ["--label", f"{MIN}=0", "--label", f"{MAX}=3"] if autoscaled else []
        docker_run("docker", "service", "create", "--detach", "--name", name, "--label",
                   f"com.docker.stack.namespace={namespace}", *bounds, "--replicas", "0",
                   "local/python-base:bookworm", "sleep", "600")
        names[role] = name
    yield names
    for name in names.values():
        docker_run("docker", "service", "rm", name)


@pytest.fixture(scope="module")
def plain_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The proxy as Prometheus had it before the autoscaler: no stack."""
    yield from _running_proxy(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def scaler_proxy(tmp_path_factory: pytest.TempPathFactory, stack: str) -> Iterator[Proxy]:
    yield from _running_proxy(tmp_path_factory.mktemp("scaler"), "--stack", stack)


def inspect(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(docker_run("docker", "service", "inspect", name))[0]
    return data


def read(proxy: Proxy, name: str) -> dict[str, Any]:
    """The service as the autoscaler reads it: the API's answer, through the proxy
    (``docker service inspect`` inserts the defaults into the spec; the API does not)."""
    answer = proxy.http.get("/services", params={"filters": json.dumps({"name": [name]})})
    found: list[dict[str, Any]] = answer.json()
    return next(service for service in found if service["Spec"]["Name"] == name)


def update(proxy: Proxy, name: str, change: Callable[[dict[str, Any]], None] | None = None,
           *, replicas: int = 1, query: str = "") -> tuple[int, str]:
    """POST an update of ``name`` through ``proxy``: its current spec with ``replicas``
    and ``change`` applied."""
    service = read(proxy, name)
    spec = copy.deepcopy(service["Spec"])
    spec["Mode"] = {"Replicated": {"Replicas": replicas}}
    if change is not None:
        change(spec)
    answer = proxy.http.post(
        f"/services/{service['ID']}/update?version={service['Version']['Index']}{query}",
        json=spec)
    return answer.status_code, answer.text


def test_the_autoscaler_changes_replicas_of_its_stacks_autoscaled_services(
        scaler_proxy: Proxy, services: dict[str, str]) -> None:
    name = services["autoscaled"]
    before = inspect(name)
    assert update(scaler_proxy, name, replicas=2)[0] == 200
    after = inspect(name)
    assert after["Spec"]["Mode"] == {"Replicated": {"Replicas": 2}}
    assert {**after["Spec"], "Mode": None} == {**before["Spec"], "Mode": None}
    assert update(scaler_proxy, name, replicas=0)[0] == 200


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return change


@pytest.mark.parametrize(("change", "replicas", "query", "why"), [
    (None, 4, "", "Replicas must be a number from 0 to 3"),
    (None, -1, "", "Replicas must be a number from 0 to 3"),
    (_set("TaskTemplate.ContainerSpec.Image", "local/evil"), 1, "", "only Mode.Replicated"),
    (_set("TaskTemplate.ContainerSpec.Args", ["sh", "-c", "id"]), 1, "", "only Mode.Replicated"),
    (_set("TaskTemplate.ContainerSpec.Mounts", [{"Type": "bind", "Source": "/",
                                                 "Target": "/host"}]), 1, "",
     "only Mode.Replicated"),
    (_set(f"Labels.{MAX}", "1000"), 1, "", "only Mode.Replicated"),
    (_set("Labels.com.docker.stack.namespace", "other"), 1, "", "only Mode.Replicated"),
    (_set("Mode", {"Global": {}}), 1, "", "only Mode.Replicated.Replicas"),
    (None, 1, "&rollback=previous", "the only parameter allowed is version=N"),
    (None, 1, "&registryAuthFrom=previous-spec", "the only parameter allowed is version=N"),
])
def test_any_other_change_is_refused(scaler_proxy: Proxy, services: dict[str, str],
                                     change: Callable[[dict[str, Any]], None] | None,
                                     replicas: int, query: str, why: str) -> None:
    name = services["autoscaled"]
    before = inspect(name)
    status, text = update(scaler_proxy, name, change, replicas=replicas, query=query)
    assert status == 403, text
    assert why in json.loads(text)["message"]
    assert inspect(name)["Version"] == before["Version"]  # the daemon saw nothing


@pytest.mark.parametrize(("role", "why"), [
    ("fixed", "not autoscaled"), ("elsewhere", "not in stack"),
])
def test_services_it_does_not_own_are_refused(scaler_proxy: Proxy, services: dict[str, str],
                                              role: str, why: str) -> None:
    status, text = update(scaler_proxy, services[role])
    assert status == 403
    assert why in json.loads(text)["message"]
    assert inspect(services[role])["Spec"]["Mode"] == {"Replicated": {"Replicas": 0}}


def test_a_stale_version_or_a_proxy_without_a_stack_updates_nothing(
        scaler_proxy: Proxy, plain_proxy: Proxy, services: dict[str, str]) -> None:
    name = services["autoscaled"]
    service = read(scaler_proxy, name)
    spec = {**service["Spec"], "Mode": {"Replicated": {"Replicas": 1}}}
    stale = scaler_proxy.http.post(
        f"/services/{service['ID']}/update?version={service['Version']['Index'] - 1}",
        json=spec)
    assert stale.status_code == 403
    assert "current version" in stale.json()["message"]
    # Prometheus' proxy of before (no --stack): refuses every update
    plain = plain_proxy.http.post(
        f"/services/{service['ID']}/update?version={service['Version']['Index']}", json=spec)
    assert plain.status_code == 403
    assert "given no stack" in plain.json()["message"]
    not_json = scaler_proxy.http.post(
        f"/services/{service['ID']}/update?version={service['Version']['Index']}",
        content=b"\\x00 not json")
    assert not_json.status_code == 403
    assert read(scaler_proxy, name)["Version"] == service["Version"]
