"""``worker.json``: what a worker declares, and the setting types it shares with the SDK.

The runtime reads ``name``, ``port``, ``max_tasks``, ``lock_duration`` and
``stop_grace_period``; ``topics``, ``version`` and ``entry_point`` describe the worker.
The deployment sections (:data:`DEPLOYMENT_FIELDS`: replicas, autoscale, resources, placement,
update policy, secrets, labels, environment, depends_on) belong to the deployment tooling,
which validates them (``workers_tooling.ServiceSpec`` extends this model); the runtime
accepts them as written and never reads them. Unknown keys are refused.

The constrained types (:data:`MaxTasks`, :data:`LockDuration`, ...) are the one definition
of each rule: :class:`~camunda_workers.WorkerSettings` uses the same ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, overload

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
    "DEFAULT_LOCK_DURATION",
    "DEFAULT_MAX_TASKS",
    "DEPLOYMENT_FIELDS",
    "Duration",
    "LockDuration",
    "MaxTasks",
    "TopicName",
    "WorkerName",
    "WorkerSpec",
    "duration_seconds",
    "load_spec",
]

_DURATION = re.compile(r"^(\d+(\.\d+)?(h|ms|us|ns|m|s))+$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

DEFAULT_MAX_TASKS = 10
DEFAULT_LOCK_DURATION = 60_000
# Sections of worker.json the deployment tooling validates and the runtime ignores.
DEPLOYMENT_FIELDS = ("depends_on", "environment", "replicas", "autoscale", "resources",
                     "placement", "secrets", "labels", "publish_port", "update")


def _lowercase_joined_by(separator: str, style: str, example: str) -> Callable[[str], str]:
    """A validator: lowercase letters and digits in words joined by a single ``separator``
    (``style`` names it in the message, ``example`` is the suggestion of last resort)."""
    pattern = re.compile(rf"^[a-z][a-z0-9]*({re.escape(separator)}[a-z0-9]+)*$")
    word = "hyphens" if separator == "-" else "underscores"

    def validate(value: str) -> str:
        if not pattern.fullmatch(value):
            suggestion = (re.sub(r"[^a-z0-9]+", separator, value.lower()).strip(separator)
                          or example)
            raise ValueError(
                f"{value!r} must be {style} (lowercase letters, digits, single {word}), "
                f"e.g. {suggestion!r}"
            )
        return value

    return validate


_kebab_case = _lowercase_joined_by("-", "kebab-case", "my-worker")
_snake_case = _lowercase_joined_by("_", "snake_case", "my_topic")


def _duration(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration; write e.g. '30s', '1m30s' or '500ms'")
    return value


def duration_seconds(value: str) -> float:
    """``"1m30s"`` -> 90.0 (the Docker duration units h, m, s, ms, us, ns)."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(number) * units[unit]
               for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)", value))


def _version(value: str) -> str:
    if not _TAG.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid version: it is the image tag, e.g. '1.2.0'")
    return value


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
MaxTasks = Annotated[int, Field(ge=1, le=1000, description="Handlers in flight at most.")]
LockDuration = Annotated[int, Field(ge=1_000, description="Default lock per task, milliseconds.")]


class WorkerSpec(BaseModel):
    """What ``workers/NAME/worker.json`` declares about a worker."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    schema_ref: str | None = Field(
        default=None, alias="$schema", description="JSON Schema of this file, for editors."
    )
    name: WorkerName = Field(description="Worker name, kebab-case; equals its folder name.")
    description: str = ""
    version: Annotated[str, AfterValidator(_version)] = Field(
        default="1.0.0", description="The worker's own version (image tag).")
    entry_point: str = Field(default="main.py", description="Script that runs the worker.")
    port: int = Field(ge=1024, le=65535, description="Port of /metrics, /healthz, /readyz.")
    topics: list[TopicName] = Field(min_length=1, description="External-task topics served.")
    shared_topics: list[TopicName] = Field(default_factory=list, description=(
        "Topics another worker serves too, on purpose (every such worker lists them)."))
    max_tasks: MaxTasks = DEFAULT_MAX_TASKS
    lock_duration: LockDuration = DEFAULT_LOCK_DURATION
    stop_grace_period: Duration = Field(default="30s", description=(
        "Time between SIGTERM and SIGKILL; above the SDK's drain timeout (25 s)."))
    # DEPLOYMENT_FIELDS: validated by the deployment tooling, accepted as written here.
    depends_on: Any = None
    environment: Any = None
    replicas: Any = None
    autoscale: Any = None
    resources: Any = None
    placement: Any = None
    secrets: Any = None
    labels: Any = None
    publish_port: Any = None
    update: Any = None

    @field_validator("shared_topics")
    @classmethod
    def _shared_are_served(cls, value: list[str], info: ValidationInfo) -> list[str]:
        topics = info.data.get("topics") or []
        for topic in value:
            if topic not in topics:
                raise ValueError(f"{topic!r} is not in \"topics\"; add it there or remove it here")
        return value


SpecT = TypeVar("SpecT", bound=WorkerSpec)


def _json_mistake(text: str, error: json.JSONDecodeError) -> str:
    """Where the mistake is: the parser stops at the token after a trailing comma or a
    missing one, often on the next line; point at the line of the mistake instead."""
    before = text[: error.pos].rstrip()
    position = len(before) - 1
    if before.endswith(",") and error.msg in (
            "Expecting property name enclosed in double quotes", "Expecting value"):
        what = "a comma with nothing after it; remove it"
    elif error.msg == "Expecting ',' delimiter" and "\n" in text[position + 1: error.pos]:
        what = "a comma is missing after this value; add one"
    else:
        return f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return f"invalid JSON at line {line} column {column}: {what}"


@overload
def load_spec(path: str | Path) -> WorkerSpec: ...
@overload
def load_spec(path: str | Path, *, model: type[SpecT]) -> SpecT: ...
def load_spec(path: str | Path, *, model: type[WorkerSpec] = WorkerSpec) -> WorkerSpec:
    """Read and validate a ``worker.json`` (with ``model``, a subclass of
    :class:`WorkerSpec`); every problem is reported at once as :class:`SpecError`."""
    source = str(path)
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as exc:
        raise SpecError(source, [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark, as some editors write, is fine
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(source, [("", (
            f"not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}); save the file as "
            "UTF-8, as JSON requires"))]) from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(source, [("", _json_mistake(text, exc))]) from None
    except RecursionError:
        raise SpecError(source, [("", (
            "nested too deeply to read; a worker.json is a flat object with a few nested "
            "sections"))]) from None
    return validate_model(model, data, source=source)
