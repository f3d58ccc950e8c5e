"""workers_tooling: discover, validate, scaffold, compose, build and deploy camunda-workers."""

from ._demo import DemoReport, run_demo
from ._paths import find_repo_root
from .errors import EngineNotReachable, ToolingError

__all__ = ["DemoReport", "EngineNotReachable", "ToolingError", "find_repo_root", "run_demo"]
