"""`workers monitoring status` sits beside `start` and `stop`; `monitoring-status`, the name
`make monitoring-status` runs, is the same command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.engine import free_port

from ..helpers import make_repo, run_cli, worker_files


def test_monitoring_status_and_its_earlier_name_answer_alike(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there: the worker is down
    repo = make_repo(tmp_path, worker_files("alpha", port))
    grouped = run_cli(capsys, "monitoring", "status", "--host", "127.0.0.1", "--repo", str(repo))
    earlier = run_cli(capsys, "monitoring-status", "--host", "127.0.0.1", "--repo", str(repo))
    assert grouped == earlier
    code, out, _ = grouped
    assert code == 1
    assert out.startswith(f"down alpha http://127.0.0.1:{port}/metrics (")
