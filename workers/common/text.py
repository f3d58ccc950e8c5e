"""Small text helpers shared by workers."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["slugify"]

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, *, separator: str = "-", max_length: int | None = None) -> str:
    """Turn free text into a lowercase ASCII slug usable in keys, file names and URLs.

    Accents are stripped (``"Café Crème"`` -> ``"cafe-creme"``), every run of characters other
    than ``a-z``/``0-9`` becomes one ``separator``, and separators at either end are dropped.
    Characters with no ASCII equivalent (e.g. CJK) are removed, so the result may be ``""``.
    With ``max_length`` the slug is cut to at most that many characters, never ending in a
    separator.

    >>> slugify("Hello, World!")
    'hello-world'
    >>> slugify("  Café Crème  ", separator="_")
    'cafe_creme'
    >>> slugify("Order #12345 for ACME Corp.", max_length=12)
    'order-12345'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NON_WORD.sub(separator, ascii_text.lower()).strip(separator)
    if max_length is not None:
        slug = slug[:max_length].rstrip(separator)
    return slug
