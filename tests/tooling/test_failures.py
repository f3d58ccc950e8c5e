"""Every failure a user can cause or meet is a message and a documented exit code.

Each case runs the real ``workers`` command in a child process (so a traceback printed
on the way out would be seen too) and checks the exit code, the message (it names the
file or resource and says the fix) and that no output holds a ``Traceback``.
Permissions are checked as an unprivileged user when the tests run as root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import WORKERS, workers
from tests.support.engine import EngineApi, free_port, wait_until
from tests.tooling.template.test_template import commit_all, set_template_version, template_repo

from .helpers import REPO, build_file_tree, make_repo, worker_files

__all__ = ["template_repo"]  # the fixture

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def repo() -> Iterator[Path]:
    """A repository every user can read (not under pytest's private tmp folder)."""
    root = Path(tempfile.mkdtemp(prefix="cw-failures-"))
    os.chmod(root, 0o755)
    try:
        yield make_repo(root, worker_files("alpha", 8001))
    finally:
        shutil.rmtree(root)


def test_a_stack_file_that_is_not_utf8(repo: Path) -> None:
    (repo / "docker-compose.swarm.yml").write_bytes(b"services:\n  db:\n    image: caf\xe9\n")
    code, out = workers("compose", "--repo", str(repo))
    assert code == 2
    assert ("docker-compose.swarm.yml: not UTF-8 (byte 0xe9 on line 3); save it as UTF-8"
            in out)


def test_a_worker_json_in_latin1(repo: Path) -> None:
    spec = repo / "workers/alpha/worker.json"
    spec.write_bytes(spec.read_bytes().replace(b'"1.0.0"', b'"1.0.0", "description": "caf\xe9"'))
    for command in ("discover", "compose"):
        code, out = workers(command, "--repo", str(repo))
        assert code == 2
        assert "workers/alpha/worker.json: not UTF-8 (byte 0xe9 on line" in out
        assert "save the file as UTF-8" in out


@pytest.mark.parametrize(("where", "command", "message"), [
    ("workers/alpha/worker.json", "discover",
     "workers/alpha/worker.json: nested too deeply to read"),
    ("docker-compose.swarm.yml", "compose",
     "docker-compose.swarm.yml: not valid YAML (while increasing flow level exceeded maximum "
     "nesting depth"),
    ("deploy/production.yml", "compose --env production",
     "deploy/production.yml: nested too deeply to read"),
])
def test_input_nested_100000_deep(repo: Path, where: str, command: str, message: str) -> None:
    text = {"workers/alpha/worker.json": '{"name": "alpha", "port": 8001, "x": ' + DEEP + "}",
            "docker-compose.swarm.yml": "services:\n  db:\n    command: " + DEEP + "\n",
            "deploy/production.yml": "all: " + DEEP + "\n"}[where]
    (repo / where).write_text(text)
    code, out = workers(*command.split(), "--repo", str(repo))
    assert code == 2
    assert message in out


def test_files_that_cannot_be_read_or_written(repo: Path) -> None:
    stack = repo / "docker-compose.swarm.yml"
    assert workers("compose", "--repo", str(repo))[0] == 0
    os.chmod(stack, 0o000)
    try:
        code, out = workers("compose", "--check", "--repo", str(repo), unprivileged=True)
    finally:
        os.chmod(stack, 0o644)
    assert code == 2
    assert ("docker-compose.swarm.yml: cannot read (Permission denied); check its permissions"
            in out)
    build_file_tree(repo, worker_files("beta", 8002))
    os.chmod(repo, 0o555)
    os.chmod(repo / "workers", 0o555)
    try:
        compose = workers("compose", "--repo", str(repo), unprivileged=True)
        schema = workers("schema", "--repo", str(repo), unprivileged=True)
    finally:
        os.chmod(repo, 0o755)
        os.chmod(repo / "workers", 0o755)
    assert compose[0] == 1
    assert ("docker-compose.swarm.yml: cannot write (Permission denied); the file is "
            "unchanged; check the folder's permissions") in compose[1]
    assert schema[0] == 1
    assert "workers/worker.schema.json: cannot write (Permission denied)" in schema[1]
    os.chmod(repo / "workers/beta/worker.json", 0o000)
    try:
        code, out = workers("discover", "--repo", str(repo), unprivileged=True)
    finally:
        os.chmod(repo / "workers/beta/worker.json", 0o644)
    assert code == 2
    assert "workers/beta/worker.json: cannot read: Permission denied" in out


def test_not_in_a_repository(tmp_path: Path) -> None:
    code, out = workers("list", cwd=tmp_path)
    assert code == 2
    assert f"{tmp_path} is not inside a camunda-workers repository" in out


def test_usage_errors() -> None:
    code, out = workers("compose", "--no-such-option")
    assert code == 2
    assert "No such option: --no-such-option" in out


def test_git_missing(template_repo: Path, tmp_path: Path) -> None:
    assert workers("new", "mailer", "--topic", "send_mail", "--repo", str(template_repo))[0] == 0
    commit_all(template_repo, "mailer")
    no_git = {"PATH": str(tmp_path / "empty")}
    for command in (["new", "sender", "--topic", "send_it"], ["update"], ["check-update"]):
        code, out = workers(*command, "--repo", str(template_repo), env=no_git)
        assert code == 3, out
        assert ("git is not installed: template versions come from the repository's "
                "history; install git") in out
    assert not (template_repo / "workers/sender").exists()


def test_copier_refusals(template_repo: Path, tmp_path: Path) -> None:
    code, out = workers("new", "mailer", "--topic", "send_mail", "--repo", str(template_repo),
                        "--template", str(tmp_path / "nowhere"))
    assert code == 1
    assert (f"the template {tmp_path / 'nowhere'} does not exist; pass --template "
            "PATH_OR_GIT_URL of a template repository") in out
    code, out = workers("new", "mailer", "--topic", "send_mail", "--repo", str(template_repo),
                        "--vcs-ref", "v9.9.9")
    assert code == 1
    assert "'v9.9.9' is not a version of the template" in out
    # Copier's own error: a template file Jinja cannot read, in a released version
    (template_repo / "template/broken.txt.jinja").write_text("{{ oops\n")
    set_template_version(template_repo, "0.3.0")
    commit_all(template_repo, "template v0.3.0")
    code, out = workers("new", "mailer", "--topic", "send_mail", "--repo", str(template_repo))
    assert code == 1
    assert "broken.txt.jinja" in out, out
    assert not (template_repo / "workers/mailer").exists()
    # a CopierError of Copier's own: a template that needs a newer Copier
    (template_repo / "template/broken.txt.jinja").unlink()
    config = template_repo / "copier.yml"
    config.write_text(config.read_text().replace('_min_copier_version: "9.13"',
                                                 '_min_copier_version: "99.0"'))
    set_template_version(template_repo, "0.3.1")
    commit_all(template_repo, "template v0.3.1")
    code, out = workers("new", "mailer", "--topic", "send_mail", "--repo", str(template_repo))
    assert code == 1
    assert ("the template could not be rendered: This template requires Copier version >= "
            "99.0, while your version of Copier is ") in out
    assert "Upgrade Copier where the tooling runs (`pip install -U copier`)." in out
    assert not (template_repo / "workers/mailer").exists()


@pytest.fixture
def not_an_engine(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server that is not a Camunda engine (a wrong CAMUNDA_URL)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                               "127.0.0.1"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), timeout=30, interval=0.2, what="the HTTP server")
        yield url
    finally:
        server.terminate()
        server.wait(10)


def _answers(url: str) -> bool:
    import httpx

    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def test_docker_host_that_is_not_a_docker_engine(not_an_engine: str) -> None:
    """A wrong DOCKER_HOST port: the HTML error page it answers with stays on one line."""
    host = "tcp://" + not_an_engine.removeprefix("http://")
    done = subprocess.run([WORKERS, "status"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "2000", "DOCKER_HOST": host},
                          check=False)
    assert done.returncode == 3
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: no Docker engine answers (Error while fetching server "
                               "API version: 404 Client Error for ")
    assert lines[0].endswith("start one (`scripts/docker-up.sh` here, or `systemctl start "
                             "docker`), or point DOCKER_HOST (e.g. ssh://user@host) or "
                             "DOCKER_CONTEXT at yours")


def test_demo_against_something_that_is_not_an_engine(not_an_engine: str) -> None:
    code, out = workers("demo", "--engine-url", not_an_engine)
    assert code == 3
    assert (f"{not_an_engine}/engine answered HTTP 404, not the engine list; is "
            f"{not_an_engine} a Camunda 7 REST API (it ends in /engine-rest)?") in out
    code, out = workers("demo", "--engine-url", "http://127.0.0.1:9/engine-rest")
    assert code == 3
    assert "no engine answers at http://127.0.0.1:9/engine-rest (ConnectError" in out


@pytest.mark.parametrize("command", [("demo",), ("monitoring", "start")])
def test_an_engine_url_with_credentials_is_refused_and_never_shown(
        command: tuple[str, ...]) -> None:
    """The SDK's rule for the engine URL holds for the tooling's commands too (issue 17)."""
    code, out = workers(*command, "--engine-url", "http://admin:S3cr3t@127.0.0.1:9/engine-rest")
    assert code == 1
    assert "S3cr3t" not in out
    assert out == ("error: --engine-url (or CAMUNDA_URL): 'http://admin:***@127.0.0.1:9/"
                   "engine-rest' carries credentials, which would show in logs and process "
                   "listings; remove them from the URL and set CAMUNDA_USER and "
                   "CAMUNDA_PASSWORD_FILE (a Docker secret) or CAMUNDA_TOKEN_FILE instead")


@pytest.mark.engine
def test_demo_when_the_engine_refuses(camunda: EngineApi, tmp_path: Path) -> None:
    """The engine answers 404: the BPMN in processes/ has another process id."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "processes", repo / "processes")
    (repo / "workers").mkdir()
    (repo / "sdk").mkdir()
    bpmn = repo / "processes/hello_world.bpmn"
    bpmn.write_text(bpmn.read_text().replace('id="hello_world"', 'id="hello_world_renamed"'))
    # The session's engine is shared: a demo run by an earlier test deployed hello_world.
    httpx.delete(f"{camunda.url}/process-definition/key/hello_world",
                 params={"cascade": "true"}, timeout=30)
    code, out = workers("demo", "--engine-url", camunda.url, "--repo", str(repo))
    assert code == 1
    assert ("starting a hello_world instance (is processes/hello_world.bpmn the process with id "
            f"hello_world?): POST {camunda.url}/process-definition/key/hello_world/start "
            "answered HTTP 404: No matching process definition with key: hello_world") in out
    json.dumps(out)  # one line, printable
