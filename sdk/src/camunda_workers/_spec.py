"""``worker.json``: the model of a worker's declaration, shared by the SDK and the tooling."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ._validation import validate_model
from .errors import SpecError

__all__ = ["TopicName", "WorkerName", "WorkerSpec", "load_spec"]

_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _kebab_case(value: str) -> str:
    if not _KEBAB.fullmatch(value):
        suggestion = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "my-worker"
        raise ValueError(
            f"{value!r} must be kebab-case (lowercase letters, digits, single hyphens), "
            f"e.g. {suggestion!r}"
        )
    return value


def _snake_case(value: str) -> str:
    if not _SNAKE.fullmatch(value):
        suggestion = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or "my_topic"
        raise ValueError(
            f"{value!r} must be snake_case (lowercase letters, digits, single underscores), "
            f"e.g. {suggestion!r}"
        )
    return value


WorkerName = Annotated[str, AfterValidator(_kebab_case)]
TopicName = Annotated[str, AfterValidator(_snake_case)]


class WorkerSpec(BaseModel):
    """What ``workers/NAME/worker.json`` declares about a worker."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    schema_ref: str | None = Field(
        default=None, alias="$schema", description="JSON Schema of this file, for editors."
    )
    name: WorkerName = Field(description="Worker name, kebab-case; equals its folder name.")
    description: str = ""
    version: str = Field(default="1.0.0", description="The worker's own version (image tag).")
    entry_point: str = Field(default="main.py", description="Script that runs the worker.")
    port: int = Field(ge=1024, le=65535, description="Port of /metrics, /healthz, /readyz.")
    topics: list[TopicName] = Field(min_length=1, description="External-task topics served.")
    depends_on: list[str] = Field(default_factory=list, description="Services it needs.")
    environment: dict[str, str] = Field(default_factory=dict)
    max_tasks: int = Field(default=10, ge=1, le=1000, description="Handlers in flight at most.")
    lock_duration: int = Field(
        default=60_000, ge=1_000, description="Default lock per task, milliseconds."
    )
    replicas: int = Field(default=1, ge=0, le=1000)


def load_spec(path: str | Path) -> WorkerSpec:
    """Read and validate a ``worker.json``; every problem is reported at once as SpecError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(source, [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            source, [("", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]
        ) from None
    return validate_model(WorkerSpec, data, source=source)
