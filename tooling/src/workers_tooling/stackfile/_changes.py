"""What a composition changed, by service name (apart from :mod:`._splice` so that a result
can be made without the YAML machinery: :mod:`._unchanged`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServiceChanges"]


@dataclass(frozen=True, kw_only=True)
class ServiceChanges:
    """The services a composition added, updated and removed, by name."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
