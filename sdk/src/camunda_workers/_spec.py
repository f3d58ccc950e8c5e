"""``worker.json``: the model of a worker's declaration, shared by the SDK and the tooling.

The SDK reads ``name``, ``port``, ``max_tasks`` and ``lock_duration``; the rest describes
the worker's Swarm service (``workers compose``). Unknown keys are refused, nested ones too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from ._validation import validate_model
from .errors import SpecError

__all__ = [
    "Duration",
    "Placement",
    "PlacementPreference",
    "ResourceAmounts",
    "Resources",
    "TopicName",
    "UpdatePolicy",
    "WorkerName",
    "WorkerSpec",
    "load_spec",
]

_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(h|ms|us|ns|m|s))+$")
_MEMORY = re.compile(r"^\d+(\.\d+)? ?[kKmMgGtT]?[iI]?[bB]?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Set by the tooling from other fields; a worker.json may not set them itself.
_DERIVED_ENV = {"METRICS_PORT": '"port"', "WORKER_ID": "the Swarm task name"}
_RESERVED_LABELS = ("camunda-workers.", "prometheus.")


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


def _duration(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration; write e.g. '30s', '1m30s' or '500ms'")
    return value


def duration_seconds(value: str) -> float:
    """``"1m30s"`` -> 90.0 (the Docker duration units h, m, s, ms, us, ns)."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(number) * units[unit]
               for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)", value))


def _cpus(value: str | float) -> str | float:
    try:
        ok = float(value) > 0
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{value!r} is not a CPU count; write e.g. \"0.5\" or 2")
    return value


def _memory(value: str) -> str:
    if not _MEMORY.fullmatch(value):
        raise ValueError(f"{value!r} is not a memory size; write e.g. \"256M\" or \"1G\"")
    return value


def _matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value
    return AfterValidator(check)


# Swarm names a worker's service STACK_NAME, a DNS label of at most 63 characters: 40
# leaves room for stack names of up to 22.
WORKER_NAME_MAX = 40
# The engine keeps a topic in a varchar(255) column (ACT_RU_EXT_TASK.TOPIC_NAME_).
TOPIC_NAME_MAX = 255
WorkerName = Annotated[str, StringConstraints(max_length=WORKER_NAME_MAX),
                       AfterValidator(_kebab_case)]
TopicName = Annotated[str, StringConstraints(max_length=TOPIC_NAME_MAX),
                      AfterValidator(_snake_case)]
Duration = Annotated[str, AfterValidator(_duration), Field(examples=["30s", "1m30s"])]
SecretName = Annotated[str, _matches(_SECRET, "Docker secret name (letters, digits, _ . -)")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceAmounts(_Strict):
    """Amounts of CPU and memory (Swarm ``deploy.resources.limits``/``reservations``)."""

    cpus: Annotated[str | float, AfterValidator(_cpus)] | None = Field(
        default=None, description='CPUs, e.g. "0.5" or 2.')
    memory: Annotated[str, AfterValidator(_memory)] | None = Field(
        default=None, description='Memory, e.g. "256M" or "1G".')


class Resources(_Strict):
    limits: ResourceAmounts | None = None
    reservations: ResourceAmounts | None = None


class PlacementPreference(_Strict):
    spread: str = Field(description="Spread tasks over a node label, e.g. node.labels.zone.")


class Placement(_Strict):
    constraints: list[str] = Field(default_factory=list, examples=[["node.role == worker"]])
    preferences: list[PlacementPreference] = Field(default_factory=list)


class UpdatePolicy(_Strict):
    """How Swarm rolls out a new version (``deploy.update_config``)."""

    parallelism: int = Field(default=1, ge=0, description="Tasks updated at once (0 = all).")
    delay: Duration = "10s"
    order: Literal["start-first", "stop-first"] = "start-first"
    failure_action: Literal["rollback", "pause", "continue"] = "rollback"
    monitor: Duration = Field(default="60s", description=(
        "Watch each new task this long for failure; keep it above the healthcheck's "
        "start period plus a few intervals."))


class WorkerSpec(BaseModel):
    """What ``workers/NAME/worker.json`` declares about a worker."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    schema_ref: str | None = Field(
        default=None, alias="$schema", description="JSON Schema of this file, for editors."
    )
    name: WorkerName = Field(description="Worker name, kebab-case; equals its folder name.")
    description: str = ""
    version: Annotated[str, _matches(_TAG, "version: it is the image tag, e.g. '1.2.0'")] = (
        Field(default="1.0.0", description="The worker's own version (image tag)."))
    entry_point: str = Field(default="main.py", description="Script that runs the worker.")
    port: int = Field(ge=1024, le=65535, description="Port of /metrics, /healthz, /readyz.")
    topics: list[TopicName] = Field(min_length=1, description="External-task topics served.")
    shared_topics: list[TopicName] = Field(default_factory=list, description=(
        "Topics another worker serves too, on purpose (every such worker lists them)."))
    depends_on: list[str] = Field(default_factory=list, description="Services it needs.")
    environment: dict[str, str] = Field(default_factory=dict, description=(
        "Environment of the service, values verbatim (e.g. ${SMTP_HOST:-localhost})."))
    max_tasks: int = Field(default=10, ge=1, le=1000, description="Handlers in flight at most.")
    lock_duration: int = Field(
        default=60_000, ge=1_000, description="Default lock per task, milliseconds."
    )
    replicas: int = Field(default=1, ge=0, le=1000)
    resources: Resources | None = Field(default=None, description="CPU/memory limits.")
    placement: Placement | None = Field(default=None, description="Where tasks may run.")
    secrets: list[SecretName] = Field(
        default_factory=list, description=(
            "Docker secrets mounted at /run/secrets/NAME; NAME_FILE (upper case) points "
            "there, so camunda_password becomes CAMUNDA_PASSWORD_FILE."))
    labels: dict[str, str] = Field(default_factory=dict, description="Service labels.")
    update: UpdatePolicy = Field(default_factory=UpdatePolicy)
    stop_grace_period: Duration = Field(default="30s", description=(
        "Time between SIGTERM and SIGKILL; above the SDK's drain timeout (25 s)."))

    @field_validator("shared_topics")
    @classmethod
    def _shared_are_served(cls, value: list[str], info: ValidationInfo) -> list[str]:
        topics = info.data.get("topics") or []
        for topic in value:
            if topic not in topics:
                raise ValueError(f"{topic!r} is not in \"topics\"; add it there or remove it here")
        return value

    @field_validator("environment")
    @classmethod
    def _environment_names(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = [f"{key} is set from {_DERIVED_ENV[key]}; remove it here" if key in _DERIVED_ENV
                 else f"{key!r} is not a variable name (letters, digits, _)"
                 for key in value if key in _DERIVED_ENV or not _ENV_NAME.fullmatch(key)]
        if wrong:
            raise ValueError("; ".join(wrong))
        return value

    @field_validator("labels")
    @classmethod
    def _own_labels(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = [key for key in value if key.startswith(_RESERVED_LABELS)]
        if reserved:
            raise ValueError(f"{', '.join(map(repr, reserved))}: labels starting with "
                             f"{' or '.join(_RESERVED_LABELS)} are set by the tooling; rename")
        return value


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
