"""``workers logs NAME``: the log lines of every replica of a service, on every node.

The Swarm's manager gathers them from the nodes (``docker service logs``). Two ways that
stream never ends on engines of the 20.10 line: a node that is down never answers (the
manager waits for it), and now and then a task that stopped shortly before. Then the
lines are read task by task, in parallel and each bounded in time, and the caller hears
whose lines are missing: the tasks on nodes that are down, and any task that still
stalls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import ToolingError
from ._docker_client import DockerCommandTimeout, docker_cli, docker_cli_lines, docker_client
from ._nodes import swarm_nodes
from ._stack import DEFAULT_STACK, stack_service

__all__ = ["LOGS_TIMEOUT", "service_logs"]

LOGS_TIMEOUT = 30.0  # seconds for a service's lines, then for each task's (no --follow)
_PARALLEL = 4  # task-by-task reads at once (each one a docker CLI, over SSH a connection)


def service_logs(name: str, *, stack: str = DEFAULT_STACK, follow: bool = False,
                 since: str | None = None, tail: int | None = None,
                 warn: Callable[[str], None] = lambda message: None) -> Iterator[str]:
    """Log lines of every replica of a service, each prefixed with ``TASK@NODE``.

    Through the docker CLI: the Docker SDK's service log stream can hang on engines of
    the 20.10 line once a task was shut down, while the CLI returns. ``warn`` hears about
    nodes that are down (their replicas' lines are left out until they are back).
    """
    with docker_client() as client:
        service = stack_service(client, stack, name)
        tasks = service.tasks()
        down = _tasks_on_down_nodes(client, tasks)
        live_tasks = [task["ID"] for task in tasks
                      if task.get("NodeID") and task["ID"] not in down]
    command = ["service", "logs", "--no-trunc"]
    if follow:
        command.append("--follow")
    if since:
        command += ["--since", since]
    if tail is not None:
        command += ["--tail", str(tail)]
    for node, count in sorted(_count_by_node(down).items()):
        warn(f"node {node} is down: the lines of {count} task(s) there are left out "
             "until it is back")
    if follow:
        if down:
            raise ToolingError("cannot follow while a node of the service is down (the "
                               "manager waits for it); run without --follow")
        yield from docker_cli_lines([*command, service.name])
        return
    if not down:
        try:
            yield from _read([*command, service.name])
            return
        except DockerCommandTimeout:
            warn(f"the manager's log stream of {service.name} stalled (engines of the 20.10 "
                 "line, after tasks stop); reading its tasks one by one")
    with ThreadPoolExecutor(_PARALLEL) as pool:
        for task, lines in zip(live_tasks, pool.map(
                lambda task: _read_task([*command, task]), live_tasks), strict=True):
            if isinstance(lines, ToolingError):
                warn(f"task {task}: {lines}")
            else:
                yield from lines


def _read(command: list[str]) -> Iterator[str]:
    done = docker_cli(command, timeout=LOGS_TIMEOUT)
    if done.returncode != 0:
        raise ToolingError(f"docker service logs failed: {done.stderr.strip()}")
    yield from (done.stdout + done.stderr).splitlines()


def _read_task(command: list[str]) -> list[str] | ToolingError:
    try:
        return list(_read(command))
    except ToolingError as exc:  # one task's lines missing is a warning, not a failure
        return exc


def _tasks_on_down_nodes(client: Any, tasks: list[dict[str, Any]]) -> dict[str, str]:
    """``{task id: node hostname}`` of the tasks on nodes that are not ready."""
    down = {node.id: node.hostname for node in swarm_nodes(client) if node.state != "ready"}
    return {task["ID"]: down[task["NodeID"]] for task in tasks if task.get("NodeID") in down}


def _count_by_node(tasks: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in tasks.values():
        counts[node] = counts.get(node, 0) + 1
    return counts
