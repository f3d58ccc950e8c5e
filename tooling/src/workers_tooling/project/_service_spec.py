"""``worker.json`` as the tooling reads it: the SDK's model plus the Swarm service settings.

:class:`ServiceSpec` extends :class:`camunda_workers.WorkerSpec` with the sections the
runtime does not read (``camunda_workers._spec.DEPLOYMENT_FIELDS``): replicas, autoscale,
resources,
placement, the update policy, secrets, labels, environment and ``depends_on``. Discovery
validates every ``worker.json`` with it, and ``workers schema`` exports its JSON Schema.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from camunda_workers import Duration, WorkerSpec

from ..stackfile._service_values import environment_problems, label_problems, raise_problems
from ..stackfile._stack_variables import interpolation_problem

__all__ = [
    "AutoscalePolicy",
    "Placement",
    "PlacementPreference",
    "ResourceAmounts",
    "Resources",
    "ServiceSpec",
    "UpdatePolicy",
]

_MEMORY = re.compile(r"^\d+(\.\d+)? ?[kKmMgGtT]?[iI]?[bB]?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SERVICE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# Set by the tooling from other fields; a worker.json may not set them itself.
_DERIVED_ENV = {"METRICS_PORT": '"port"', "WORKER_ID": "the Swarm task name"}


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


SecretName = Annotated[str, _matches(_SECRET, "Docker secret name (letters, digits, _ . -)")]
ServiceName = Annotated[str, _matches(_SERVICE, "service name (letters, digits, _ . -)")]


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


# What Swarm matches a constraint against (`docker service create --constraint`).
_CONSTRAINT = re.compile(
    r"^\s*(?P<key>node\.(id|hostname|role|platform\.os|platform\.arch)"
    r"|(node|engine)\.labels\.[^\s=!]+)\s*(==|!=)\s*(?P<value>\S.*?)\s*$")
_SPREAD = re.compile(r"^(node|engine)\.labels\.[^\s=!]+$")


def _no_foreign_variables(value: str) -> str:
    problem = interpolation_problem(value)
    if problem is not None:
        raise ValueError(f"{value!r} {problem}")
    return value


def _constraint(value: str) -> str:
    _no_foreign_variables(value)
    match = _CONSTRAINT.fullmatch(value)
    if not match:
        raise ValueError(
            f"{value!r} is not a Swarm constraint; write ATTRIBUTE == VALUE or != VALUE with "
            "node.id, node.hostname, node.role, node.platform.os, node.platform.arch, "
            "node.labels.KEY or engine.labels.KEY, e.g. 'node.role == worker'")
    if match["key"] == "node.role" and match["value"] not in ("manager", "worker"):
        raise ValueError(f"{value!r}: node.role is manager or worker")
    return value


def _spread(value: str) -> str:
    _no_foreign_variables(value)
    if not _SPREAD.fullmatch(value):
        raise ValueError(
            f"{value!r}: Swarm spreads over node labels only, node.labels.KEY (set with "
            "`docker node update --label-add KEY=VALUE NODE`) or engine.labels.KEY; replicas "
            "are spread over nodes anyway, and max_replicas_per_node caps them per node")
    return value


class PlacementPreference(_Strict):
    spread: Annotated[str, AfterValidator(_spread)] = Field(
        description="Spread tasks evenly over the values of a node label, e.g. "
                    "node.labels.zone.")


class Placement(_Strict):
    """Where Swarm may run the replicas (``deploy.placement``)."""

    constraints: list[Annotated[str, AfterValidator(_constraint)]] = Field(
        default_factory=list, examples=[["node.role == worker"]],
        description="Nodes a replica may run on (all must match).")
    preferences: list[PlacementPreference] = Field(default_factory=list)
    max_replicas_per_node: int | None = Field(
        default=None, ge=1, description=(
            "At most this many replicas on one node, so losing a node loses at most that "
            "many; with fewer fitting nodes than replicas / max_replicas_per_node, the rest "
            "stay pending."))


class UpdatePolicy(_Strict):
    """How Swarm rolls out a new version (``deploy.update_config``)."""

    parallelism: int = Field(default=1, ge=0, description="Tasks updated at once (0 = all).")
    delay: Duration = "10s"
    order: Literal["start-first", "stop-first"] = "start-first"
    failure_action: Literal["rollback", "pause", "continue"] = "rollback"
    monitor: Duration = Field(default="60s", description=(
        "Watch each new task this long for failure; keep it above the healthcheck's "
        "start period plus a few intervals."))


class AutoscalePolicy(_Strict):
    """When the autoscaler changes a worker's replicas, from its topics' backlog
    (KEDA's ``AverageValue``: desired = ceil(load / tasks_per_replica), within
    [min_replicas, max_replicas])."""

    min_replicas: int = Field(default=0, ge=0, le=1000, description=(
        "Fewest replicas; 0 lets an idle worker stop entirely."))
    max_replicas: int = Field(default=10, ge=1, le=1000, description=(
        "Most replicas; at least min_replicas."))
    tasks_per_replica: int = Field(default=100, ge=1, le=1_000_000, description=(
        "Tasks (open + locked, over the worker's topics) one replica should have."))
    activation_tasks: int = Field(default=0, ge=0, le=1_000_000, description=(
        "Above this many tasks a worker at 0 replicas starts one; at or below it for "
        "cooldown_seconds it goes to 0 (when min_replicas is 0)."))
    cooldown_seconds: int = Field(default=300, ge=0, le=86_400, description=(
        "How long the load stays at or below activation_tasks before scaling to 0."))
    scale_down_window_seconds: int = Field(default=300, ge=0, le=86_400, description=(
        "Scale down only to the highest recommendation of this window, so a burst does "
        "not flap."))

    @field_validator("max_replicas")
    @classmethod
    def _not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_replicas")
        if isinstance(low, int) and value < low:
            raise ValueError(f"{value} is below min_replicas ({low}); raise it to at "
                             f"least {low} or lower min_replicas")
        return value


class ServiceSpec(WorkerSpec):
    """What ``workers/NAME/worker.json`` declares: the SDK's model and the Swarm service."""

    depends_on: list[ServiceName] = Field(default_factory=list, description=(
        "Services of the stack it needs (checked against the stack file). Swarm starts "
        "services in no order: the worker backs off until the engine answers."))
    environment: dict[str, str] = Field(default_factory=dict, description=(
        "Environment of the service, values verbatim. A value may read only the stack's "
        "variables (e.g. ${CAMUNDA_URL:-http://engine:8080/engine-rest}; $$ is a literal $); "
        "a name like *PASSWORD*, *TOKEN*, *SECRET* or *KEY holds no value: use \"secrets\"."))
    replicas: int = Field(default=1, ge=0, le=1000, description=(
        "Swarm replicas; `workers scale NAME=N` writes it here. With \"autoscale\", the "
        "count a deploy starts with: within [min_replicas, max_replicas]."))
    resources: Resources | None = Field(default=None, description="CPU/memory limits.")
    placement: Placement | None = Field(default=None, description="Where tasks may run.")
    secrets: list[SecretName] = Field(
        default_factory=list, description=(
            "Docker secrets mounted at /run/secrets/NAME; NAME_FILE (upper case) points "
            "there, so camunda_password becomes CAMUNDA_PASSWORD_FILE."))
    labels: dict[str, str] = Field(default_factory=dict, description=(
        "Service labels; none that Prometheus reads as prometheus_* or camunda_workers_*."))
    publish_port: bool = Field(default=False, description=(
        "Publish the metrics port on every node (Swarm's routing mesh), e.g. for a "
        "single-node development stack. Off by default: Prometheus and `workers "
        "monitoring-status` reach each replica over the overlay network, while a request "
        "to a published port reaches one replica at random and is open to anyone who "
        "reaches a node."))
    update: UpdatePolicy = Field(default_factory=UpdatePolicy)
    autoscale: AutoscalePolicy | None = Field(default=None, description=(
        "Replicas from the backlog of the worker's topics (see the README's Autoscaling); "
        "without it the worker runs \"replicas\" replicas."))

    @field_validator("autoscale")
    @classmethod
    def _replicas_within(cls, value: AutoscalePolicy | None,
                         info: ValidationInfo) -> AutoscalePolicy | None:
        replicas = info.data.get("replicas")
        if value is not None and isinstance(replicas, int) and not (
                value.min_replicas <= replicas <= value.max_replicas):
            raise ValueError(
                f"\"replicas\" (default 1) is the count a deploy starts with: {replicas} is "
                f"outside min_replicas..max_replicas ({value.min_replicas}.."
                f"{value.max_replicas}); set \"replicas\" within them")
        return value

    @field_validator("environment")
    @classmethod
    def _environment_names(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = [f"{key} is set from {_DERIVED_ENV[key]}; remove it here" if key in _DERIVED_ENV
                 else f"{key!r} is not a variable name (letters, digits, _)"
                 for key in value if key in _DERIVED_ENV or not _ENV_NAME.fullmatch(key)]
        if wrong:
            raise ValueError("; ".join(wrong))
        raise_problems("environment", environment_problems(value))
        return value

    @field_validator("labels")
    @classmethod
    def _own_labels(cls, value: dict[str, str]) -> dict[str, str]:
        raise_problems("labels", label_problems(value))
        return value
