"""bench/ is a folder of scripts, not a package: its `benchkit` is imported from there."""

from __future__ import annotations

import sys

from tests.support.engine import REPO

if str(REPO / "bench") not in sys.path:
    sys.path.insert(0, str(REPO / "bench"))
