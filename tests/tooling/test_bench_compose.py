"""The scale benchmark runs (a handful of workers, so that it cannot rot); its figures
are in bench/README.md, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .helpers import REPO


def test_the_scale_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(REPO / "bench/compose_scale.py"), "--workers",
                           "3,6", "--repeat", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "| 6 |" in done.stdout
    rows = json.loads(out.read_text())
    assert [row["workers"] for row in rows] == [3, 6]
    assert all(row["wrote_on_no_change"] is False and row["round_trip_no_change"] > 0
               for row in rows)
