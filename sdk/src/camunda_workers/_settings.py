"""Worker settings: one pydantic model fed by keyword arguments, environment and worker.json.

Precedence, highest first: keyword arguments given in code, environment variables,
``worker.json``, the defaults below.
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from collections.abc import Mapping
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ._spec import (
    DEFAULT_LOCK_DURATION,
    DEFAULT_MAX_TASKS,
    LockDuration,
    MaxTasks,
    WorkerName,
    WorkerSpec,
    duration_seconds,
)
from ._validation import validate_model
from .errors import SpecError

__all__ = [
    "DEFAULT_MAX_ANSWER_BYTES", "ENV_VARIABLES", "RENAMED_SETTINGS", "SETTINGS_FROM_SPEC",
    "SHUTDOWN_TEARDOWN", "WorkerOptions", "WorkerSettings", "check_engine_url",
    "redacted_url", "renamed_options", "resolve_settings",
]

# Seconds a stopping process needs after its shutdown deadline to close and exit.
SHUTDOWN_TEARDOWN = 0.3
# The largest engine answer read: an eighth of the 512 MiB a production replica may use
# (deploy/production.yml), so that one answer never gets a worker OOM-killed.
DEFAULT_MAX_ANSWER_BYTES = 64 * 2**20
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# The user info of a URL: everything between "//" and the last "@" before the path.
_USER_INFO = re.compile(r"(?<=//)([^/?#]*)@")


def redacted_url(url: str) -> str:
    """``url`` fit for a message: ``http://admin:***@engine`` (a lone user name may be a
    token: ``http://***@engine``). Works on URLs that do not parse, too."""
    def hide(match: re.Match[str]) -> str:
        user, colon, _ = match.group(1).partition(":")
        return f"{user}:***@" if colon else "***@"
    return _USER_INFO.sub(hide, url, count=1)


def check_engine_url(value: str) -> str:
    """``value`` if it is an engine REST URL a worker can use, else ``ValueError`` with the
    reason and the fix; the URL shows redacted (every message may end up in a log)."""
    example = "e.g. http://localhost:8080/engine-rest"
    shown = redacted_url(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{shown!r} must start with http:// or https://, {example}")
    if "@" in parts.netloc:
        raise ValueError(
            f"{shown!r} carries credentials, which would show in logs and process "
            f"listings; remove them from the URL and set CAMUNDA_USER and "
            f"CAMUNDA_PASSWORD_FILE (a Docker secret) or CAMUNDA_TOKEN_FILE instead")
    if not parts.hostname:
        raise ValueError(f"{shown!r} has no host, {example}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535, {example}")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown!r} must not have a query or fragment, {example}")
    return value


class WorkerSettings(BaseModel):
    """Every setting of a :class:`~camunda_workers.Worker` (durations as their fields say)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: WorkerName
    base_url: str = Field(default="http://localhost:8080/engine-rest",
                          description="The engine's REST API, e.g. http://host:8080/engine-rest.")
    worker_id: str = Field(default="", description="Default: NAME-HOSTNAME-PID.")
    max_tasks: MaxTasks = DEFAULT_MAX_TASKS
    lock_duration_ms: LockDuration = DEFAULT_LOCK_DURATION
    async_response_timeout_ms: int | None = Field(
        default=None, ge=0, le=1_800_000,
        description="Long-poll wait, ms. Default 10 000, less if drain_timeout_seconds needs "
                    "it: a stopping worker waits for its last poll.")
    http_timeout_seconds: float = Field(default=10.0, gt=0,
                                        description="Timeout of other requests, s.")
    max_answer_bytes: int = Field(
        default=DEFAULT_MAX_ANSWER_BYTES, ge=2**16,
        description="Largest engine answer read (a fetch, a File variable), bytes; a larger "
                    "one is an engine error, a larger File fails its task.")
    retries: int = Field(default=3, ge=0, description="Retries after a task's first failure.")
    retry_timeout_ms: int = Field(default=5_000, ge=0,
                                  description="Wait before the 1st retry, ms.")
    retry_backoff: float = Field(default=2.0, ge=1.0, description="Factor per further retry.")
    max_retry_timeout_ms: int = Field(default=600_000, ge=0, description="Cap of the wait, ms.")
    backoff_initial_seconds: float = Field(default=0.5, gt=0,
                                           description="First wait after an engine error, s.")
    backoff_max_seconds: float = Field(default=30.0, gt=0, description="Cap of that wait, s.")
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True
    port: int | None = Field(default=None, ge=0, le=65535, description="Metrics/health port.")
    drain_timeout_seconds: float = Field(default=25.0, ge=0,
                                         description="Wait for in-flight tasks, s.")
    use_priority: bool | Literal["auto"] = Field(
        default="auto",
        description="fetchAndLock's usePriority. 'auto': false until the worker fetches a "
                    "task whose priority is not 0, true from then on (the engine's priority "
                    "order costs a sort of the backlog and makes concurrent fetches take "
                    "the same tasks).")
    log_level: str = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        # WorkerSettings(...) built directly; resolve_settings renames before merging.
        return renamed_options(data, stacklevel=3) if isinstance(data, Mapping) else data

    @field_validator("base_url")
    @classmethod
    def _engine_url(cls, value: str) -> str:
        return check_engine_url(value)

    @field_validator("token")
    @classmethod
    def _one_line_token(cls, value: SecretStr | None) -> SecretStr | None:
        # It goes into a header as it is (a password goes base64-encoded).
        if value is not None and _CONTROL.search(value.get_secret_value()):
            raise ValueError("contains a line break or another control character; a token "
                             "is one line (its value is not shown)")
        return value

    @model_validator(mode="after")
    def _long_poll_fits_the_drain(self) -> WorkerSettings:
        bound = self.long_poll_bound_ms()
        poll = self.async_response_timeout_ms
        if poll is not None and poll > bound:
            raise ValueError(
                f"async_response_timeout_ms ({poll}) must be at most {bound} with "
                f"drain_timeout_seconds {self.drain_timeout_seconds:g}: a stopping worker "
                "waits for its last long poll (a cut one would lock tasks for nobody); "
                "lower async_response_timeout_ms or raise drain_timeout_seconds")
        return self

    def effective_worker_id(self) -> str:
        return self.worker_id or f"{self.name}-{socket.gethostname()}-{os.getpid()}"

    def shutdown_reserve(self) -> float:
        """Seconds at the end of the drain kept for the last reports and unlocks."""
        return min(2.0, self.drain_timeout_seconds * 0.2)

    def long_poll_bound_ms(self) -> int:
        room = self.drain_timeout_seconds - SHUTDOWN_TEARDOWN - self.shutdown_reserve()
        return max(int(room * 1000), 1000)

    def long_poll_ms(self) -> int:
        """The long poll's length: as set, else 10 s or what the drain leaves room for."""
        if self.async_response_timeout_ms is not None:
            return self.async_response_timeout_ms
        return min(10_000, self.long_poll_bound_ms())


class WorkerOptions(TypedDict, total=False):
    """Keyword arguments of :class:`Worker`; each is a field of :class:`WorkerSettings`."""

    name: str
    base_url: str
    worker_id: str
    max_tasks: int
    lock_duration_ms: int
    async_response_timeout_ms: int
    http_timeout_seconds: float
    max_answer_bytes: int
    retries: int
    retry_timeout_ms: int
    retry_backoff: float
    max_retry_timeout_ms: int
    backoff_initial_seconds: float
    backoff_max_seconds: float
    username: str
    password: str
    token: str
    ca_bundle: str
    verify_tls: bool
    port: int
    drain_timeout_seconds: float
    use_priority: bool | Literal["auto"]
    log_level: str


# Environment variable -> setting. ``*_FILE`` variants (Docker secrets) are read too.
ENV_VARIABLES: Mapping[str, str] = {
    "CAMUNDA_URL": "base_url",
    "CAMUNDA_USER": "username",
    "CAMUNDA_PASSWORD": "password",
    "CAMUNDA_TOKEN": "token",
    "CAMUNDA_CA_BUNDLE": "ca_bundle",
    "WORKER_ID": "worker_id",
    "LOG_LEVEL": "log_level",
    "METRICS_PORT": "port",
    "CAMUNDA_MAX_ANSWER_BYTES": "max_answer_bytes",
    "CAMUNDA_LONG_POLL_MS": "async_response_timeout_ms",
}
_SECRET_FILES = ("CAMUNDA_USER", "CAMUNDA_PASSWORD", "CAMUNDA_TOKEN")
# worker.json field -> the setting it gives (same types and rules: see camunda_workers._spec).
SETTINGS_FROM_SPEC: Mapping[str, str] = {
    "name": "name", "max_tasks": "max_tasks", "lock_duration": "lock_duration_ms",
    "port": "port"}
# A duration's old name -> its name with the unit; the old one still works, deprecated.
RENAMED_SETTINGS: Mapping[str, str] = {
    "lock_duration": "lock_duration_ms",
    "async_response_timeout": "async_response_timeout_ms",
    "http_timeout": "http_timeout_seconds",
    "retry_timeout": "retry_timeout_ms",
    "max_retry_timeout": "max_retry_timeout_ms",
    "backoff_initial": "backoff_initial_seconds",
    "backoff_max": "backoff_max_seconds",
    "drain_timeout": "drain_timeout_seconds",
}


def renamed_options(options: Mapping[str, Any], *, stacklevel: int = 2) -> dict[str, Any]:
    """``options`` with each old duration name replaced by its name with the unit, a
    ``DeprecationWarning`` per old name (``stacklevel`` as in :func:`warnings.warn`, counted
    from the caller);
    ``SpecError`` when both names of one setting are given."""
    renamed = dict(options)
    for old, new in RENAMED_SETTINGS.items():
        if old not in renamed:
            continue
        if new in renamed:
            raise SpecError("settings", [(old, (
                f"given together with {new}, its new name; give {new} only"))])
        warnings.warn(f"{old} is deprecated: call it {new} (the unit is in the name)",
                      DeprecationWarning, stacklevel=stacklevel + 1)
        renamed[new] = renamed.pop(old)
    return renamed


# A Docker secret holding a user, password or token is a few bytes; more is not one (a
# variable pointing at /dev/zero or a log would otherwise be read until memory runs out).
SECRET_FILE_MAX_BYTES = 64 * 1024


def read_secret_file(path: str) -> str:
    """The stripped UTF-8 text of a secret file (``NAME_FILE``, a Docker secret's path).
    ``ValueError`` saying why when it cannot be read, is over
    :data:`SECRET_FILE_MAX_BYTES` or is not UTF-8."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(SECRET_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > SECRET_FILE_MAX_BYTES:
        raise ValueError(f"{path} is over {SECRET_FILE_MAX_BYTES} bytes: not a secret file")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None


def _from_environment(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for variable, setting in ENV_VARIABLES.items():
        file_variable = f"{variable}_FILE"
        if variable in _SECRET_FILES and environ.get(file_variable):
            path = environ[file_variable]
            try:
                values[setting] = read_secret_file(path)
            except ValueError as exc:
                raise SpecError("environment", [(file_variable, str(exc))]) from None
            origins[setting] = f"env {file_variable}"
        elif environ.get(variable):
            values[setting] = environ[variable]
            origins[setting] = f"env {variable}"
    return values, origins


def resolve_settings(
    explicit: Mapping[str, Any],
    *,
    spec: WorkerSpec | None = None,
    environ: Mapping[str, str] | None = None,
    stacklevel: int = 1,
) -> WorkerSettings:
    """Merge the sources (see module doc) and validate once. An old duration name in
    ``explicit`` warns ``stacklevel`` frames up (see :func:`renamed_options`)."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if spec is not None:
        for field, key in SETTINGS_FROM_SPEC.items():
            merged[key] = getattr(spec, field)
            origins[key] = f"worker.json {field}" if field != key else "worker.json"
        # Drain a little under the grace period Swarm gives before SIGKILL.
        grace = duration_seconds(spec.stop_grace_period)
        merged["drain_timeout_seconds"] = max(grace - 5, grace * 0.8)
        origins["drain_timeout_seconds"] = "worker.json stop_grace_period"
    env_values, env_origins = _from_environment(os.environ if environ is None else environ)
    merged.update(env_values)
    origins.update(env_origins)
    for key, value in renamed_options(explicit, stacklevel=stacklevel + 1).items():
        if value is not None:
            merged[key] = value
            origins[key] = "argument"
    try:
        return validate_model(WorkerSettings, merged, source="settings")
    except SpecError as exc:
        located = [(f"{path} (from {origins[path]})" if path in origins else path, message)
                   for path, message in exc.problems]
        raise SpecError(exc.source, located) from None
