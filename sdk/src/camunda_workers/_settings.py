"""Worker settings: one pydantic model fed by keyword arguments, environment and worker.json.

Precedence, highest first: keyword arguments given in code, environment variables,
``worker.json``, the defaults below.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict
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
    "DEFAULT_MAX_ANSWER_BYTES", "ENV_VARIABLES", "SETTINGS_FROM_SPEC", "SHUTDOWN_TEARDOWN",
    "WorkerOptions", "WorkerSettings", "check_engine_url", "redacted_url",
    "resolve_settings",
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
    lock_duration: LockDuration = DEFAULT_LOCK_DURATION
    async_response_timeout: int | None = Field(
        default=None, ge=0, le=1_800_000,
        description="Long-poll wait, ms. Default 10 000, less if drain_timeout needs it: a "
                    "stopping worker waits for its last poll.")
    http_timeout: float = Field(default=10.0, gt=0, description="Timeout of other requests, s.")
    max_answer_bytes: int = Field(
        default=DEFAULT_MAX_ANSWER_BYTES, ge=2**16,
        description="Largest engine answer read (a fetch, a File variable), bytes; a larger "
                    "one is an engine error, a larger File fails its task.")
    retries: int = Field(default=3, ge=0, description="Retries after a task's first failure.")
    retry_timeout: int = Field(default=5_000, ge=0, description="Wait before the 1st retry, ms.")
    retry_backoff: float = Field(default=2.0, ge=1.0, description="Factor per further retry.")
    max_retry_timeout: int = Field(default=600_000, ge=0, description="Cap of the wait, ms.")
    backoff_initial: float = Field(default=0.5, gt=0,
                                   description="First wait after an engine error, s.")
    backoff_max: float = Field(default=30.0, gt=0, description="Cap of that wait, s.")
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True
    port: int | None = Field(default=None, ge=0, le=65535, description="Metrics/health port.")
    drain_timeout: float = Field(default=25.0, ge=0, description="Wait for in-flight tasks, s.")
    use_priority: bool = True
    log_level: str = "INFO"

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
        if self.async_response_timeout is not None and self.async_response_timeout > bound:
            raise ValueError(
                f"async_response_timeout ({self.async_response_timeout} ms) must be at most "
                f"{bound} ms with drain_timeout {self.drain_timeout:g} s: a stopping worker "
                "waits for its last long poll (a cut one would lock tasks for nobody); "
                "lower async_response_timeout or raise drain_timeout")
        return self

    def effective_worker_id(self) -> str:
        return self.worker_id or f"{self.name}-{socket.gethostname()}-{os.getpid()}"

    def shutdown_reserve(self) -> float:
        """Seconds at the end of the drain kept for the last reports and unlocks."""
        return min(2.0, self.drain_timeout * 0.2)

    def long_poll_bound_ms(self) -> int:
        room = self.drain_timeout - SHUTDOWN_TEARDOWN - self.shutdown_reserve()
        return max(int(room * 1000), 1000)

    def long_poll_ms(self) -> int:
        """The long poll's length: as set, else 10 s or what the drain leaves room for."""
        if self.async_response_timeout is not None:
            return self.async_response_timeout
        return min(10_000, self.long_poll_bound_ms())


class WorkerOptions(TypedDict, total=False):
    """Keyword arguments of :class:`Worker`; each is a field of :class:`WorkerSettings`."""

    name: str
    base_url: str
    worker_id: str
    max_tasks: int
    lock_duration: int
    async_response_timeout: int
    http_timeout: float
    max_answer_bytes: int
    retries: int
    retry_timeout: int
    retry_backoff: float
    max_retry_timeout: int
    backoff_initial: float
    backoff_max: float
    username: str
    password: str
    token: str
    ca_bundle: str
    verify_tls: bool
    port: int
    drain_timeout: float
    use_priority: bool
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
    "CAMUNDA_LONG_POLL_MS": "async_response_timeout",
}
_SECRET_FILES = ("CAMUNDA_USER", "CAMUNDA_PASSWORD", "CAMUNDA_TOKEN")
# Settings taken from worker.json (same names, same types: see camunda_workers._spec).
SETTINGS_FROM_SPEC = ("name", "max_tasks", "lock_duration", "port")


def _from_environment(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for variable, setting in ENV_VARIABLES.items():
        file_variable = f"{variable}_FILE"
        if variable in _SECRET_FILES and environ.get(file_variable):
            path = environ[file_variable]
            try:
                values[setting] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SpecError("environment", [(
                    file_variable, f"cannot read {path}: {exc.strerror or exc}"
                )]) from None
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
) -> WorkerSettings:
    """Merge the sources (see module doc) and validate once."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if spec is not None:
        for key in SETTINGS_FROM_SPEC:
            merged[key] = getattr(spec, key)
            origins[key] = "worker.json"
        # Drain a little under the grace period Swarm gives before SIGKILL.
        grace = duration_seconds(spec.stop_grace_period)
        merged["drain_timeout"] = max(grace - 5, grace * 0.8)
        origins["drain_timeout"] = "worker.json stop_grace_period"
    env_values, env_origins = _from_environment(os.environ if environ is None else environ)
    merged.update(env_values)
    origins.update(env_origins)
    for key, value in explicit.items():
        if value is not None:
            merged[key] = value
            origins[key] = "argument"
    try:
        return validate_model(WorkerSettings, merged, source="settings")
    except SpecError as exc:
        located = [(f"{path} (from {origins[path]})" if path in origins else path, message)
                   for path, message in exc.problems]
        raise SpecError(exc.source, located) from None
