"""``workers compose --monitoring``: the Prometheus, socket proxy and backlog exporter
services; Prometheus' port published only when asked."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from workers_tooling import ToolingError, compose_stack

from ..helpers import REPO, build_file_tree, docker_stack_config, make_repo, run_cli, worker_files

STACK = "docker-compose.swarm.yml"


def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe").load(path.read_text())
    assert isinstance(data, dict)
    return data


def _repo(tmp_path: Path) -> Path:
    repo = make_repo(
        tmp_path,
        worker_files("mailer", 8005, topics=["send_mail", "bounce"],
                     secrets=["camunda_user", "camunda_password", "smtp_key"]),
        worker_files("printer", 8006, topics=["print"]))
    # what the images' digests are made of
    for source in ("deploy/monitoring", "sdk/src/camunda_workers"):
        for path in (REPO / source).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                build_file_tree(repo, {str(path.relative_to(REPO)): path.read_bytes()})
    build_file_tree(repo, {"sdk/pyproject.toml": (REPO / "sdk/pyproject.toml").read_bytes()})
    return repo


def test_monitoring_services_are_added_kept_and_removed(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    compose_stack(repo)
    without = (repo / STACK).read_text()
    result = compose_stack(repo, monitoring=True)
    assert result.added == ("monitoring", "backlog", "socket-proxy")
    services = load(repo / STACK)["services"]
    monitoring, backlog = services["monitoring"], services["backlog"]
    proxy = services["socket-proxy"]
    # the registry is left to the deploy, as for the workers
    assert monitoring["image"].startswith("${REGISTRY:-local}/workers-monitoring:")
    # Prometheus: no published port unless asked, no Docker socket
    assert "ports" not in monitoring
    assert monitoring["networks"] == ["workers", "docker-api"]
    assert monitoring["volumes"] == ["monitoring-data:/prometheus"]
    assert monitoring["deploy"]["placement"] == {"constraints": ["node.role == manager"]}
    assert monitoring["deploy"]["labels"] == {"camunda-workers.component": "monitoring"}
    # the socket proxy alone has the socket, on a manager, on the internal network only
    assert proxy["image"].startswith("${REGISTRY:-local}/workers-socket-proxy:")
    assert proxy["volumes"] == [
        "${MONITORING_DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock"]
    assert proxy["networks"] == ["docker-api"]
    assert "ports" not in proxy
    assert proxy["deploy"]["placement"] == {"constraints": ["node.role == manager"]}
    assert proxy["deploy"]["labels"] == {"camunda-workers.component": "socket-proxy"}
    assert load(repo / STACK)["networks"]["docker-api"] == {"driver": "overlay",
                                                            "internal": True}
    socket_users = [name for name, service in services.items()
                    if any("docker.sock" in volume for volume in service.get("volumes", []))]
    assert socket_users == ["socket-proxy"]
    assert backlog["image"].startswith("${REGISTRY:-local}/workers-backlog:")
    assert backlog["environment"] == {
        "CAMUNDA_URL": "${CAMUNDA_URL:-http://engine:8080/engine-rest}",
        "BACKLOG_TOPICS": "bounce,print,send_mail", "BACKLOG_INTERVAL_SECONDS": "30",
        "METRICS_PORT": "9180",
        "CAMUNDA_PASSWORD_FILE": "/run/secrets/camunda_password",
        "CAMUNDA_USER_FILE": "/run/secrets/camunda_user"}
    assert backlog["secrets"] == ["camunda_password", "camunda_user"]  # not smtp_key
    assert "ports" not in backlog  # scraped over the overlay, like the workers
    assert backlog["deploy"]["labels"] == {
        "camunda-workers.component": "backlog", "prometheus.scrape": "true",
        "prometheus.port": "9180", "prometheus.path": "/metrics",
        "prometheus.job": "camunda-backlog"}
    assert load(repo / STACK)["volumes"] == {"db-data": {}, "monitoring-data": {}}
    rendered = docker_stack_config(repo / STACK)
    assert "published: 9090" not in rendered
    assert "source: /var/run/docker.sock" in rendered

    # kept without the option, byte for byte; a key added by hand stays
    text = (repo / STACK).read_text().replace(
        "    image: ${REGISTRY:-local}/workers-monitoring",
        "    command: [--storage.tsdb.retention.time=90d]"
        "\n    image: ${REGISTRY:-local}/workers-monitoring")
    (repo / STACK).write_text(text)
    assert not compose_stack(repo).changed
    code, out, _ = run_cli(capsys, "compose", "--check", "--repo", str(repo))
    assert code == 0, out

    # a worker's topics follow; a changed rule changes the image (so a deploy rolls it)
    image = load(repo / STACK)["services"]["monitoring"]["image"]
    build_file_tree(repo, worker_files("printer", 8006, topics=["print", "scan"]))
    rules = repo / "deploy/monitoring/rules/alerts.yml"
    rules.write_text(rules.read_text().replace("for: 10m", "for: 15m", 1))
    result = compose_stack(repo)
    assert set(result.updated) == {"monitoring", "backlog"}
    services = load(repo / STACK)["services"]
    assert services["monitoring"]["image"] != image
    assert services["monitoring"]["command"] == ["--storage.tsdb.retention.time=90d"]
    assert services["backlog"]["environment"]["BACKLOG_TOPICS"] == "bounce,print,scan,send_mail"

    code, out, _ = run_cli(capsys, "compose", "--no-monitoring", "--repo", str(repo))
    assert (code, out.splitlines()[0]) == (0, "removed: backlog, monitoring, socket-proxy")
    services = load(repo / STACK)["services"]
    assert not {"monitoring", "backlog", "socket-proxy"} & set(services)
    # as before, but for the declarations (added, never removed)
    after = (repo / STACK).read_text()
    declared = ("  monitoring-data: {}\n",
                "  docker-api:\n    driver: overlay\n    internal: true\n")
    for text in declared:
        assert text in after
        after = after.replace(text, "")
    assert after == without


def test_prometheus_port_is_published_only_when_asked_and_then_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    compose_stack(repo)
    code, out, err = run_cli(capsys, "compose", "--publish-monitoring", "--repo", str(repo))
    assert code == 2
    assert ("--publish-monitoring: the stack has no monitoring services to publish; add them "
            "with --monitoring") in " ".join(err.split())
    compose_stack(repo, monitoring=True)
    assert "ports" not in load(repo / STACK)["services"]["monitoring"]
    code, out, err = run_cli(capsys, "compose", "--publish-monitoring", "--repo", str(repo))
    assert (code, out.splitlines()[0]) == (0, "updated: monitoring"), out + err
    published = [{"target": 9090, "published": "${MONITORING_PORT:-9090}", "mode": "host"}]
    assert load(repo / STACK)["services"]["monitoring"]["ports"] == published
    assert "published: 9090" in docker_stack_config(repo / STACK)
    # kept by a compose without the option (and by one that adds the services again)
    assert not compose_stack(repo).changed
    assert not compose_stack(repo, monitoring=True).changed
    # the socket stays with the proxy whatever is published
    assert "docker.sock" not in str(load(repo / STACK)["services"]["monitoring"])
    code, out, err = run_cli(capsys, "compose", "--no-publish-monitoring", "--repo", str(repo))
    assert code == 0, out + err
    assert "ports" not in load(repo / STACK)["services"]["monitoring"]
    assert not compose_stack(repo).changed


def test_a_stack_file_of_the_old_generator_loses_the_socket_from_prometheus(
        tmp_path: Path) -> None:
    """Prometheus as root with the Docker socket, as the generator wrote it before: the next
    compose moves the socket to the proxy and keeps the port the file published."""
    repo = _repo(tmp_path)
    compose_stack(repo, monitoring=True, publish_monitoring=True)
    text = (repo / STACK).read_text().replace(
        "      - monitoring-data:/prometheus\n",
        "      - ${MONITORING_DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock:ro\n"
        "      - monitoring-data:/prometheus\n", 1)
    assert text != (repo / STACK).read_text()
    (repo / STACK).write_text(text)
    assert compose_stack(repo).updated == ("monitoring",)
    monitoring = load(repo / STACK)["services"]["monitoring"]
    assert monitoring["volumes"] == ["monitoring-data:/prometheus"]
    assert monitoring["ports"][0]["target"] == 9090


def test_a_service_of_that_name_that_is_not_generated_is_an_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    compose_stack(repo)
    text = (repo / STACK).read_text().replace(
        "services:\n", "services:\n  monitoring:\n    image: prom/prometheus\n\n", 1)
    (repo / STACK).write_text(text)
    with pytest.raises(ToolingError, match=r"services\.monitoring exists but is not a "
                                           r"generated monitoring service; rename that service, "
                                           r"or add the label 'camunda-workers\.component: "
                                           r"monitoring'"):
        compose_stack(repo, monitoring=True)
    assert (repo / STACK).read_text() == text  # nothing written


def test_monitoring_services_are_spliced_in_and_leave_the_rest_byte_for_byte(
        tmp_path: Path) -> None:
    """The second family of generated services goes through the same splice as the
    workers: the lines before them stay as they were, CRLF included."""
    repo = _repo(tmp_path)
    compose_stack(repo)
    text = (repo / STACK).read_text().replace("\n", "\r\n")
    (repo / STACK).write_bytes(text.encode())
    result = compose_stack(repo, monitoring=True)
    assert (result.method, result.added) == ("splice", ("monitoring", "backlog", "socket-proxy"))
    after = (repo / STACK).read_bytes().decode()
    assert "\n" not in after.replace("\r\n", "")
    # lines were only inserted (the services, the network's and the volume's declarations)
    matcher = difflib.SequenceMatcher(a=text.splitlines(keepends=True),
                                      b=after.splitlines(keepends=True), autojunk=False)
    inserted = [after.splitlines(keepends=True)[j1:j2]
                for tag, _, _, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    assert {tag for tag, *_ in matcher.get_opcodes()} == {"equal", "insert"}
    assert [block[0].strip() for block in inserted] == ["monitoring:", "docker-api:",
                                                        "monitoring-data: {}"]
    assert not compose_stack(repo).changed
    docker_stack_config(repo / STACK)


def test_a_flow_style_volumes_section_takes_the_round_trip(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Where the monitoring volume cannot be spliced in, the whole file goes through
    ruamel.yaml, and compose says so."""
    repo = _repo(tmp_path)
    compose_stack(repo)
    (repo / STACK).write_text((repo / STACK).read_text().replace(
        "volumes:\n  db-data: {}\n", "volumes: {db-data: {}, cache: {}}\n"))
    code, out, err = run_cli(capsys, "compose", "--monitoring", "--repo", str(repo))
    assert code == 0, out + err
    assert "note: volumes is written in flow style: ruamel.yaml rewrote the whole file" in (
        " ".join(err.split()))
    data = load(repo / STACK)
    assert data["volumes"] == {"db-data": {}, "cache": {}, "monitoring-data": {}}
    assert {"monitoring", "backlog", "socket-proxy"} <= set(data["services"])
    assert data["networks"]["docker-api"] == {"driver": "overlay", "internal": True}
    assert not compose_stack(repo).changed
    docker_stack_config(repo / STACK)


def test_the_autoscaler_image_tag_follows_every_tooling_module_it_copies(
        tmp_path: Path) -> None:
    """autoscaler.Dockerfile copies the whole tooling package; the autoscaler imports
    project/ and stackfile/ modules too, so a change there must change the tag (else
    ``docker stack deploy`` keeps the old autoscaler running)."""
    from workers_tooling.monitoring._services import COMPONENTS, component_image
    from workers_tooling.swarm._image_names import ImageNames

    package = "tooling/src/workers_tooling"
    build_file_tree(tmp_path, {f"{package}/{path}": (REPO / package / path).read_text()
                               for path in ("__init__.py", "autoscale/_act.py",
                                            "project/_service_spec.py")})
    autoscaler = next(c for c in COMPONENTS if c.name == "autoscaler")
    names = ImageNames("local", resolved=True)
    before = component_image(tmp_path, autoscaler, names)
    spec = tmp_path / package / "project" / "_service_spec.py"
    spec.write_text(spec.read_text() + "\n# changed\n")
    assert component_image(tmp_path, autoscaler, names) != before
