"""The socket proxy (deploy/monitoring/socket_proxy.py) in front of the real Docker daemon.

It passes the reads of Prometheus' Swarm service discovery and refuses anything else;
Debian's real ``prometheus`` discovers the Swarm through it and is refused nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.docker import require_docker_or_skip
from tests.support.docker import run as docker_run
from tests.support.engine import IN_CI, REPO, free_port, wait_until

pytestmark = [pytest.mark.docker]

PROXY = REPO / "deploy" / "monitoring" / "socket_proxy.py"
SOCKET = "/var/run/docker.sock"


class Proxy:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.http = httpx.Client(base_url=url, timeout=10)

    def refused(self) -> list[str]:
        return [line.split("refused ", 1)[1] for line in self.log.read_text().splitlines()
                if " refused " in line]


def _running_proxy(folder: Path, *options: str) -> Iterator[Proxy]:
    require_docker_or_skip()
    port = free_port()
    log = folder / "proxy.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(PROXY), "--listen", f"127.0.0.1:{port}", "--socket", SOCKET,
             *options], stdout=out, stderr=subprocess.STDOUT)
    proxy = Proxy(f"http://127.0.0.1:{port}", log)
    try:
        wait_until(lambda: _answers(proxy), timeout=30, what="the socket proxy")
        yield proxy
    finally:
        proxy.http.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The proxy as before an autoscaler: given no stack, it updates nothing."""
    yield from _running_proxy(tmp_path_factory.mktemp("proxy"))


def _answers(proxy: Proxy) -> bool:
    try:
        return proxy.http.get("/_ping").status_code == 200
    except httpx.HTTPError:
        return False


def _version(proxy: Proxy) -> str:
    return str(proxy.http.get("/version").json()["ApiVersion"])


@pytest.mark.parametrize("path", ["tasks", "services", "nodes", "networks"])
def test_the_reads_of_swarm_discovery_pass(proxy: Proxy, path: str) -> None:
    version = _version(proxy)
    for url in (f"/v{version}/{path}", f"/{path}",
                f'/v{version}/{path}?filters={{"name":["none-such"]}}'):
        answer = proxy.http.get(url)
        assert answer.status_code == 200, (url, answer.text)
        assert isinstance(answer.json(), list)
    assert proxy.http.head(f"/v{version}/_ping").status_code == 200


@pytest.mark.parametrize("request_line", [
    "GET /containers/json", "GET /v{v}/containers/json", "GET /v{v}/secrets",
    "GET /v{v}/configs", "GET /v{v}/info", "GET /v{v}/swarm", "GET /v{v}/images/json",
    "GET /v{v}/services/{service}", "GET /v{v}/tasks/x/logs", "GET /v{v}/tasks/../secrets",
    "GET /v{v}/nodes%2F..%2Fsecrets", "GET /v1.41x/tasks", "GET /v{v}/tasks/",
    "DELETE /v{v}/networks/{network}", "PUT /v{v}/tasks", "OPTIONS /v{v}/tasks",
])
def test_everything_else_is_refused(proxy: Proxy, request_line: str) -> None:
    version = _version(proxy)
    method, path = request_line.split(" ", 1)
    path = path.format(v=version, service="none", network="none")
    answer = proxy.http.request(method, path)
    assert answer.status_code in (403, 404), (request_line, answer.status_code, answer.text)
    if answer.status_code == 404:  # the path never reached the proxy's handler as such
        assert "Docker" not in answer.text
    else:
        assert "not allowed by the socket proxy" in answer.json()["message"]


def test_a_post_through_the_proxy_changes_nothing(proxy: Proxy) -> None:
    """What a compromised Prometheus would try: create a network, a service, a container."""
    version = _version(proxy)
    name = f"proxy-test-{uuid.uuid4().hex[:8]}"
    attempts = {
        f"/v{version}/networks/create": {"Name": name, "Driver": "overlay"},
        f"/v{version}/services/create": {"Name": name, "TaskTemplate": {
            "ContainerSpec": {"Image": "local/python-base:bookworm"}}},
        f"/v{version}/containers/create?name={name}": {"Image": "local/python-base:bookworm"},
        f"/v{version}/tasks": {},
    }
    for path, body in attempts.items():
        answer = proxy.http.post(path, json=body)
        assert answer.status_code == 403, (path, answer.text)
    assert name not in docker_run("docker", "network", "ls", "--format", "{{.Name}}")
    assert name not in docker_run("docker", "service", "ls", "--format", "{{.Name}}")
    assert name not in docker_run("docker", "ps", "-a", "--format", "{{.Names}}")
    assert sum(1 for line in proxy.refused() if line.startswith("POST ")) >= len(attempts)


def test_prometheus_discovers_the_swarm_through_the_proxy_and_is_refused_nothing(
        proxy: Proxy, tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        if IN_CI:
            pytest.fail("prometheus not installed (apt-get install prometheus)", pytrace=False)
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    before = len(proxy.refused())
    host = proxy.url.replace("http://", "tcp://")
    jobs = "".join(
        f"  - job_name: {role}\n    dockerswarm_sd_configs:\n"
        f"      - {{host: '{host}', role: {role}, refresh_interval: 2s}}\n"
        for role in ("tasks", "services", "nodes"))
    (tmp_path / "prometheus.yml").write_text(
        f"global: {{scrape_interval: 1m}}\nscrape_configs:\n{jobs}")
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log_file:
        process = subprocess.Popen(
            ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        def nodes_found() -> list[dict[str, object]]:
            try:
                data = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return []
            return [t for t in data["data"]["activeTargets"] if t["labels"]["job"] == "nodes"]

        nodes = wait_until(nodes_found, timeout=60, interval=1, what="the Swarm's nodes")
        assert nodes[0]["discoveredLabels"]["__meta_dockerswarm_node_role"] == "manager"
    finally:
        process.terminate()
        process.wait(timeout=30)
    errors = [line for line in (tmp_path / "prometheus.log").read_text().splitlines()
              if "level=error" in line]
    assert errors == []
    assert proxy.refused()[before:] == []


def test_a_label_filter_with_an_equals_sign_in_its_value_reaches_the_daemon_as_sent(
        proxy: Proxy) -> None:
    """``label=KEY=VALUE`` where VALUE holds '=' (the autoscaler's stack filter has one):
    forwarded as sent, not re-encoded (an '=' reaching the daemon as %253D matches nothing)."""
    name = f"proxy-label-{uuid.uuid4().hex[:8]}"
    label = f"{name}.key=value=with=equals"
    docker_run("docker", "service", "create", "--detach", "--replicas", "0", "--name", name,
               "--label", label, "local/python-base:bookworm", "true")
    try:
        filters = f'{{"label":["{label}"]}}'
        answer = proxy.http.get(f"/v{_version(proxy)}/services", params={"filters": filters})
        assert answer.status_code == 200, answer.text
        assert [service["Spec"]["Name"] for service in answer.json()] == [name]
    finally:
        docker_run("docker", "service", "rm", name)
