"""``workers/worker.schema.json``: the JSON Schema of ``worker.json``, for editors.

Each ``worker.json`` points at it with ``"$schema": "../worker.schema.json"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .._atomic import atomic_write
from ..errors import InputError, ToolingError
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
    try:
        changed = path.read_bytes() != text.encode("utf-8")
    except FileNotFoundError:
        changed = True
    except OSError as exc:
        raise InputError(f"{SCHEMA_FILE}: cannot read ({exc.strerror}); check its "
                         "permissions") from None
    if changed and not check:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text)
        except OSError as exc:
            raise ToolingError(f"{SCHEMA_FILE}: cannot write ({exc.strerror or exc}); the "
                               "file is unchanged; check the folder's permissions") from None
    return SchemaResult(path=path, changed=changed, written=changed and not check)
