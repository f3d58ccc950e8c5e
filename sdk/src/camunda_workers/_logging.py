"""Logging for worker processes: plain text, or one JSON object per line (``LOG_FORMAT=json``)."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "configure_logging"]

# Fields a record may carry through ``extra=`` and that JSON output lifts to the top.
CONTEXT_FIELDS = ("worker", "topic", "task_id", "process_instance_id")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "worker", "topic", "task_id", ...}`` per line."""

    def __init__(self, worker: str = "") -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "worker": self.worker,
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, worker: str, level: str, log_format: str | None = None) -> None:
    """Set up the root logger for a worker process, unless the application already did."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    if (log_format or os.environ.get("LOG_FORMAT", "")).lower() == "json":
        handler.setFormatter(JsonFormatter(worker))
    else:
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)s {worker}: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO: one line per poll is noise (the peers' #50).
    logging.getLogger("httpx").setLevel(logging.WARNING)
