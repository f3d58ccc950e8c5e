"""Clear errors when there is no Docker engine, no Swarm, or a missing image."""

from __future__ import annotations

import gc
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from workers_tooling.cli import main
from workers_tooling.errors import ToolingError
from workers_tooling.swarm._docker_client import (
    DockerRefused,
    NotASwarm,
    docker_client,
    require_swarm,
)


def test_no_docker_engine_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    assert main(["status"]) == 3
    with warnings.catch_warnings():  # docker-py leaves a failed unix connect's socket open
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    err = capsys.readouterr().err
    assert "no Docker engine answers" in err
    assert "scripts/docker-up.sh" in err


class _Inactive:
    """A Docker client whose engine is not in a swarm (this machine's engine is one)."""

    def info(self) -> dict[str, Any]:
        return {"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False}}


def test_not_a_swarm_says_docker_swarm_init() -> None:
    with pytest.raises(NotASwarm, match=r"run `docker swarm init`"):
        require_swarm(_Inactive())  # type: ignore[arg-type]


@pytest.mark.docker
def test_the_engine_refusing_a_request_is_a_tooling_error() -> None:
    """A library caller sees the tooling's errors, not the Docker SDK's: the client's
    adapter translates what leaves its ``with`` block (here: an image the engine lacks)."""
    from tests.support.docker import require_docker_or_skip

    require_docker_or_skip()
    refused = r"the Docker engine refused the request \(.*camunda-workers/never-built.*\); check"
    with pytest.raises(DockerRefused, match=refused) as caught, docker_client() as client:
        client.images.get("camunda-workers/never-built:0")
    assert isinstance(caught.value, ToolingError)


@pytest.mark.docker
def test_deploy_without_build_names_the_missing_image(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.docker import require_docker_or_skip

    require_docker_or_skip()
    monkeypatch.setenv("TAG", "never-built-0")
    code = main(["deploy", "--no-build", "--stack", "cw-missing",
                 "--stack-file", str(tmp_path / "stack.yml")])
    assert code == 1
    err = capsys.readouterr().err
    assert "image(s) missing on this Docker engine: local/workers-hello-world:never-built-0" in err
    assert "workers build --all" in err


@pytest.mark.docker
def test_build_error_names_the_worker_and_the_failing_step(tmp_path: Path) -> None:
    from tests.support.docker import require_docker_or_skip
    from tests.support.engine import REPO
    from workers_tooling.swarm._images import BuildFailed, build_images

    require_docker_or_skip(("scripts/base-images.sh",))
    repo = tmp_path / "repo"
    for part in ("sdk", "scripts"):
        shutil.copytree(REPO / part, repo / part,
                        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
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


@pytest.mark.docker
def test_docker_context_selects_the_engine(tmp_path: Path) -> None:
    """DOCKER_CONTEXT (docker-py >= 7.2) picks the engine, as it does for the docker CLI."""
    import os
    import subprocess

    from tests.support.docker import require_docker_or_skip

    require_docker_or_skip()
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


@pytest.mark.docker
def test_deploy_names_a_missing_secret_and_how_to_create_it_before_building(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """worker.json `secrets` are external Docker secrets the operator creates; a missing one
    is named, with the command, before anything is built."""
    from tests.support.docker import require_docker_or_skip, stack_database
    from tests.tooling.helpers import make_repo, worker_files

    require_docker_or_skip()
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
