"""Atomic file writes: a temporary file in the same folder, then ``os.replace``.

Readers see the old file or the new one, never half of one: an error or an interruption
while writing leaves the old file as it was and removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["Writer", "atomic_write", "write_all"]

Writer = Callable[[IO[str], str], None]
"""Writes the text into the open temporary file (tests inject one that fails half-way)."""


def write_all(stream: IO[str], text: str) -> None:
    stream.write(text)


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: Path, text: str, *, writer: Writer = write_all) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, keeping its permissions."""
    mode = _mode(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            writer(stream, text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:  # interrupted too: never leave the temporary file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
