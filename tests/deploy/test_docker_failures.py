"""Docker failures a user meets, each a clear message with the fix, against the real
Docker engine and Swarm: a missing or refused image, a failing build step, a missing
secret, the engine a Docker context selects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import workers
from tests.support.docker import copy_repo, require_docker_or_skip, stack_database
from tests.tooling.helpers import make_repo, worker_files
from workers_tooling.cli import main
from workers_tooling.errors import ToolingError
from workers_tooling.swarm._docker_client import DockerRefused, docker_client
from workers_tooling.swarm._images import BuildFailed, build_images

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]


def test_deploy_without_build_names_the_missing_image(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAG", "never-built-0")
    code = main(["deploy", "--no-build", "--stack", "cw-missing",
                 "--stack-file", str(tmp_path / "stack.yml")])
    assert code == 1
    err = capsys.readouterr().err
    assert "image(s) missing on this Docker engine: local/workers-hello-world:never-built-0" in err
    assert "workers build --all" in err


def test_build_error_names_the_worker_and_the_failing_step(tmp_path: Path,
                                                          wheelhouse: Path) -> None:
    """In a project with its workers and their wheelhouse built (the first build's work,
    not this test's), one more worker whose Dockerfile fails."""
    require_docker_or_skip(("scripts/base-images.sh", "python"))
    repo = copy_repo(tmp_path / "repo")
    worker = repo / "workers" / "broken-one"
    worker.mkdir(parents=True)
    (worker / "worker.json").write_text(
        '{"name": "broken-one", "port": 8090, "topics": ["x"]}')
    (worker / "main.py").write_text('worker = object()\n\n\n@worker.topic("x")\n'
                                    "def handle(task): ...\n")
    (worker / "Dockerfile").write_text(
        "FROM local/python-base:bookworm\nRUN echo preparing\nRUN exit 3\n")
    with pytest.raises(BuildFailed) as caught:
        build_images(repo, ["broken-one"])
    message = str(caught.value)
    assert message.startswith("broken-one: image build failed at Step 3/3 : RUN exit 3")
    assert "returned a non-zero code: 3" in message


def test_docker_context_selects_the_engine(tmp_path: Path) -> None:
    """DOCKER_CONTEXT (docker-py >= 7.2) picks the engine, as it does for the docker CLI."""
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text("{}")  # as every Docker CLI setup has
    for name, socket in (("cw-here", "/var/run/docker.sock"),
                         ("cw-nowhere", f"{tmp_path}/none.sock")):
        subprocess.run(["docker", "--config", str(config), "context", "create", name,
                        "--docker", f"host=unix://{socket}"], check=True, capture_output=True)
    env = {key: value for key, value in os.environ.items() if key != "DOCKER_HOST"}
    runs = {}
    for name in ("cw-here", "cw-nowhere", "cw-unknown"):
        done = subprocess.run([str(Path(sys.executable).with_name("workers")), "status",
                               "--stack", "cw-no-such-stack"], capture_output=True, text=True,
                              env={**env, "DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": name},
                              check=False, timeout=120)
        assert "Traceback" not in done.stdout + done.stderr
        runs[name] = (done.returncode, " ".join(done.stderr.split()))
    assert runs["cw-here"][0] == 1  # reached the engine: it has no such stack
    assert "no stack named 'cw-no-such-stack' is deployed" in runs["cw-here"][1]
    assert runs["cw-nowhere"][0] == 3
    assert "no Docker engine answers" in runs["cw-nowhere"][1]
    assert runs["cw-unknown"][0] == 3  # never the local engine by mistake
    assert f"DOCKER_CONTEXT=cw-unknown: no such Docker context in {config}" in runs["cw-unknown"][1]


def test_deploy_names_a_missing_secret_and_how_to_create_it_before_building(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """worker.json `secrets` are external Docker secrets the operator creates; a missing one
    is named, with the command, before anything is built."""
    repo = make_repo(tmp_path, worker_files("mailer", 8005, secrets=["cw_never_created_pw"]))
    database = stack_database("cw-missing-secret")  # the one the seed's db service names
    monkeypatch.setenv("DB_PASSWORD_SECRET", database.secret)
    try:
        code = main(["deploy", "--stack", "cw-missing-secret", "--repo", str(repo)])
    finally:
        database.remove()
    assert code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert ("Docker secret(s) missing in this Swarm: cw_never_created_pw (services mailer); "
            "create each on a manager") in err
    assert 'printf %s "$VALUE" | docker secret create cw_never_created_pw -' in err
    assert "built" not in err


def test_docker_refuses_or_is_missing(tmp_path: Path) -> None:

    code, out = workers("status", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert code == 3
    assert "no Docker engine answers" in out
    code, out = workers("deploy", "--no-build", "--stack", "cw-failures", "--stack-file",
                        str(tmp_path / "stack.yml"), env={"REGISTRY": "Upper"})
    assert code == 1
    assert ("image Upper/workers-hello-world:0.1.0 (service hello-world): the Docker engine "
            "refused it (") in out
    assert "invalid reference format: repository name must be lowercase); check REGISTRY" in out


def test_the_engine_refusing_a_request_is_a_tooling_error() -> None:
    """A library caller sees the tooling's errors, not the Docker SDK's: the client's
    adapter translates what leaves its ``with`` block (here: an image the engine lacks)."""
    require_docker_or_skip()
    refused = r"the Docker engine refused the request \(.*camunda-workers/never-built.*\); check"
    with pytest.raises(DockerRefused, match=refused) as caught, docker_client() as client:
        client.images.get("camunda-workers/never-built:0")
    assert isinstance(caught.value, ToolingError)
