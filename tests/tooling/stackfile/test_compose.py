"""``workers compose``: what it writes, --check, atomic writes, overlays, seed, conflicts."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

import pytest
from ruamel.yaml import YAML

from workers_tooling import ToolingError, compose_stack, worker_schema

from ..helpers import (
    REPO,
    build_file_tree,
    docker_stack_config,
    make_repo,
    run_cli,
    section,
    set_workers,
    worker_files,
)

STACK = "docker-compose.swarm.yml"
STACKS = Path(__file__).parent.parent / "stacks"
SEED_DB_SECRET = {"external": True, "name": "${DB_PASSWORD_SECRET:-camunda-workers_db_password}"}


def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe").load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_the_generated_service(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files(
        "mailer", 8005, version="2.1.0", replicas=2,
        environment={"SMTP_HOST": "${REGISTRY:-localhost}", "SMTP_TLS": "yes",
                     "LEGACY": "on", "STRICT": "true", "RETRIES": "8001"},
        secrets=["camunda_user", "camunda_password", "smtp.key"],
        labels={"team": "mail", "audited": "on"},
        resources={"limits": {"cpus": "0.5", "memory": "256M"},
                   "reservations": {"cpus": 0.25}},
        placement={"constraints": ["node.role == worker"],
                   "preferences": [{"spread": "node.labels.zone"}]},
        update={"parallelism": 2, "monitor": "90s"}, stop_grace_period="1m30s",
        depends_on=["engine"], publish_port=True))
    result = compose_stack(repo)
    assert (result.added, result.seeded, result.written) == (("mailer",), True, True)
    service = load(repo / STACK)["services"]["mailer"]
    assert "build" not in service
    assert "depends_on" not in service
    assert service["image"] == "${REGISTRY:-local}/workers-mailer:${TAG:-2.1.0}"
    assert service["environment"] == {
        "CAMUNDA_URL": "${CAMUNDA_URL:-http://engine:8080/engine-rest}",
        "METRICS_PORT": "8005", "WORKER_ID": "{{.Task.Name}}",
        "CAMUNDA_USER_FILE": "/run/secrets/camunda_user",
        "CAMUNDA_PASSWORD_FILE": "/run/secrets/camunda_password",
        "SMTP_KEY_FILE": "/run/secrets/smtp.key",
        "SMTP_HOST": "${REGISTRY:-localhost}", "SMTP_TLS": "yes", "LEGACY": "on",
        "STRICT": "true", "RETRIES": "8001"}
    assert service["ports"] == ["8005:8005"]
    assert service["networks"] == ["workers"]
    assert service["secrets"] == ["camunda_user", "camunda_password", "smtp.key"]
    assert service["healthcheck"] == {
        "test": ["CMD", "python3", "-c", "import urllib.request; "
                 "urllib.request.urlopen('http://127.0.0.1:8005/healthz')"],
        "interval": "10s", "timeout": "5s", "retries": 3, "start_period": "20s"}
    assert service["stop_grace_period"] == "1m30s"
    deploy = service["deploy"]
    assert deploy["replicas"] == 2
    assert deploy["update_config"] == {"parallelism": 2, "delay": "10s", "order": "start-first",
                                       "failure_action": "rollback", "monitor": "90s"}
    assert deploy["rollback_config"]["order"] == "start-first"
    assert deploy["restart_policy"]["condition"] == "any"
    assert deploy["resources"] == {"limits": {"cpus": "0.5", "memory": "256M"},
                                   "reservations": {"cpus": "0.25"}}
    assert deploy["placement"] == {"constraints": ["node.role == worker"],
                                   "preferences": [{"spread": "node.labels.zone"}]}
    assert deploy["labels"] == {
        "camunda-workers.worker": "mailer", "camunda-workers.version": "2.1.0",
        "prometheus.scrape": "true", "prometheus.port": "8005", "prometheus.path": "/metrics",
        "prometheus.job": "camunda-workers",
        "camunda-workers.environment": "CAMUNDA_USER_FILE,CAMUNDA_PASSWORD_FILE,SMTP_KEY_FILE,"
                                       "SMTP_HOST,SMTP_TLS,LEGACY,STRICT,RETRIES",
        "camunda-workers.secrets": "camunda_user,camunda_password,smtp.key",
        "team": "mail", "audited": "on"}
    top = load(repo / STACK)
    assert top["secrets"] == {
        **{name: {"external": True} for name in ("camunda_password", "camunda_user", "smtp.key")},
        "db_password": SEED_DB_SECRET}  # the seed's, for the engine's database
    # YAML 1.1 (the Swarm loader) would read these as booleans or numbers: quoted.
    text = (repo / STACK).read_text()
    for line in ('SMTP_TLS: "yes"', 'LEGACY: "on"', 'STRICT: "true"', 'RETRIES: "8001"',
                 'METRICS_PORT: "8005"', '- "8005:8005"', 'prometheus.scrape: "true"',
                 'audited: "on"', 'WORKER_ID: "{{.Task.Name}}"', 'cpus: "0.5"',
                 "SMTP_HOST: ${REGISTRY:-localhost}\n"):
        assert line in text
    assert "&id" not in text
    assert "*id" not in text
    rendered = docker_stack_config(repo / STACK)
    assert "image: local/workers-mailer:2.1.0" in rendered  # what the deploy runs
    assert 'SMTP_TLS: "yes"' in rendered
    assert 'LEGACY: "on"' in rendered


def test_the_metrics_port_is_published_only_when_worker_json_asks(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("quiet", 8001),
                     worker_files("shown", 8002, publish_port=True))
    compose_stack(repo)
    services = load(repo / STACK)["services"]
    assert "ports" not in services["quiet"]  # Prometheus scrapes it over the overlay
    assert services["shown"]["ports"] == ["8002:8002"]
    set_workers(repo, worker_files("quiet", 8001), worker_files("shown", 8002))
    compose_stack(repo)
    assert "ports" not in load(repo / STACK)["services"]["shown"]  # asked no more: removed


def test_registry_and_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    """The stack file leaves REGISTRY and TAG to the deploy: setting them changes nothing."""
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    compose_stack(repo)
    before = (repo / STACK).read_bytes()
    monkeypatch.setenv("REGISTRY", "registry.example:5000/team")
    monkeypatch.setenv("TAG", "abc123")
    assert not compose_stack(repo).changed
    assert run_cli(capsys, "compose", "--check", "--repo", str(repo))[0] == 0
    assert (repo / STACK).read_bytes() == before
    rendered = docker_stack_config(repo / STACK)  # docker stack deploy fills them in
    assert "image: registry.example:5000/team/workers-alpha:abc123" in rendered


def test_check_reports_a_stale_file_with_a_diff(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    code, out, err = run_cli(capsys, "compose", "--check", "--repo", str(repo))
    assert code == 1
    assert not (repo / STACK).exists()
    assert "+  alpha:" in out
    assert "is stale" in err
    assert run_cli(capsys, "compose", "--repo", str(repo))[0] == 0
    before = (repo / STACK).read_bytes()
    code, out, _ = run_cli(capsys, "compose", "--check", "--repo", str(repo))
    assert (code, out.strip()) == (0, f"{repo / STACK}: up to date")
    build_file_tree(repo, worker_files("alpha", 8001, replicas=4))
    code, out, _ = run_cli(capsys, "compose", "--check", "--repo", str(repo))
    assert code == 1
    assert f"--- a/{STACK}\n+++ b/{STACK}\n" in out
    assert "-      replicas: 1\n+      replicas: 4\n" in out
    assert (repo / STACK).read_bytes() == before


def test_a_run_with_nothing_to_do_writes_nothing(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Not even the same bytes again: the file keeps its inode and modification time."""
    repo = make_repo(tmp_path, worker_files("alpha", 8001), worker_files("beta", 8002))
    assert run_cli(capsys, "compose", "--repo", str(repo))[0] == 0
    stack = repo / STACK
    os.utime(stack, ns=(1_000_000_000, 1_000_000_000))  # any later write would move it
    before = stack.stat()
    code, out, _ = run_cli(capsys, "compose", "--repo", str(repo))
    assert (code, out.strip()) == (0, f"{stack}: unchanged (2 worker services)")
    result = compose_stack(repo)
    assert (result.changed, result.written) == (False, False)
    after = stack.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, 1_000_000_000)
    assert sorted(p.name for p in repo.iterdir() if p.is_file()) == [STACK]  # no temp files


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    compose_stack(repo)
    os.chmod(repo / STACK, 0o640)
    before = (repo / STACK).read_bytes()
    build_file_tree(repo, worker_files("beta", 8002))

    def disk_full(stream: IO[str], text: str) -> None:
        stream.write(text[: len(text) // 2])
        stream.flush()
        raise OSError(28, "No space left on device")

    def interrupted(stream: IO[str], text: str) -> None:
        stream.write(text[:100])
        raise KeyboardInterrupt

    with pytest.raises(ToolingError, match=r"cannot write .*No space left.* file is unchanged"):
        compose_stack(repo, writer=disk_full)
    with pytest.raises(KeyboardInterrupt):
        compose_stack(repo, writer=interrupted)
    assert (repo / STACK).read_bytes() == before
    assert sorted(p.name for p in repo.iterdir() if p.is_file()) == [STACK]  # no temp files
    compose_stack(repo)
    assert "beta:" in (repo / STACK).read_text()
    assert stat.S_IMODE((repo / STACK).stat().st_mode) == 0o640  # permissions kept


def test_production_overlay(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001), worker_files("beta", 8002))
    build_file_tree(repo, {"deploy/production.yml": (
        "all:\n  environment: {LOG_FORMAT: json, VERBOSE: yes}\n"
        "  deploy: {resources: {limits: {memory: 512M}}}\n"
        "workers:\n  beta:\n    deploy: {replicas: 3}\n    stop_grace_period: 2m\n")})
    compose_stack(repo)
    stack = repo / STACK
    # a person adds an environment variable of their own to alpha
    stack.write_text(stack.read_text().replace(
        '      WORKER_ID: "{{.Task.Name}}"\n',
        '      WORKER_ID: "{{.Task.Name}}"\n      MINE: "1"   # by hand\n', 1))
    compose_stack(repo, environment="production")
    services = load(stack)["services"]
    assert services["alpha"]["environment"]["LOG_FORMAT"] == "json"
    assert services["alpha"]["environment"]["VERBOSE"] == "yes"  # a string, quoted
    assert services["alpha"]["deploy"]["resources"] == {"limits": {"memory": "512M"}}
    assert services["alpha"]["deploy"]["replicas"] == 1
    assert (services["beta"]["deploy"]["replicas"], services["beta"]["stop_grace_period"]) == (
        3, "2m")
    docker_stack_config(stack)
    assert not compose_stack(repo, environment="production").changed
    compose_stack(repo)  # back to the plain stack: the overlay's keys go, MINE stays
    services = load(stack)["services"]
    assert set(services["alpha"]["environment"]) == {
        "CAMUNDA_URL", "METRICS_PORT", "WORKER_ID", "MINE"}
    assert "resources" not in services["alpha"]["deploy"]
    assert "MINE: \"1\"   # by hand" in stack.read_text()


@pytest.mark.parametrize(("overlay", "message"), [
    ("all:\n  logging: {driver: none}\n",
     "deploy/production.yml: all.logging: not a key the generator writes; allowed: "
     "environment, deploy, healthcheck, stop_grace_period, ports "
     "(other keys: edit the stack file)"),
    ("workers:\n  nobody: {}\n",
     "deploy/production.yml: workers.nobody: no such worker; known: alpha"),
    ("all:\n  deploy: {mode: global}\n",
     "deploy/production.yml: all.deploy.mode: not a key the generator writes"),
    ("everyone: {}\n", "deploy/production.yml: everyone: unknown key; use 'all' or 'workers'"),
    ("all: [\n", "deploy/production.yml: not valid YAML"),
    (None, "deploy/production.yml: cannot read the overlay of environment 'production'"),
])
def test_bad_overlays(tmp_path: Path, overlay: str | None, message: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    compose_stack(repo)
    before = (repo / STACK).read_bytes()
    if overlay is not None:
        build_file_tree(repo, {"deploy/production.yml": overlay})
    code, _, err = run_cli(capsys, "compose", "--env", "production", "--repo", str(repo))
    assert code == 2
    assert message in " ".join(err.split())
    assert (repo / STACK).read_bytes() == before


def test_the_repository_production_overlay_applies(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("hello-world", 8001))
    build_file_tree(repo, {"deploy/production.yml": (REPO / "deploy/production.yml").read_text()})
    compose_stack(repo, environment="production")
    docker_stack_config(repo / STACK)


def test_seed_and_missing_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "a", worker_files("alpha", 8001))
    result = compose_stack(repo)
    assert result.seeded
    text = (repo / STACK).read_text()
    assert text.startswith((REPO / "deploy/stack.seed.yml").read_text().split("services:")[0])
    assert "image: ${ENGINE_IMAGE:-camunda/camunda-bpm-platform:run-7.24.0}" in text
    docker_stack_config(repo / STACK)
    bare = make_repo(tmp_path / "b", worker_files("alpha", 8001), seed=False)
    code, _, err = run_cli(capsys, "compose", "--repo", str(bare))
    assert code == 2
    assert ("neither docker-compose.swarm.yml nor its seed deploy/stack.seed.yml exists; "
            "restore the seed from git") in " ".join(err.split())


@pytest.mark.parametrize(("stack", "message"), [
    ("services:\n  alpha:\n    image: mine\n",
     "docker-compose.swarm.yml: services.alpha exists but is not a generated worker service; "
     "rename that service, or add the label 'camunda-workers.worker: alpha' under its "
     "deploy.labels to hand it to the generator"),
    ("services:\n  alpha:\n    environment: [A=1]\n    deploy:\n      labels:\n"
     "        camunda-workers.worker: alpha\n",
     "docker-compose.swarm.yml: services.alpha: environment: write it as a mapping "
     "(KEY: value); the generator edits it key by key"),
    ("services: [a, b]\n", "docker-compose.swarm.yml: services: expected a mapping of services"),
    ("services:\n  a: 1\n  a: 2\n", "docker-compose.swarm.yml: not valid YAML"),
    ("- a\n", "docker-compose.swarm.yml: the top level must be a mapping"),
])
def test_stack_files_it_refuses_to_touch(tmp_path: Path, stack: str, message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001), stack=stack)
    code, _, err = run_cli(capsys, "compose", "--repo", str(repo))
    assert code == 2
    assert message in " ".join(err.split())
    assert (repo / STACK).read_text() == stack


def test_hand_edits_inside_a_worker_service(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001, secrets=["camunda_password"]))
    compose_stack(repo)
    stack = repo / STACK
    head, text = stack.read_text().split("  alpha:\n")
    text = text.replace("      - camunda_password\n",
                        "      - camunda_password\n      - source: tls_cert   # by hand\n"
                        "        target: /certs/cert.pem\n")
    text = text.replace("      replicas: 1\n", "      replicas: 1   # scaled by ops\n"
                        "      mode: replicated   # by hand\n", 1)
    text = text.replace("        monitor: 60s\n", "        monitor: 60s   # watched\n", 1)
    text = text.replace("    stop_grace_period: 30s\n",
                        "    stop_grace_period: 30s\n    # logging by hand\n"
                        "    logging:\n      driver: none\n")
    text += "  tls_cert:\n    external: true\n"
    stack.write_text(head + "  alpha:\n" + text)
    # the worker changes: replicas, secrets, port
    set_workers(repo, worker_files("alpha", 8002, replicas=2, secrets=["camunda_user"],
                                   update={"parallelism": 2}))
    result = compose_stack(repo)
    assert result.updated == ("alpha",)
    alpha = load(stack)["services"]["alpha"]
    assert alpha["secrets"] == [{"source": "tls_cert", "target": "/certs/cert.pem"},
                                "camunda_user"]
    assert alpha["deploy"]["mode"] == "replicated"
    assert alpha["logging"] == {"driver": "none"}
    assert "CAMUNDA_PASSWORD_FILE" not in alpha["environment"]
    assert alpha["environment"]["CAMUNDA_USER_FILE"] == "/run/secrets/camunda_user"
    out = section(stack.read_text(), "services")
    assert alpha["deploy"]["update_config"]["parallelism"] == 2
    for comment in ("replicas: 2   # scaled by ops", "monitor: 60s   # watched",
                    "mode: replicated   # by hand", "- source: tls_cert   # by hand",
                    "# logging by hand"):
        assert comment in out
    docker_stack_config(stack)


def test_build_and_depends_on_are_removed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    compose_stack(repo)
    stack = repo / STACK
    stack.write_text(stack.read_text().replace(
        "  alpha:\n", "  alpha:\n    build: workers/alpha\n    depends_on: [engine]\n"))
    assert compose_stack(repo).updated == ("alpha",)
    assert {"build", "depends_on"}.isdisjoint(load(stack)["services"]["alpha"])


def test_worker_services_stay_in_name_order(tmp_path: Path) -> None:
    """Workers are kept in name order between the other services; new ones slot in."""
    repo = make_repo(tmp_path, worker_files("bravo", 8002), worker_files("delta", 8004))
    compose_stack(repo)
    set_workers(repo, *(worker_files(name, 8000 + n) for n, name in
                        enumerate(["alpha", "bravo", "charlie", "delta", "echo"], 1)))
    compose_stack(repo)
    services = list(load(repo / STACK)["services"])
    assert services == ["camunda", "db", "alpha", "bravo", "charlie", "delta", "echo"]


def test_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    path = repo / "workers/worker.schema.json"
    assert run_cli(capsys, "schema", "--check", "--repo", str(repo))[0] == 1
    code, out, _ = run_cli(capsys, "schema", "--repo", str(repo))
    assert (code, out.strip()) == (0, f"{path}: written")
    assert path.read_text() == worker_schema()
    assert worker_schema().endswith("}\n")
    assert run_cli(capsys, "schema", "--check", "--repo", str(repo))[0] == 0
    assert worker_schema() == worker_schema()


def test_the_repository_is_current() -> None:
    """The committed schema and stack file match the workers (what `make check-compose` does)."""
    assert (REPO / "workers/worker.schema.json").read_text() == worker_schema()
    result = compose_stack(REPO, check=True)
    assert not result.changed, result.diff


def test_depends_on_names_services_of_the_stack(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # the seed's engine service is `camunda`, with `engine` (its name before) as an alias
    repo = make_repo(tmp_path, worker_files("alpha", 8001, depends_on=["engine", "beta"]),
                     worker_files("beta", 8002, depends_on=["engin", "camunda", "redis"]))
    code, _, err = run_cli(capsys, "compose", "--repo", str(repo))
    assert code == 2
    err = " ".join(err.split())
    assert ("workers/beta/worker.json: depends_on: 'engin' is not a service of "
            "docker-compose.swarm.yml; did you mean 'engine'?") in err
    assert ("workers/beta/worker.json: depends_on: 'redis' is not a service of "
            "docker-compose.swarm.yml; services: camunda, db, alpha, beta; the engine service "
            "is 'camunda'") in err
    assert "'camunda' is not" not in err  # what the seed's worker.json examples say
    assert "workers/alpha" not in err  # another worker's service is a service of the stack
    assert not (repo / STACK).exists()  # nothing written
    set_workers(repo, worker_files("alpha", 8001, depends_on=["engine", "beta"]),
                worker_files("beta", 8002, depends_on=["engine"]))
    assert run_cli(capsys, "compose", "--repo", str(repo))[0] == 0
    assert "depends_on" not in (repo / STACK).read_text()  # Swarm ignores it: not written


def test_depends_on_in_a_stack_file_from_before_the_rename_names_the_engine_service(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack file whose engine service is still `engine`: a worker.json copied from the
    seed (`["camunda"]`) is told the name to use."""
    repo = make_repo(tmp_path, worker_files("alpha", 8001, depends_on=["camunda"]),
                     stack=(STACKS / "minimal.yml").read_text())
    code, _, err = run_cli(capsys, "compose", "--repo", str(repo))
    assert code == 2
    assert ("workers/alpha/worker.json: depends_on: 'camunda' is not a service of "
            "docker-compose.swarm.yml; services: engine, alpha; the engine service is "
            "'engine'") in " ".join(err.split())
