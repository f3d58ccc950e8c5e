"""The one place where a Docker engine is reached and its absence explained.

The engine is the one the docker CLI would use: ``DOCKER_HOST`` (``unix://``, ``tcp://``,
``ssh://user@host``), else ``DOCKER_CONTEXT``, else the current context of
``~/.docker/config.json``, else the local socket. Over ``ssh://`` both the Docker SDK and
the docker CLI run OpenSSH's ``ssh`` (see ``_ssh``): one SSH setup (``~/.ssh/config``,
``/etc/ssh/ssh_config.d``, the agent, known hosts, ProxyJump) serves every command, and the
remote ``docker system dial-stdio`` reaches the remote engine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import docker
import requests
from docker.context import ContextAPI
from docker.errors import APIError, DockerException

from .._tools import require_program
from ..errors import DockerCommandTimeout, DockerRefused, DockerUnavailable, NotASwarm, ToolingError
from ._ssh import ssh_docker_client

__all__ = [
    "DockerCommandTimeout", "DockerRefused", "DockerUnavailable", "NotASwarm", "docker_cli",
    "docker_cli_lines", "docker_client", "require_swarm",
]


TIMEOUT = 120  # seconds per Docker API call (builds stream, so this is per chunk)


@contextmanager
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the engine from the environment (DOCKER_HOST, else DOCKER_CONTEXT or the
    current Docker CLI context), closed after.

    The Docker SDK's errors that leave the ``with`` block become :class:`DockerRefused` (the
    engine answered with an error) or :class:`DockerUnavailable`: this is where the tooling
    translates them, so its callers see only tooling errors."""
    _require_context()
    client: docker.DockerClient | None = None
    try:
        base_url = _base_url()
        if base_url.startswith("ssh://"):
            client = ssh_docker_client(base_url, timeout=TIMEOUT)
        else:
            client = docker.from_env(timeout=TIMEOUT)
        client.ping()
    except DockerException as exc:
        if client is not None:
            client.close()
        raise DockerUnavailable(_unavailable(exc)) from None
    try:
        yield client
    except APIError as exc:
        raise DockerRefused(
            f"the Docker engine refused the request ({_one_line(exc.explanation or exc)}); "
            "check the names and options given (REGISTRY, TAG, --stack)") from exc
    except (DockerException, requests.RequestException) as exc:
        # the SDK lets a connection lost half-way through (requests') errors pass as they are
        raise DockerUnavailable(_unavailable(exc)) from exc
    finally:
        client.close()


def _require_context() -> None:
    """A DOCKER_CONTEXT docker-py cannot find would silently mean the local engine: refuse."""
    name = os.environ.get("DOCKER_CONTEXT")
    if os.environ.get("DOCKER_HOST") or not name or name == "default":
        return
    if ContextAPI.get_context(name) is None:
        where = os.environ.get("DOCKER_CONFIG") or "~/.docker"
        raise DockerUnavailable(
            f"DOCKER_CONTEXT={name}: no such Docker context in {where} (docker-py reads "
            f"contexts next to {where}/config.json); list them with `docker context ls`, "
            "create one with `docker context create`, or set DOCKER_HOST instead")


def _base_url() -> str:
    """Where the docker CLI would go: DOCKER_HOST, else the context (DOCKER_CONTEXT, the
    current one of ~/.docker/config.json), else the local socket."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host
    return str(ContextAPI.kwargs_from_context().get("base_url") or "")


def _one_line(text: object, limit: int = 400) -> str:
    # one line: something that is not an engine may answer with a whole HTML page
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _unavailable(exc: Exception) -> str:
    said = _one_line(exc, 300)
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("ssh://"):
        target = host.removeprefix("ssh://").split("/", 1)[0]
        return (f"no Docker engine answers at {host} ({said}); `ssh {target} docker version` "
                "must work first: check the key (ssh-agent or ~/.ssh/config), the host key "
                "(known_hosts) and that docker is installed there (ssh's own message, if any, "
                "is above)")
    context = os.environ.get("DOCKER_CONTEXT")
    where = f" (DOCKER_CONTEXT={context})" if context and not host else ""
    return (f"no Docker engine answers{where} ({said}); start one (`scripts/docker-up.sh` here, "
            "or `systemctl start docker`), or point DOCKER_HOST (e.g. ssh://user@host) or "
            "DOCKER_CONTEXT at yours")


def require_swarm(client: docker.DockerClient) -> None:
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        raise NotASwarm(
            "this Docker engine is not a Swarm manager; run `docker swarm init` "
            "(`docker swarm init --advertise-addr 127.0.0.1` on a single machine)"
        )


def _docker_executable() -> str:
    return require_program("docker", "for stacks and service logs (the docker command line)")


def docker_cli_lines(args: Sequence[str]) -> Iterator[str]:
    """Stream the docker CLI's output (stdout and stderr) line by line as it comes."""
    executable = _docker_executable()
    with subprocess.Popen([executable, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                yield line.rstrip("\n")
        finally:
            if process.poll() is None:
                process.terminate()
    if process.returncode not in (0, -15):
        raise ToolingError(f"docker {' '.join(args)} exited with {process.returncode}")


def docker_cli(args: Sequence[str], *, timeout: float | None = None,
               environ: Mapping[str, str] | None = None,
               input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """The ``docker`` CLI, for what the Docker SDK does not do (stacks, streamed logs,
    ``exec -i`` with input)."""
    executable = _docker_executable()
    try:
        return subprocess.run([executable, *args], capture_output=True, text=True,
                              input=input_text,
                              errors="replace", check=False, timeout=timeout,
                              env=dict(environ) if environ is not None else None)
    except subprocess.TimeoutExpired:
        raise DockerCommandTimeout(f"docker {' '.join(args)} did not finish within "
                                   f"{timeout:.0f}s; try again") from None
