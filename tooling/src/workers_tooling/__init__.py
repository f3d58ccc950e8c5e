"""workers_tooling: discover, validate, scaffold, compose, build and deploy camunda-workers.

Names are imported on first use (PEP 562): `workers --help` and the other commands load only
what they need (see bench/README.md, "CLI startup").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._atomic import Writer, atomic_write
    from ._compose import SEED_FILE, STACK_FILE, ComposeResult, compose_stack
    from ._demo import DemoReport, run_demo
    from ._deploy import DeployResult, LocalImagesOnMultiNodeSwarm, deploy
    from ._discovery import DiscoveredWorker, discover_workers, worker_summary
    from ._health_report import WorkerHealth, prometheus_status
    from ._images import BuiltImage, build_images
    from ._local_monitoring import LocalMonitoring, start_local_monitoring, stop_local_monitoring
    from ._logs import service_logs
    from ._monitoring import ReplicaProbe, WorkerEndpoint, monitoring_status
    from ._monitoring_access import prometheus_url
    from ._monitoring_images import build_component_images
    from ._overlay import load_overlay
    from ._paths import find_repo_root
    from ._prometheus import PrometheusApi, Sample
    from ._scale import scale
    from ._schema import SCHEMA_FILE, SchemaResult, worker_schema, write_schema
    from ._service_spec import ServiceSpec
    from ._stack import DEFAULT_STACK
    from ._status import ReplicaStatus, ServiceStatus, stack_status
    from .errors import EngineNotReachable, ToolingError, WorkerValidationError

_WHERE = {
    'Writer': '._atomic',
    'atomic_write': '._atomic',
    'SEED_FILE': '._compose',
    'STACK_FILE': '._compose',
    'ComposeResult': '._compose',
    'compose_stack': '._compose',
    'DemoReport': '._demo',
    'run_demo': '._demo',
    'DeployResult': '._deploy',
    'LocalImagesOnMultiNodeSwarm': '._deploy',
    'deploy': '._deploy',
    'DiscoveredWorker': '._discovery',
    'discover_workers': '._discovery',
    'worker_summary': '._discovery',
    'WorkerHealth': '._health_report',
    'prometheus_status': '._health_report',
    'BuiltImage': '._images',
    'build_images': '._images',
    'LocalMonitoring': '._local_monitoring',
    'start_local_monitoring': '._local_monitoring',
    'stop_local_monitoring': '._local_monitoring',
    'service_logs': '._logs',
    'ReplicaProbe': '._monitoring',
    'WorkerEndpoint': '._monitoring',
    'monitoring_status': '._monitoring',
    'prometheus_url': '._monitoring_access',
    'build_component_images': '._monitoring_images',
    'load_overlay': '._overlay',
    'find_repo_root': '._paths',
    'PrometheusApi': '._prometheus',
    'Sample': '._prometheus',
    'scale': '._scale',
    'SCHEMA_FILE': '._schema',
    'SchemaResult': '._schema',
    'worker_schema': '._schema',
    'write_schema': '._schema',
    'ServiceSpec': '._service_spec',
    'DEFAULT_STACK': '._stack',
    'ReplicaStatus': '._status',
    'ServiceStatus': '._status',
    'stack_status': '._status',
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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
