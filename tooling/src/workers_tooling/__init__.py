"""workers_tooling: discover, validate, scaffold, compose, build and deploy camunda-workers.

Names are imported on first use (PEP 562): `workers --help` and the other commands load only
what they need (see bench/README.md, "CLI startup").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._atomic import Writer, atomic_write
    from .errors import (
        EngineNotReachable,
        LocalImagesOnMultiNodeSwarm,
        ToolingError,
        WorkerValidationError,
    )
    from .local._demo import DemoReport, run_demo
    from .monitoring._access import prometheus_url
    from .monitoring._health import WorkerHealth, prometheus_status
    from .monitoring._images import build_component_images
    from .monitoring._local import LocalMonitoring, start_local_monitoring, stop_local_monitoring
    from .monitoring._prometheus import PrometheusApi, Sample
    from .monitoring._replicas import ReplicaProbe, WorkerEndpoint, monitoring_status
    from .project._discovery import DiscoveredWorker, discover_workers, worker_summary
    from .project._paths import find_repo_root
    from .project._schema import SCHEMA_FILE, SchemaResult, worker_schema, write_schema
    from .project._service_spec import ServiceSpec
    from .stackfile._compose import SEED_FILE, STACK_FILE, ComposeResult, compose_stack
    from .stackfile._overlay import load_overlay
    from .swarm._deploy import DeployResult, deploy
    from .swarm._images import BuiltImage, build_images
    from .swarm._logs import service_logs
    from .swarm._scale import scale
    from .swarm._stack import DEFAULT_STACK
    from .swarm._status import ReplicaStatus, ServiceStatus, stack_status

_WHERE = {
    'Writer': '._atomic',
    'atomic_write': '._atomic',
    'SEED_FILE': '.stackfile._compose',
    'STACK_FILE': '.stackfile._compose',
    'ComposeResult': '.stackfile._compose',
    'compose_stack': '.stackfile._compose',
    'DemoReport': '.local._demo',
    'run_demo': '.local._demo',
    'DeployResult': '.swarm._deploy',
    'LocalImagesOnMultiNodeSwarm': '.errors',
    'deploy': '.swarm._deploy',
    'DiscoveredWorker': '.project._discovery',
    'discover_workers': '.project._discovery',
    'worker_summary': '.project._discovery',
    'WorkerHealth': '.monitoring._health',
    'prometheus_status': '.monitoring._health',
    'BuiltImage': '.swarm._images',
    'build_images': '.swarm._images',
    'LocalMonitoring': '.monitoring._local',
    'start_local_monitoring': '.monitoring._local',
    'stop_local_monitoring': '.monitoring._local',
    'service_logs': '.swarm._logs',
    'ReplicaProbe': '.monitoring._replicas',
    'WorkerEndpoint': '.monitoring._replicas',
    'monitoring_status': '.monitoring._replicas',
    'prometheus_url': '.monitoring._access',
    'build_component_images': '.monitoring._images',
    'load_overlay': '.stackfile._overlay',
    'find_repo_root': '.project._paths',
    'PrometheusApi': '.monitoring._prometheus',
    'Sample': '.monitoring._prometheus',
    'scale': '.swarm._scale',
    'SCHEMA_FILE': '.project._schema',
    'SchemaResult': '.project._schema',
    'worker_schema': '.project._schema',
    'write_schema': '.project._schema',
    'ServiceSpec': '.project._service_spec',
    'DEFAULT_STACK': '.swarm._stack',
    'ReplicaStatus': '.swarm._status',
    'ServiceStatus': '.swarm._status',
    'stack_status': '.swarm._status',
    'EngineNotReachable': '.errors',
    'ToolingError': '.errors',
    'WorkerValidationError': '.errors',
}


__all__ = [
    "DEFAULT_STACK",
    "SCHEMA_FILE",
    "SEED_FILE",
    "STACK_FILE",
    "BuiltImage",
    "ComposeResult",
    "DemoReport",
    "DeployResult",
    "LocalImagesOnMultiNodeSwarm",
    "DiscoveredWorker",
    "EngineNotReachable",
    "LocalMonitoring",
    "PrometheusApi",
    "ReplicaProbe",
    "ReplicaStatus",
    "Sample",
    "SchemaResult",
    "ServiceSpec",
    "ServiceStatus",
    "ToolingError",
    "WorkerEndpoint",
    "WorkerHealth",
    "WorkerValidationError",
    "Writer",
    "atomic_write",
    "build_component_images",
    "build_images",
    "compose_stack",
    "deploy",
    "discover_workers",
    "find_repo_root",
    "load_overlay",
    "monitoring_status",
    "prometheus_status",
    "prometheus_url",
    "run_demo",
    "scale",
    "service_logs",
    "stack_status",
    "start_local_monitoring",
    "stop_local_monitoring",
    "worker_schema",
    "worker_summary",
    "write_schema",
]


__getattr__ = lazy_attributes(__name__, globals(), _WHERE)
