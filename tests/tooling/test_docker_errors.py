"""Clear errors when there is no Docker engine, no Swarm, or a missing image."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path
from typing import Any

import pytest

from workers_tooling.cli import main
from workers_tooling.swarm._docker_client import NotASwarm, require_swarm


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
