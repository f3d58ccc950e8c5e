"""The default stack name, apart from :mod:`._stack` so that the CLI's options need no Docker
SDK import."""

from __future__ import annotations

__all__ = ["DEFAULT_STACK"]

DEFAULT_STACK = "camunda-workers"
