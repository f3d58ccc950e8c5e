"""The autoscaler's decision over sequences of loads (one round every 15 s): KEDA's
AverageValue, the HPA's scale-down window, activation and cooldown for 0, engine away,
restart."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from camunda_workers import SpecError, validate_model
from workers_tooling import ServiceSpec
from workers_tooling.autoscale import AutoscalePolicy, ScaleState, decide

INTERVAL = 15.0
# min 0, max 6, 100 tasks per replica, 0 on no tasks after 60 s, 30 s scale-down window
POLICY = AutoscalePolicy(min_replicas=0, max_replicas=6, tasks_per_replica=100,
                         activation_tasks=0, cooldown_seconds=60,
                         scale_down_window_seconds=30)


def run(loads: Sequence[int | None], *, start: int, policy: AutoscalePolicy = POLICY,
        state: ScaleState | None = None) -> list[int]:
    """The replicas after each round, each decision applied before the next round."""
    current, replicas = start, []
    for round_number, load in enumerate(loads):
        decision = decide("hello-world", policy, now=round_number * INTERVAL, load=load,
                          current=current, state=state)
        current, state = decision.replicas, decision.state
        replicas.append(current)
    return replicas


CASES: list[tuple[str, AutoscalePolicy, int, list[int | None], list[int]]] = [
    # at rest, a burst of 580: 6 at once; after it the window holds 6 for 30 s, then 1
    # until the 60 s cooldown has passed, then 0
    ("burst", POLICY, 0,
     [0, 580, 580, 0, 0, 0, 0, 0, 0, 0],
     [0, 6, 6, 6, 1, 1, 1, 0, 0, 0]),
    # a sawtooth faster than the window does not flap
    ("sawtooth-fast", POLICY, 0,
     [580, 0, 580, 0, 580, 0, 580, 0],
     [6, 6, 6, 6, 6, 6, 6, 6]),
    # a sawtooth slower than the window follows it down (one window after the peak) and up
    ("sawtooth-slow", POLICY, 0,
     [580, 0, 0, 0, 580, 0, 0, 0],
     [6, 6, 1, 1, 6, 6, 1, 1]),
    # a slow ramp adds replicas as the load crosses each 100, capped at max_replicas
    ("slow-ramp", POLICY, 1,
     [50, 150, 250, 350, 450, 550, 650, 2000],
     [1, 2, 3, 4, 5, 6, 6, 6]),
    # partial loads round up: 101 tasks need 2 replicas
    ("round-up", POLICY, 1, [101, 100], [2, 2]),
    # engine away: the replicas stay, at 6 and at 0, however long it lasts; the cooldown
    # starts again when the load is known again
    ("engine-away-busy", POLICY, 0,
     [580, None, None, None, None, None, None, None],
     [6, 6, 6, 6, 6, 6, 6, 6]),
    ("engine-away-idle", POLICY, 6,
     [0, 0, None, None, None, None, None, 0, 0, 0, 0, 0],
     [6, 6, 6, 6, 6, 6, 6, 1, 1, 1, 1, 0]),
    ("engine-away-at-zero", POLICY, 0, [None, None, 0, None], [0, 0, 0, 0]),
    # activation: at 0, a load at the threshold stays at 0, above it starts replicas
    ("activation", POLICY.model_copy(update={"activation_tasks": 10}), 0,
     [10, 10, 11, 10, 10, 10, 10, 10, 10],
     [0, 0, 1, 1, 1, 1, 1, 0, 0]),
    # min_replicas >= 1: never 0, activation plays no part
    ("min-two", POLICY.model_copy(update={"min_replicas": 2}), 2,
     [0, 0, 0, 0, 0, 0, 0, 0, 300, 0],
     [2, 2, 2, 2, 2, 2, 2, 2, 3, 3]),
    # found below min_replicas (someone scaled it by hand): back to the minimum at once
    ("below-min", POLICY.model_copy(update={"min_replicas": 2}), 0, [0], [2]),
    # found above max_replicas: down to max_replicas, whatever the window
    ("above-max", POLICY, 9, [580], [6]),
    # no window, no cooldown: follows the load every round
    ("no-window", POLICY.model_copy(update={"scale_down_window_seconds": 0,
                                            "cooldown_seconds": 0}), 0,
     [580, 120, 0, 300], [6, 2, 0, 3]),
]


@pytest.mark.parametrize(("policy", "start", "loads", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_replicas_over_a_load_sequence(policy: AutoscalePolicy, start: int,
                                       loads: list[int | None], expected: list[int]) -> None:
    assert run(loads, start=start, policy=policy) == expected


def test_a_restart_starts_the_window_from_the_current_replicas() -> None:
    # A restarted autoscaler (no state) finds 6 running and no load: it keeps 6 for the
    # window and 1 until the cooldown, as if it had recommended 6 at the restart; never
    # lower than the one that saw the burst and kept running.
    restarted = run([0, 0, 0, 0, 0, 0], start=6)
    assert restarted == [6, 6, 1, 1, 0, 0]
    uninterrupted = run([580, 0, 0, 0, 0, 0, 0], start=0)[1:]
    assert uninterrupted == [6, 1, 1, 1, 0, 0]
    assert all(r >= u for r, u in zip(restarted, uninterrupted, strict=True))


def test_the_reason_names_worker_replicas_and_load() -> None:
    policy = POLICY.model_copy(update={"max_replicas": 10})
    up = decide("hello-world", policy, now=0, load=580, current=2, state=None)
    assert (up.replicas, up.reason) == (6, "hello-world 2 -> 6: load 580 over 100 per replica")
    assert up.changes(2)
    held = decide("hello-world", policy, now=15, load=0, current=6, state=up.state)
    assert held.reason == ("hello-world stays at 6: load 0 over 100 per replica, held by the "
                           "highest of the last 30s; idle 0s of 60s before 0")
    away = decide("hello-world", policy, now=30, load=None, current=6, state=held.state)
    assert away.reason == "hello-world stays at 6: load unknown (engine away)"
    start = decide("hello-world", POLICY, now=0, load=580, current=0, state=None)
    assert start.reason == "hello-world 0 -> 6: load 580 over 100 per replica"
    zero = decide("hello-world", policy.model_copy(update={"cooldown_seconds": 0}), now=45,
                  load=0, current=1, state=held.state)
    assert zero.reason == "hello-world 1 -> 0: load 0 not above 0 for 0s"


def test_policy_defaults_and_a_worker_without_one() -> None:
    base = {"name": "hello-world", "port": 8001, "topics": ["say_hello"]}
    assert validate_model(ServiceSpec, base, source="w").autoscale is None
    spec = validate_model(ServiceSpec, {**base, "autoscale": {}}, source="w")
    assert spec.autoscale == AutoscalePolicy(
        min_replicas=0, max_replicas=10, tasks_per_replica=100, activation_tasks=0,
        cooldown_seconds=300, scale_down_window_seconds=300)
    with pytest.raises(SpecError, match="autoscale: \"replicas\""):
        validate_model(ServiceSpec, {**base, "autoscale": {"min_replicas": 2}}, source="w")
    spec = validate_model(ServiceSpec, {**base, "replicas": 2, "autoscale": {"min_replicas": 2}},
                          source="w")
    assert spec.replicas == 2
