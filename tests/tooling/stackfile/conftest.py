"""Shared by the stack-file tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_registry_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The image names these tests expect are the defaults: REGISTRY and TAG of the shell
    that runs them must not leak in."""
    monkeypatch.delenv("REGISTRY", raising=False)
    monkeypatch.delenv("TAG", raising=False)
