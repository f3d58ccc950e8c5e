"""A ``compose`` that changed nothing, remembered (:mod:`.._memo`): run again on the same
files with the same arguments, it answers without PyYAML, ruamel.yaml, pydantic or a
validation of each ``worker.json``.

The key holds everything the stack file's text is made from: the stack file's own text,
every file under ``workers/`` (declarations, the code whose topics are checked),
``deploy/`` (the seed, the overlays, the monitoring services' files), the tooling's code
and the arguments; and when the file has monitoring services or they are asked for
(``monitoring``), ``sdk/`` and ``tooling/``, whose sources tag those services' images.
What is kept is only what the result reports: the worker services' names and how the file
was read (splice or round trip, and why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import _memo

__all__ = ["Unchanged", "recall_unchanged", "remember_unchanged", "unchanged_key"]

_KIND = "compose"
# Folders of the repository the text is made from (besides the stack file itself).
_INPUTS = ("workers", "deploy")
_MONITORING_INPUTS = ("sdk", "tooling")

Unchanged = dict[str, Any]  # {"workers": [...], "method": ..., "reason": ...}


def unchanged_key(repo: Path, stack_file: Path, text: str, arguments: dict[str, Any], *,
                  monitoring: bool) -> str | None:
    """The key of a compose of ``text`` (the stack file's) with ``arguments``; None when
    one of the folders cannot serve as a key or caches are off. ``monitoring``: the file
    has monitoring services, or they are asked for."""
    if not _memo.caching():
        return None
    trees = []
    for folder in (*_INPUTS, *(_MONITORING_INPUTS if monitoring else ())):
        tree = _memo.tree_fingerprint(repo / folder)
        if tree is None:
            return None
        trees.append(tree)
    return _memo.key_of(_memo.code_fingerprint(), str(repo.resolve()),
                        str(stack_file.resolve()), _memo.key_of(text), trees, arguments)


def recall_unchanged(repo: Path, key: str) -> Unchanged | None:
    kept = _memo.recall(repo, _KIND, key)
    return kept if isinstance(kept, dict) else None


def remember_unchanged(repo: Path, key: str, result: Unchanged) -> None:
    _memo.remember(repo, _KIND, key, result)
