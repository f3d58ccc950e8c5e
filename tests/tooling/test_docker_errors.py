"""Clear errors when there is no Docker engine, no Swarm, or a missing image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workers_tooling._docker_client import NotASwarm, require_swarm
from workers_tooling.cli import main


def test_no_docker_engine_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    assert main(["status"]) == 1
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
