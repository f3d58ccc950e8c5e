"""workers_tooling: discover, validate, scaffold, compose, build and deploy camunda-workers."""

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
