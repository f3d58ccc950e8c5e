"""The cyclic garbage collector, tuned for a worker process while ``Worker.run`` runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_THRESHOLD", "fewer_young_collections"]

# Allocations of tracked objects between two collections of the youngest generation
# (Python's default is 700). Every task allocates some 80 (requests, answers, futures,
# mostly aiohttp's): at 700 a collection comes every few tasks and scans the objects of
# the tasks still in flight, then again when they are promoted. At 10,000 most are freed
# by reference counting before any scan: 6 % fewer instructions per no-op task
# (bench/README.md); the young generation then holds at most a few MB.
YOUNG_THRESHOLD = 10_000


@contextmanager
def fewer_young_collections() -> Iterator[None]:
    """Raise the youngest generation's threshold to :data:`YOUNG_THRESHOLD` (never lower
    it), and give back the thresholds found when the block ends."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
