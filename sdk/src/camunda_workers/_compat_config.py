"""camunda-external-task-client-python3's config dict, mapped onto our settings.

That library merges the dict into its defaults with ``dict.update``: a misspelt key is
silently ignored. Here the dict is validated once, by a pydantic model whose aliases are
its keys: an unknown key is refused with a did-you-mean, a key we cannot honour with the
reason. Each key's mapping is the table "Coming from camunda-external-task-client-python3"
in the SDK's README.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ._spec import LockDuration, MaxTasks
from ._validation import validate_model

__all__ = ["FetchOptions", "SyncConfig", "AsyncConfig", "compat_options"]


_MIN_BACKOFF = 0.1


class _BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: SecretStr


class _Config(BaseModel):
    """Keys both of that library's workers take; values as that library documents them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True)

    lock_duration: LockDuration | None = Field(default=None, alias="lockDuration")
    async_response_timeout: int | None = Field(default=None, ge=0, le=1_800_000,
                                               alias="asyncResponseTimeout")
    retries: int | None = Field(default=None, ge=0)
    retry_timeout: int | None = Field(default=None, ge=0, alias="retryTimeout")
    http_timeout_millis: int | None = Field(default=None, gt=0, alias="httpTimeoutMillis")
    # Covered: our long poll's HTTP timeout is the poll plus httpTimeoutMillis.
    timeout_delta_millis: int | None = Field(default=None, ge=0, alias="timeoutDeltaMillis")
    sleep_seconds: float | None = Field(default=None, ge=0, alias="sleepSeconds")
    # That library's defaults: handlers may rely on them (extension properties present,
    # Java objects deserialized, tasks fetched regardless of priority).
    include_extension_properties: bool = Field(default=True, alias="includeExtensionProperties")
    deserialize_values: bool = Field(default=True, alias="deserializeValues")
    use_priority: bool = Field(default=False, alias="usePriority")
    sorting: Any = None
    is_debug: bool = Field(default=False, alias="isDebug")
    auth_basic: _BasicAuth | None = None
    auth_bearer: Mapping[str, str] | str | None = None

    @field_validator("sorting")
    @classmethod
    def _no_sorting(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError(
                "cannot be honoured: this SDK's one long poll for all topics orders tasks by "
                "priority only (usePriority); remove sorting (or set it to None)")
        return value

    @field_validator("auth_bearer")
    @classmethod
    def _access_token(cls, value: Mapping[str, str] | str | None) -> Mapping[str, str] | str | None:
        if isinstance(value, Mapping) and not value.get("access_token"):
            raise ValueError('give the token as {"access_token": "..."}')
        return value

    def bearer_token(self) -> str | None:
        token = self.auth_bearer
        if isinstance(token, Mapping):
            token = token["access_token"]
        if token is None:
            return None
        # That library adds "Bearer " unless the token has it; our header adds it.
        return token[len("bearer "):] if token.lower().startswith("bearer ") else token


class SyncConfig(_Config):
    """``ExternalTaskWorker``'s config: ``maxTasks`` is fetched per poll (and run at once)."""

    max_tasks: MaxTasks | None = Field(default=None, alias="maxTasks")


class AsyncConfig(_Config):
    """``AsyncExternalTaskWorker``'s config: ``maxConcurrentTasks`` handlers at once."""

    max_tasks: MaxTasks | None = Field(default=None, alias="maxConcurrentTasks")


@dataclass(frozen=True)
class FetchOptions:
    """What the config says about each topic's ``fetchAndLock`` entry."""

    include_extension_properties: bool
    deserialize_values: bool


def compat_options(model: type[_Config], config: Mapping[str, Any] | None, *, source: str,
                   ) -> tuple[dict[str, Any], FetchOptions]:
    """Our ``Worker`` keyword arguments and the fetch options a config dict gives.

    Raises SpecError naming the key (``source: maxTaks: unknown key; did you mean
    'maxTasks'?``). Keys not given keep our defaults, except the fetch options, which
    keep that library's.
    """
    parsed = validate_model(model, dict(config or {}), source=source)
    options: dict[str, Any] = {
        "max_tasks": getattr(parsed, "max_tasks", None),
        "lock_duration_ms": parsed.lock_duration,
        "retries": parsed.retries,
        "retry_timeout_ms": parsed.retry_timeout,
        "use_priority": parsed.use_priority,
        "token": parsed.bearer_token(),
    }
    if parsed.async_response_timeout is not None:
        options["async_response_timeout_ms"] = parsed.async_response_timeout
    if parsed.http_timeout_millis is not None:
        options["http_timeout_seconds"] = parsed.http_timeout_millis / 1000
    if parsed.sleep_seconds is not None:
        # The longest wait after an engine error; 0 (retry at once) waits _MIN_BACKOFF s,
        # so that a worker never hammers an engine that is down.
        backoff = max(parsed.sleep_seconds, _MIN_BACKOFF)
        options["backoff_max_seconds"] = backoff
        options["backoff_initial_seconds"] = min(0.5, backoff)
    if parsed.is_debug:
        options["log_level"] = "DEBUG"
    if parsed.auth_basic is not None:
        options["username"] = parsed.auth_basic.username
        options["password"] = parsed.auth_basic.password.get_secret_value()
    fetch = FetchOptions(include_extension_properties=parsed.include_extension_properties,
                         deserialize_values=parsed.deserialize_values)
    return {key: value for key, value in options.items() if value is not None}, fetch
