"""Shared by the tooling tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
               ) -> Path:
    """Each test starts with empty caches (topics, remembered results) of its own: a
    result kept by another test, or by the developer's commands, cannot answer for it,
    and a test that runs a command twice sees the cache work."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("WORKERS_NO_CACHE", raising=False)
    return cache
