"""Following a deployed stack until its services converge, or saying which did not and why.

A service has converged when it runs its desired count of replicas on its present spec
and no update is under way (:attr:`~._status.ServiceStatus.converged`). One that rolled
back, or keeps failing (three new failed tasks and none running), will not converge: the
wait ends early for it. What counts as new is judged against a :func:`snapshot` taken
before the deploy, so errors and rollbacks of earlier deploys are not blamed on this one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import NotConverged, ToolingError
from ._status import ServiceStatus, stack_status

__all__ = ["NotConverged", "StackSnapshot", "follow_stack", "snapshot"]

GIVE_UP_AFTER_FAILURES = 3  # new failed tasks of a service with none running
ROLLED_BACK = frozenset({"rollback_completed"})
PAUSED = frozenset({"paused", "rollback_paused"})


@dataclass(frozen=True)
class StackSnapshot:
    """What a stack's services looked like before a deploy: the last update of each and
    the tasks that had already failed."""

    updates: Mapping[str, str]
    failed_tasks: Mapping[str, frozenset[str]]


def snapshot(stack: str) -> StackSnapshot:
    """The stack as it is now (empty when it is not deployed yet)."""
    try:
        services = stack_status(stack)
    except ToolingError:
        return StackSnapshot({}, {})
    return StackSnapshot({s.name: s.update_started for s in services},
                         {s.name: s.failed_tasks for s in services})


def follow_stack(stack: str, before: StackSnapshot, *, timeout: float = 300.0,
                 interval: float = 2.0, hint: Callable[[str, str], str] = lambda n, e: "",
                 progress: Callable[[str], None] = lambda line: None) -> list[ServiceStatus]:
    """Wait until every service of ``stack`` converged; a line through ``progress`` each
    time a service's state changes. Raises :class:`NotConverged` naming the services that
    did not (rolled back, failing, or still short at ``timeout``); ``hint(name, error)``
    adds the fix for a service's error. Returns the final status."""
    deadline = time.monotonic() + timeout
    shown: dict[str, str] = {}
    while True:
        services = stack_status(stack)
        verdicts = {s.name: _verdict(s, before) for s in services}
        for service in services:
            line = _line(service, stack, verdicts[service.name])
            if shown.get(service.name) != line:
                shown[service.name] = line
                progress(line)
        pending = [s for s in services if verdicts[s.name] == "pending"]
        failed = [s for s in services if verdicts[s.name] not in ("pending", "converged")]
        if not pending and not failed:
            return services
        if not pending or time.monotonic() >= deadline:
            short = failed + pending
            raise NotConverged(_report(stack, short, verdicts, timeout, hint))
        time.sleep(interval)


def _verdict(service: ServiceStatus, before: StackSnapshot) -> str:
    """converged, pending (may still get there), rolled back, paused or failing."""
    new_update = before.updates.get(service.name) != service.update_started
    if new_update and service.update_state in ROLLED_BACK:
        return "rolled back"
    if new_update and service.update_state in PAUSED:
        return "update paused"
    if service.converged:
        return "converged"
    new_failures = service.failed_tasks - before.failed_tasks.get(service.name, frozenset())
    if service.running == 0 and len(new_failures) >= GIVE_UP_AFTER_FAILURES:
        return "failing"
    return "pending"


def _line(service: ServiceStatus, stack: str, verdict: str) -> str:
    state = f"{service.short_name(stack)} {service.running}/{service.desired}"
    if service.update_state in ("updating", "rollback_started"):
        state += " " + service.update_state.replace("_", " ")
    if verdict in ("rolled back", "update paused"):
        state += f" {verdict}"
    if verdict == "converged":
        state += " ok"
    detail = service.error or (service.update_message if verdict != "converged" else "")
    return f"{state}: {detail}" if detail else state


def _report(stack: str, services: list[ServiceStatus], verdicts: Mapping[str, str],
            timeout: float, hint: Callable[[str, str], str]) -> str:
    lines = [f"stack {stack}: {len(services)} service(s) did not converge:"]
    for service in services:
        name = service.short_name(stack)
        verdict = verdicts[service.name]
        why = service.error or service.update_message or (
            f"still {verdict} after {timeout:.0f}s" if verdict == "pending" else verdict)
        if verdict in ("rolled back", "update paused"):
            why = f"{verdict}: {why}" if why != verdict else why
        fix = hint(name, service.error)
        lines.append(f"  {name}: {service.running}/{service.desired}: {why}"
                     + (f"; {fix}" if fix else ""))
    lines.append(f"`workers status --stack {stack}` shows them; `workers logs NAME` their "
                 "output")
    return "\n".join(lines)
