"""The installed version of the SDK (also reported by the camunda_worker_info metric)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("camunda-workers")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
