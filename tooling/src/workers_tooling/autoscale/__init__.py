"""Autoscaling: a worker's replicas from the backlog of its topics (issue 22).

:func:`decide` is the decision (KEDA's ``AverageValue`` semantics, the HPA's scale-down
window), a pure function; the policy is the ``autoscale`` section of ``worker.json``
(:class:`AutoscalePolicy`). :class:`Autoscaler` acts on it (the stack's ``autoscaler``
service, ``python -m workers_tooling.autoscale``); :func:`autoscale_dry_run` only reports.

Names are imported on first use: the autoscaler's image has neither the Docker SDK nor
the rest of the tooling's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ..project._service_spec import AutoscalePolicy
    from ._act import AutoscaledWorker, Autoscaler
    from ._bounds import refuse_autoscaled, set_bounds
    from ._load import LoadReading, read_loads
    from ._loop import autoscale_dry_run
    from ._metrics import AutoscalerMetrics
    from ._replicas import keep_running_replicas
    from .policy import Decision, ScaleState, decide

__all__ = ["AutoscalePolicy", "AutoscaledWorker", "Autoscaler", "AutoscalerMetrics", "Decision",
           "LoadReading", "ScaleState", "autoscale_dry_run", "decide", "keep_running_replicas",
           "read_loads", "refuse_autoscaled", "set_bounds"]

_WHERE = {
    "AutoscalePolicy": "workers_tooling.project._service_spec",
    "AutoscaledWorker": "._act", "Autoscaler": "._act",
    "LoadReading": "._load", "read_loads": "._load",
    "autoscale_dry_run": "._loop",
    "AutoscalerMetrics": "._metrics",
    "refuse_autoscaled": "._bounds", "set_bounds": "._bounds",
    "keep_running_replicas": "._replicas",
    "Decision": ".policy", "ScaleState": ".policy", "decide": ".policy",
}


__getattr__ = lazy_attributes(__name__, globals(), _WHERE)
