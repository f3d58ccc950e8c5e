"""`workers deploy` follows the services and says when they did not converge; `workers
status` shows the current error only, fits an 80-column pipe and exits 1 when a service
is short; a local deploy finds or builds the engine image itself.

Real single-node Swarm, a copy of the repository with hello-world only, a stack name of
this process. Run them under `flock /work/logs/swarm.lock` where several checkouts share
the Swarm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.docker import (
    PYTHON_BASE,
    StackDatabase,
    copy_repo,
    hand_edit_engine,
    remove_stack,
    stack_database,
)
from tests.support.docker import run as _run
from tests.support.engine import REPO, free_port
from workers_tooling.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

STACK = f"cw-follow-{os.getpid()}"
ENGINE_TAG = f"follow-{os.getpid()}"  # local/camunda-engine:ENGINE_TAG, built by the deploy
ENGINE = "camunda"  # the engine's service in the stack file (deploy/stack.seed.yml)


DATABASE: list[StackDatabase] = []  # the stack's PostgreSQL secret, made by the fixture


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, swarm_engine_image: str) -> Iterator[Path]:
    """The copy to deploy; the session's engine image is not used by name (the deploy builds
    its own, of this module's tag), its base images and engine jar are."""
    copy = copy_repo(tmp_path_factory.mktemp("follow") / "repo")
    shutil.rmtree(copy / "workers" / "publicacao")  # one worker is enough here
    stack_file = copy / "docker-compose.swarm.yml"
    stack_file.unlink()
    from workers_tooling import compose_stack

    compose_stack(copy, stack_file=stack_file)
    hand_edit_engine(stack_file, free_port())
    DATABASE.append(stack_database(STACK))
    try:
        yield copy
    finally:
        remove_stack(STACK)
        DATABASE.pop().remove()
        subprocess.run(["docker", "image", "rm", f"local/camunda-engine:{ENGINE_TAG}"],
                       capture_output=True, check=False)


def _deploy(repo: Path, *extra: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`workers deploy` as a user runs it: a process, its output through a pipe."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("ENGINE_IMAGE", "ENGINE_TAG", "TAG", "REGISTRY")}
    env.update(environ, BASE_IMAGE=PYTHON_BASE, **DATABASE[0].environ)
    return subprocess.run(
        [sys.executable, "-m", "workers_tooling.cli", "deploy", "--stack", STACK, "--env",
         "local", "--repo", str(repo), *extra],
        capture_output=True, text=True, env=env, check=False, timeout=600)


def _status() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workers_tooling.cli", "status", "--stack",
                           STACK], capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, "COLUMNS": "80"})


def test_a_missing_engine_image_fails_the_deploy_naming_it_and_the_fix(repo: Path) -> None:
    done = _deploy(repo, "--timeout", "180",
                   environ={"ENGINE_IMAGE": "local/cw-no-such-engine:absent"})
    print(f"\n[follow] missing engine image, exit {done.returncode}:\n{done.stdout}"
          f"{done.stderr}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{ENGINE} 0/1" in done.stdout  # progress lines, per service
    assert "hello-world " in done.stdout
    assert (f"{ENGINE}: 0/1: No such image: local/cw-no-such-engine:absent" in done.stderr)
    assert ("build it with `make engine-image` or set ENGINE_IMAGE" in done.stderr)
    assert "deployed" not in done.stdout
    assert "Traceback" not in done.stderr

    shown = _status()
    print(f"[follow] status through a pipe:\n{shown.stdout}{shown.stderr}")
    assert shown.returncode == 1  # the engine is below its desired count
    assert f"below the desired count: {ENGINE}" in shown.stderr
    lines = shown.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert any(line.startswith(f"{ENGINE} ") and " 0/1 " in line for line in lines)
    assert any(line.startswith("hello-world ") and " 1/1 " in line for line in lines)
    assert "  error: No such image: local/cw-no-such-engine:absent" in shown.stdout


def test_a_local_deploy_builds_the_engine_image_and_converges(repo: Path) -> None:
    environ = {"ENGINE_TAG": ENGINE_TAG}
    # no jar in the copy: it stops before deploying and says what to run
    done = _deploy(repo, environ=environ)
    assert done.returncode == 1
    assert (f"local engine image local/camunda-engine:{ENGINE_TAG} is not on this Docker "
            "engine; build it with `make engine-image` or set ENGINE_IMAGE") in done.stderr

    (repo / "engine" / "target").mkdir(exist_ok=True)
    shutil.copy(REPO / "engine" / "target" / "engine-camunda.jar", repo / "engine" / "target")
    done = _deploy(repo, "--timeout", "400", environ=environ)
    print(f"\n[follow] local engine image, exit {done.returncode}:\n{done.stdout}"
          f"{done.stderr}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"building local/camunda-engine:{ENGINE_TAG}" in done.stdout
    # each build's steps, a line each after the image's name (the engine's, then the worker's)
    assert "[engine] Step 1/" in done.stdout
    assert "[hello-world] Step 1/" in done.stdout
    assert f"[stack] {ENGINE} 1/1 ok" in done.stdout
    assert "hello-world 1/1 ok" in done.stdout
    assert "deployed and converged" in done.stdout

    shown = _status()
    print(f"[follow] status after the fix:\n{shown.stdout}{shown.stderr}")
    assert shown.returncode == 0
    assert "No such image" not in shown.stdout  # the old error is history, not shown
    assert all(len(line) <= 80 for line in shown.stdout.splitlines())


def test_detach_returns_without_following(repo: Path) -> None:
    done = _deploy(repo, "--detach", "--quiet", environ={"ENGINE_TAG": ENGINE_TAG})
    assert done.returncode == 0, done.stderr
    assert "deployed (not followed)" in done.stdout
    assert "Step " not in done.stdout  # --quiet: the images built, their steps not shown
    assert " ok" not in done.stdout


def test_build_without_a_base_image_and_network_says_so(
        repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The fault needs a machine without the local base; this one has it (shared by every
    checkout, so it is not removed): the local name is pointed at an image nobody has."""
    import workers_tooling.swarm._images as images
    from workers_tooling.swarm._base_images import PYTHON_BASE

    if _run("docker", "images", "-q", PYTHON_BASE.public).strip():
        pytest.skip(f"{PYTHON_BASE.public} is on this Docker engine: it would not be pulled")
    monkeypatch.setattr(images, "PYTHON_BASE", PYTHON_BASE.__class__(
        "BASE_IMAGE", PYTHON_BASE.public, "local/cw-absent-base:none", "python"))
    monkeypatch.delenv("BASE_IMAGE", raising=False)
    code = main(["build", "hello-world", "--tag", f"nobase-{os.getpid()}", "--repo", str(repo)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "[hello-world] Step 1/" in out  # the build's steps, as they come
    assert "no BASE_IMAGE is set and python:3.12-slim cannot be pulled here" in err
    assert "scripts/base-images.sh python" in err
