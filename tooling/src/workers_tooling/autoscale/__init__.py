"""Autoscaling: a worker's replicas from the backlog of its topics (issue 22).

:func:`decide` is the decision (KEDA's ``AverageValue`` semantics, the HPA's scale-down
window), a pure function; the policy is the ``autoscale`` section of ``worker.json``
(:class:`AutoscalePolicy`).
"""

from ..project._service_spec import AutoscalePolicy
from ._load import LoadReading, read_loads
from ._loop import autoscale_dry_run
from .policy import Decision, ScaleState, decide

__all__ = ["AutoscalePolicy", "Decision", "LoadReading", "ScaleState", "autoscale_dry_run",
           "decide", "read_loads"]
