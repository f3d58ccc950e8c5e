"""The autoscaler's decision for one worker, one round: KEDA's ``AverageValue`` with the
HPA's scale-down stabilisation, as a pure function of time, load and replicas.

* desired = ceil(load / tasks_per_replica), within [min_replicas, max_replicas] (and at
  least 1 while the worker is active, as KEDA hands 1..N to the HPA);
* up at once; down only to the highest recommendation of the last
  ``scale_down_window_seconds`` (so a burst that pauses does not flap);
* to 0 (only with ``min_replicas`` 0) once the load has stayed at or below
  ``activation_tasks`` for ``cooldown_seconds``; from 0 as soon as it is above;
* load unknown (engine away, an answer it cannot read): the replicas stay as they are;
* no state (a restart): the window starts from the current replicas, so a restarted
  autoscaler scales down no sooner than one that kept running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..project._service_spec import AutoscalePolicy

__all__ = ["Decision", "ScaleState", "decide"]


@dataclass(frozen=True)
class ScaleState:
    """What one round hands the next: the recommendations of the scale-down window
    (``(time, replicas)``, oldest first) and since when the load has been idle."""

    recommendations: tuple[tuple[float, int], ...] = ()
    idle_since: float | None = None


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str
    state: ScaleState

    def changes(self, current: int) -> bool:
        return self.replicas != current


def _load_text(load: int, policy: AutoscalePolicy) -> str:
    return f"load {load} over {policy.tasks_per_replica} per replica"


def decide(worker: str, policy: AutoscalePolicy, *, now: float, load: int | None,
           current: int, state: ScaleState | None) -> Decision:
    """The replicas ``worker`` should run at ``now`` (seconds, any monotonic origin)."""
    if state is None:  # first round since a (re)start: the window starts from what runs
        state = ScaleState(((now, min(current, policy.max_replicas)),))
    if load is None:  # and the idle time starts again: nobody saw the load meanwhile
        return Decision(current, f"{worker} stays at {current}: load unknown (engine away)",
                        ScaleState(state.recommendations, None))
    active = load > policy.activation_tasks
    idle_since = None if active else (now if state.idle_since is None else state.idle_since)
    floor = max(policy.min_replicas, 1)
    recommended = min(max(math.ceil(load / policy.tasks_per_replica), floor),
                      policy.max_replicas)
    if policy.min_replicas == 0 and not active:
        idle = now - idle_since if idle_since is not None else 0.0
        if current == 0 or idle >= policy.cooldown_seconds:
            reason = (f"{worker} stays at 0: load {load} not above {policy.activation_tasks}"
                      if current == 0 else
                      f"{worker} {current} -> 0: load {load} not above "
                      f"{policy.activation_tasks} for {policy.cooldown_seconds}s")
            return Decision(0, reason, ScaleState(((now, 0),), idle_since))
    if current == 0:  # from 0 (active) or below min_replicas: up at once, window from here
        return Decision(recommended, f"{worker} 0 -> {recommended}: "
                        f"{_load_text(load, policy)}",
                        ScaleState(((now, recommended),), idle_since))
    horizon = now - policy.scale_down_window_seconds
    window = (*((t, r) for t, r in state.recommendations if t > horizon), (now, recommended))
    new_state = ScaleState(window, idle_since)
    # up at once; down only to the highest recommendation of the window
    highest = max(r for _, r in window)
    desired = recommended if recommended >= current else min(current, highest)
    if desired == current:
        held = (f", held by the highest of the last {policy.scale_down_window_seconds}s"
                if recommended < current else "")
        reason = f"{worker} stays at {current}: {_load_text(load, policy)}{held}"
        if not active and policy.min_replicas == 0 and idle_since is not None:
            reason += (f"; idle {now - idle_since:g}s of {policy.cooldown_seconds}s "
                       "before 0")
        return Decision(current, reason, new_state)
    return Decision(desired, f"{worker} {current} -> {desired}: {_load_text(load, policy)}",
                    new_state)
