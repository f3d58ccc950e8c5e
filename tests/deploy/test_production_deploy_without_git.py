"""``TAG=T workers deploy --env production`` on the host's Swarm, with no git installed.

What a user does on a build machine without git: the images get no commit tag (a
warning, no traceback), the deploy builds, tags and deploys ``:T``, the production overlay
reaches the running service, and the committed stack file is left as it was, so
``make check-compose`` (``workers compose --check``) stays green.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import workers
from tests.support.docker import PYTHON_BASE, remove_stack, require_docker_or_skip, stack_database
from tests.support.engine import REPO

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

REGISTRY = "cw-tooling-test"  # not `local`: the shared local/workers-*:latest stay as they are
STACK = f"cw-tooling-prod-{os.getpid()}"
TAG = f"prod-{os.getpid()}"
IMAGE = f"{REGISTRY}/workers-hello-world"


def path_without(program: str, folder: Path) -> str:
    """A PATH with every program of this one but ``program`` (links in ``folder``)."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = folder / entry.name
            if entry.name != program and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    assert shutil.which(program, path=str(folder)) is None
    return str(folder)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def test_tag_and_production_deploy_without_git(tmp_path: Path) -> None:
    require_docker_or_skip(("scripts/base-images.sh",))
    repo = tmp_path / "repo"  # a copy without .git, with one worker to build
    shutil.copytree(REPO, repo, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".run", "target", "*.jar", ".*_cache", "publicacao"))
    env = {"PATH": path_without("git", tmp_path / "bin"), "PYTHON": sys.executable,
           "REGISTRY": REGISTRY, "TAG": TAG, "BASE_IMAGE": PYTHON_BASE,
           "ENGINE_IMAGE": PYTHON_BASE}  # the engine service only has to be created
    database = stack_database(STACK)  # the db's secret, which deploy checks before building
    env.update(database.environ, POSTGRES_IMAGE=PYTHON_BASE)  # nor does the db have to run
    assert workers("compose", "--repo", str(repo), env=env)[0] == 0  # publicacao removed
    stack_file = repo / "docker-compose.swarm.yml"
    committed = stack_file.read_bytes()
    try:
        # --detach: the engine and db services only have to be created (no server runs)
        code, out = workers("deploy", "--env", "production", "--no-push", "--detach",
                            "--stack", STACK, "--repo", str(repo), env=env)
        assert code == 0, out
        assert "warning: git is not installed (apt-get install git): no commit tag" in out
        assert (f"deployed (not followed) stack {STACK} (1 workers, "
                f".docker-compose.swarm.{STACK}.deploy.yml, images {REGISTRY}/workers-NAME:{TAG})"
                ) in out
        tags = json.loads(docker("image", "inspect", f"{IMAGE}:{TAG}"))[0]["RepoTags"]
        # no commit tag (a cached build may share its image with other repositories' tags)
        assert {t for t in tags if t.startswith(f"{IMAGE}:")} == {f"{IMAGE}:{TAG}",
                                                                 f"{IMAGE}:latest"}
        spec = json.loads(docker("service", "inspect", f"{STACK}_hello-world"))[0]["Spec"]
        task = spec["TaskTemplate"]
        assert task["ContainerSpec"]["Image"].startswith(f"{IMAGE}:{TAG}")
        assert "LOG_FORMAT=json" in task["ContainerSpec"]["Env"]  # deploy/production.yml
        assert task["Resources"]["Limits"]["MemoryBytes"] == 512 * 2**20
        assert stack_file.read_bytes() == committed
        code, out = workers("compose", "--check", "--repo", str(repo), env=env)
        assert (code, out) == (0, f"{stack_file}: up to date")
        assert "LOG_FORMAT: json" in (repo / f".docker-compose.swarm.{STACK}.deploy.yml"
                                      ).read_text()
    finally:
        remove_stack(STACK)
        database.remove()
        subprocess.run(["docker", "image", "rm", "-f", f"{IMAGE}:{TAG}", f"{IMAGE}:latest"],
                       capture_output=True, check=False)
