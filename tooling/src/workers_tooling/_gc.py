"""Discovery and compose without the cyclic garbage collector running in between.

They build many small objects at once (a line per stack-file line, a model per
worker.json, a syntax tree per file), none of them in reference cycles that would
outlive the call; a full collection triggered half-way walks all of them and costs about
a fifth of a run with 1,000 workers. Reference counting still frees everything.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["without_gc"]


@contextlib.contextmanager
def without_gc() -> Iterator[None]:
    """Pause the cyclic collector for the block (nesting-safe), then restore it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
