"""Where rendered publications go: content-addressed files under PUBLICACAO_DIR."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.text import slugify

__all__ = ["StoredDocument", "store"]


@dataclass(frozen=True)
class StoredDocument:
    id: str
    path: Path


def store(html: str, title: str, directory: Path | None = None) -> StoredDocument:
    """Write atomically; the id is a hash of the content, so a retried task stores once."""
    folder = directory or Path(os.environ.get("PUBLICACAO_DIR", tempfile.gettempdir()))
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(html.encode()).hexdigest()[:16]
    doc_id = f"{slugify(title, max_length=40) or 'publicacao'}-{digest}"
    path = folder / f"{doc_id}.html"
    if not path.exists():
        partial = path.with_suffix(".html.tmp")
        partial.write_text(html, encoding="utf-8")
        partial.replace(path)
    return StoredDocument(doc_id, path)
