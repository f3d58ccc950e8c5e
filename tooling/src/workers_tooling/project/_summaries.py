"""What ``workers list`` and ``discover`` show of each worker, remembered while nothing
under ``workers/`` and none of the tooling's code changed (:mod:`.._memo`): then neither
pydantic nor the models of ``worker.json`` are imported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import _memo

__all__ = ["worker_summaries"]

_KIND = "summaries"


def _key(repo: Path) -> str | None:
    tree = _memo.tree_fingerprint(repo / "workers")
    return None if tree is None else _memo.key_of(_memo.code_fingerprint(), tree)


def worker_summaries(repo: Path) -> list[dict[str, Any]]:
    """:func:`~._discovery.worker_summary` of each worker of :func:`~._discovery.
    discover_workers` (which raises if any declaration is wrong; nothing is kept then)."""
    key = _key(repo) if _memo.caching() else None
    if key is not None:
        kept = _memo.recall(repo, _KIND, key)
        if isinstance(kept, list):
            return kept
    from ._discovery import discover_workers, worker_summary

    summaries = [worker_summary(worker) for worker in discover_workers(repo)]
    if key is not None and _key(repo) == key:  # unchanged while it ran: safe to keep
        _memo.remember(repo, _KIND, key, summaries)
    return summaries
