"""``workers/worker.schema.json``: the JSON Schema of ``worker.json``, for editors.

Each ``worker.json`` points at it with ``"$schema": "../worker.schema.json"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ._atomic import atomic_write
from ._service_spec import ServiceSpec

__all__ = ["SCHEMA_FILE", "SchemaResult", "worker_schema", "write_schema"]

SCHEMA_FILE = "workers/worker.schema.json"


@dataclass(frozen=True)
class SchemaResult:
    path: Path
    changed: bool
    written: bool


def worker_schema() -> str:
    """The schema as text: stable key order, two-space indentation, trailing newline."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **ServiceSpec.model_json_schema(by_alias=True),
    }
    schema["title"] = "worker.json"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schema(repo: Path, *, check: bool = False) -> SchemaResult:
    """Write the schema file if it differs; with ``check``, only tell whether it does."""
    path = repo / SCHEMA_FILE
    text = worker_schema()
    changed = not path.is_file() or path.read_text(encoding="utf-8") != text
    if changed and not check:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    return SchemaResult(path=path, changed=changed, written=changed and not check)
