"""The collector's young-generation threshold is raised while Worker.run runs (sdk/_gc.py)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from camunda_workers import Task, Worker
from camunda_workers._gc import YOUNG_THRESHOLD, fewer_young_collections


@pytest.fixture
def thresholds() -> Iterator[tuple[int, ...]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_raised_inside_and_given_back_after(thresholds: tuple[int, ...]) -> None:
    gc.set_threshold(700, 10, 10)
    with fewer_young_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_is_kept(thresholds: tuple[int, ...]) -> None:
    gc.set_threshold(50_000, 5, 5)
    with fewer_young_collections():
        assert gc.get_threshold() == (50_000, 5, 5)
    assert gc.get_threshold() == (50_000, 5, 5)


def test_given_back_after_an_error(thresholds: tuple[int, ...]) -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), fewer_young_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def test_worker_run_holds_it_while_it_runs(thresholds: tuple[int, ...],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    gc.set_threshold(700, 10, 10)
    worker = Worker(name="gc", base_url="http://127.0.0.1:9/engine-rest", environ={})

    @worker.topic("gc_topic")
    async def handle(task: Task) -> None:
        return None

    seen: list[tuple[int, int, int]] = []

    def fake_run(main: Callable[[], Any]) -> None:
        seen.append(gc.get_threshold())

    monkeypatch.setattr(worker.lifecycle, "run", fake_run)
    worker.run()
    assert seen == [(YOUNG_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)
