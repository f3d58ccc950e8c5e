"""workers_tooling: discover, validate, scaffold, compose, build and deploy camunda-workers."""

from ._atomic import Writer, atomic_write
from ._compose import SEED_FILE, STACK_FILE, ComposeResult, compose_stack
from ._demo import DemoReport, run_demo
from ._discovery import DiscoveredWorker, discover_workers, worker_summary
from ._overlay import load_overlay
from ._paths import find_repo_root
from ._schema import SCHEMA_FILE, SchemaResult, worker_schema, write_schema
from .errors import EngineNotReachable, ToolingError, WorkerValidationError

__all__ = [
    "SCHEMA_FILE",
    "SEED_FILE",
    "STACK_FILE",
    "ComposeResult",
    "DemoReport",
    "DiscoveredWorker",
    "EngineNotReachable",
    "SchemaResult",
    "ToolingError",
    "WorkerValidationError",
    "Writer",
    "atomic_write",
    "compose_stack",
    "discover_workers",
    "find_repo_root",
    "load_overlay",
    "run_demo",
    "worker_schema",
    "worker_summary",
    "write_schema",
]
