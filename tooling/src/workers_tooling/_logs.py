"""``workers logs NAME``: the log lines of every replica of a service."""

from __future__ import annotations

from collections.abc import Iterator

from ._docker_client import docker_cli, docker_cli_lines, docker_client
from ._stack import DEFAULT_STACK, stack_service
from .errors import ToolingError

__all__ = ["LOGS_TIMEOUT", "service_logs"]

LOGS_TIMEOUT = 60.0  # seconds for `workers logs` without --follow


def service_logs(name: str, *, stack: str = DEFAULT_STACK, follow: bool = False,
                 since: str | None = None, tail: int | None = None) -> Iterator[str]:
    """Log lines of every replica of a service, each prefixed with its task name.

    Through the docker CLI: the Docker SDK's service log stream can hang on engines of
    the 20.10 line once a task was shut down, while the CLI returns.
    """
    with docker_client() as client:
        service = stack_service(client, stack, name)
    command = ["service", "logs", "--no-trunc"]
    if follow:
        command.append("--follow")
    if since:
        command += ["--since", since]
    if tail is not None:
        command += ["--tail", str(tail)]
    if follow:
        yield from docker_cli_lines([*command, service.name])
        return
    # Bounded: on engines of the 20.10 line the stream of a task that stops while it is
    # read may never end.
    done = docker_cli([*command, service.name], timeout=LOGS_TIMEOUT)
    if done.returncode != 0:
        raise ToolingError(f"docker service logs failed: {done.stderr.strip()}")
    yield from (done.stdout + done.stderr).splitlines()
