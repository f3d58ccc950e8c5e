"""The engine URL a command was given (``--engine-url`` or ``CAMUNDA_URL``), checked once.

The SDK's rule (:func:`camunda_workers.check_engine_url`) applies: a URL with credentials is
refused with the fix, and no message shows a password.
"""

from __future__ import annotations

from camunda_workers import check_engine_url

from ..errors import ToolingError

__all__ = ["checked_engine_url"]


def checked_engine_url(url: str) -> str:
    """``url`` if a worker can use it, else a :class:`ToolingError` saying why and how."""
    try:
        return check_engine_url(url)
    except ValueError as exc:
        raise ToolingError(f"--engine-url (or CAMUNDA_URL): {exc}") from None
