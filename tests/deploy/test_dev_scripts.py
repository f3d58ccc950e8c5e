"""The development scripts are safe by default: ``scripts/docker-up.sh`` writes no file of a
predictable name, and the engine ``engine/engine.sh`` starts answers on loopback only."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.docker import require_docker_or_skip
from tests.support.engine import ENGINE_DIR, IN_CI, REPO, free_port

pytestmark = [pytest.mark.docker]


def test_docker_up_writes_the_version_check_to_no_file(tmp_path: Path) -> None:
    """The `docker version` check's output went to /tmp/.docker-up-version.PID, a name any
    local user can plant a symlink at before root writes through it."""
    require_docker_or_skip()
    real = shutil.which("docker")
    assert real
    record = tmp_path / "outputs"
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    shim.write_text(  # where `docker version` writes its stdout and stderr
        "#!/bin/bash\n"
        f'[[ $1 == version ]] && echo "$(readlink /proc/$$/fd/1) $(readlink /proc/$$/fd/2)"'
        f" >>{record}\n"
        f'exec {real} "$@"\n')
    shim.chmod(0o755)
    done = subprocess.run([str(REPO / "scripts" / "docker-up.sh")], capture_output=True,
                          text=True, check=False,
                          env={**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert "[docker-up] docker: client " in done.stdout
    targets = record.read_text().split()
    assert targets, "docker version was not run"
    assert not [target for target in targets if target.startswith("/")], targets


def _bridge_address() -> str:
    """This machine's address on Docker's default bridge (docker0): not loopback."""
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "docker0"],
                           capture_output=True, text=True, check=True).stdout
    return shown.split(" inet ", 1)[1].split("/", 1)[0]


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


@pytest.fixture
def engine_port() -> Iterator[int]:
    if shutil.which("java") is None:
        if IN_CI:
            pytest.fail("java not installed", pytrace=False)
        pytest.skip("java not installed")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "ENGINE_BIND_ADDRESS"}
    script = str(ENGINE_DIR / "engine.sh")
    try:
        subprocess.run([script, "start", "camunda", "--port", str(port)], check=True,
                       capture_output=True, env=env, timeout=300)
        yield port
    finally:
        subprocess.run([script, "stop", "camunda", "--port", str(port)], check=False,
                       capture_output=True, timeout=60)


def test_the_dev_engine_answers_on_loopback_only(engine_port: int) -> None:
    """`auth: none` and every interface made the engine anyone's on the network; now it
    binds to 127.0.0.1 unless ENGINE_BIND_ADDRESS says otherwise (the image sets 0.0.0.0:
    the Swarm tests reach it through its published port)."""
    require_docker_or_skip()  # docker0 exists
    bridge = _bridge_address()
    assert bridge.count(".") == 3
    assert not bridge.startswith("127.")
    answer = httpx.get(f"http://127.0.0.1:{engine_port}/engine-rest/engine", timeout=10)
    assert answer.status_code == 200
    assert not _connects(bridge, engine_port), f"the engine answers on {bridge}:{engine_port}"
