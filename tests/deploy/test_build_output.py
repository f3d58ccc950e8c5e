"""`workers build` shows each image's steps as they run, against the real Docker engine: a
step that prints, sleeps 3 s and prints again; its first line reaches the reporter (and,
through a pipe, the reader of `workers build`) well before the build ends. `--quiet`
prints only the images built, and the failing step's output when one fails.

Each test's Dockerfile prints a token of its own, so no build cache hides the step. Run
under `flock /work/logs/swarm.lock` where several checkouts share the Docker engine.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import WORKERS
from tests.support.docker import PYTHON_BASE, copy_repo, require_docker_or_skip
from tests.support.docker import run as _run
from workers_tooling.swarm._images import build_images

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm"), pytest.mark.timeout(600)]

PAUSE = 3  # seconds the step sleeps between its two lines
PREFIX = "stream-"  # of the workers made here; their images are removed after


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[Path]:
    """A copy of the repository (with its wheelhouse); each test adds a worker to it."""
    require_docker_or_skip(("scripts/base-images.sh", "python"))
    yield copy_repo(tmp_path_factory.mktemp("build-output") / "repo")
    images = _run("docker", "images", "-q", "--filter",
                  f"reference=local/workers-{PREFIX}*").split()
    if images:
        subprocess.run(["docker", "image", "rm", "-f", *set(images)], capture_output=True,
                       check=False)


def _worker(repo: Path, name: str, port: int, run: str) -> None:
    """A worker whose own Dockerfile runs ``run`` on the local Python base."""
    folder = repo / "workers" / name
    folder.mkdir()
    topic = name.replace("-", "_")
    (folder / "worker.json").write_text(json.dumps({"name": name, "port": port,
                                                    "topics": [topic]}))
    (folder / "main.py").write_text(f'worker = object()\n\n\n@worker.topic("{topic}")\n'
                                    "def handle(task): ...\n")
    (folder / "Dockerfile").write_text(f"FROM {PYTHON_BASE}\nRUN {run}\n")


def _slow_step(token: str) -> str:
    return f"echo first-{token} && sleep {PAUSE} && echo second-{token}"


def test_a_steps_lines_reach_the_reporter_while_it_runs(repo: Path) -> None:
    token = secrets.token_hex(4)
    _worker(repo, f"{PREFIX}steps", 8191, _slow_step(token))
    arrived: dict[str, float] = {}
    sources = set()

    def record(source: str, line: str) -> None:
        arrived.setdefault(line, time.monotonic())
        sources.add(source)

    build_images(repo, [f"{PREFIX}steps"], tag="stream", progress=record)
    finished = time.monotonic()
    first, second = arrived[f"first-{token}"], arrived[f"second-{token}"]
    print(f"[build-output] first line {finished - first:.2f}s before the end, second "
          f"{second - first:.2f}s after the first")
    assert finished - first >= PAUSE - 1  # it came as it was printed, not at the end
    assert second - first >= PAUSE - 1
    assert f"Step 2/2 : RUN {_slow_step(token)}" in arrived
    assert f"{PREFIX}steps" in sources


def test_workers_build_prints_them_live_through_a_pipe(repo: Path) -> None:
    """As `make build-all-workers | tee build.log` or a CI log reads it: stdout a pipe."""
    token = secrets.token_hex(4)
    name = f"{PREFIX}pipe"
    _worker(repo, name, 8192, _slow_step(token))
    arrived: dict[str, float] = {}
    with subprocess.Popen([WORKERS, "build", name, "--tag", "stream", "--repo", str(repo)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        for line in child.stdout:
            arrived.setdefault(line.rstrip("\n"), time.monotonic())
        errors = child.stderr.read()
    finished = time.monotonic()
    assert child.returncode == 0, errors
    first = arrived[f"[{name}] first-{token}"]
    print(f"[build-output] through the pipe: first line {finished - first:.2f}s before "
          "the end")
    assert finished - first >= PAUSE - 1
    assert f"[{name}] Step 2/2 : RUN {_slow_step(token)}" in arrived
    assert any(line.startswith(f"built {name}: local/workers-{name}:stream")
               for line in arrived)


def test_quiet_prints_the_images_built_and_a_failed_steps_output(repo: Path) -> None:
    token = secrets.token_hex(4)
    _worker(repo, f"{PREFIX}quiet", 8193, f"echo fine-{token}")
    _worker(repo, f"{PREFIX}broken", 8194, f"echo preparing-{token} && echo oops-{token} "
                                           "&& exit 3")
    built = subprocess.run([WORKERS, "build", "-q", f"{PREFIX}quiet", "--tag", "stream",
                            "--repo", str(repo)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith(f"built {PREFIX}quiet: ")
    assert len(built.stdout.splitlines()) == 1
    failed = subprocess.run([WORKERS, "build", "--quiet", f"{PREFIX}broken", "--tag",
                             "stream", "--repo", str(repo)], capture_output=True, text=True,
                            check=False)
    print(f"[build-output] a quiet failed build, stderr:\n{failed.stderr}")
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert "Traceback" not in failed.stderr
    err = [line for line in failed.stderr.splitlines()  # the copy has no commit to tag
           if not line.startswith("warning: ") or "not a git checkout" not in line]
    assert err[:2] == [f"  preparing-{token}", f"  oops-{token}"]
    assert " ".join(err[2:]).startswith(
        f"error: {PREFIX}broken: image build failed at Step 2/2 : RUN echo preparing-{token}")
    assert "returned a non-zero code: 3" in failed.stderr
