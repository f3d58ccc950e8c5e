"""Docker engines behind ``ssh://``, reached with OpenSSH and pooled connections.

docker-py's OpenSSH transport (``use_ssh_client=True``) runs ``ssh HOST docker system
dial-stdio`` like the docker CLI does, so ``~/.ssh/config``, ``/etc/ssh/ssh_config.d``,
the agent, known hosts and ProxyJump all apply. But it starts a new ``ssh`` (a full
login) for every request and never reaps it (docker/docker-py#2966, open): one
``workers status`` left a dozen ssh processes behind. Here the same transport keeps its
connections in a pool (HTTP keep-alive over one ``ssh`` each) and closing the client ends
them: stdin closed, the process waited for, the pipes closed. A ``workers status`` is one
ssh login instead of a dozen.

Written against docker-py 7.x (``docker.transport.sshconn``; pinned ``<8``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from typing import Any

import docker
from docker.constants import DEFAULT_MAX_POOL_SIZE, MINIMUM_DOCKER_API_VERSION
from docker.errors import DockerException
from docker.transport.sshconn import (
    SSHConnection,
    SSHConnectionPool,
    SSHHTTPAdapter,
    SSHSocket,
)

__all__ = ["ssh_docker_client"]

_MOUNT = "http+docker://ssh"  # where docker-py's APIClient mounts its ssh adapter


class _ReapedSocket(SSHSocket):
    """docker-py's socket over ``ssh ... docker system dial-stdio``: reusable, closed for real.
    """

    def makefile(self, mode: str) -> Any:  # type: ignore[override]
        if not self.proc:
            self.connect()
        assert self.proc is not None
        assert self.proc.stdout is not None
        # A reader per response over a duplicate of the pipe: http.client closes each
        # response's file, and the next request on this connection reads the pipe again.
        # (No read-ahead is lost: dial-stdio sends nothing before the next request.)
        reader = os.fdopen(os.dup(self.proc.stdout.fileno()), "rb")
        reader.channel = self  # type: ignore[attr-defined]  # docker-py's raw socket lookup
        return reader

    def close(self) -> None:
        process: subprocess.Popen[bytes] | None = self.proc
        self.proc = None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):  # ssh already gone: nothing to flush
                    process.stdin.close()  # EOF: the remote dial-stdio ends
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        # SSHSocket is a socket.socket that never connects; its descriptor is ours to free.
        socket.socket.close(self)


class _Connection(SSHConnection):
    def connect(self) -> None:
        sock = _ReapedSocket(str(self.ssh_host))
        sock.settimeout(self.timeout)
        sock.connect()
        self.sock = sock


class _Pool(SSHConnectionPool):
    def _new_conn(self) -> Any:  # an SSHConnection (the stubs say urllib3's base class)
        timeout: Any = self.timeout  # the seconds given (SSHConnectionPool sets it so)
        return _Connection(None, timeout, self.ssh_host)


class _PooledAdapter(SSHHTTPAdapter):
    """One pool for the host, kept (docker-py's OpenSSH path makes a new pool per request,
    its paramiko path one per request URL)."""

    def __init__(self, base_url: str, timeout: int, max_pool_size: int) -> None:
        super().__init__(base_url, timeout, max_pool_size=max_pool_size, shell_out=True)

    def get_connection(self, url: Any, proxies: Any = None) -> _Pool:
        pools: Any = self.pools  # a urllib3 RecentlyUsedContainer (the stubs say int)
        with pools.lock:
            pool: _Pool | None = pools.get(self.ssh_host)
            if pool is None:
                pool = _Pool(ssh_client=None, timeout=self.timeout,
                             maxsize=self.max_pool_size, host=self.ssh_host)
                pools[self.ssh_host] = pool
        return pool


def ssh_docker_client(base_url: str, *, timeout: int) -> docker.DockerClient:
    """A client of the engine at ``ssh://[user@]host[:port]``, through OpenSSH."""
    # A fixed version first, so that no request goes out before our adapter is mounted;
    # then the engine's own API version, as docker.from_env() would negotiate it.
    client = docker.DockerClient(base_url=base_url, version=MINIMUM_DOCKER_API_VERSION,
                                 timeout=timeout, use_ssh_client=True)
    adapter = _PooledAdapter(base_url, timeout, DEFAULT_MAX_POOL_SIZE)
    api: Any = client.api  # its adapter and version are set the way its __init__ does
    api.mount(_MOUNT, adapter)
    api._custom_adapter = adapter  # closed with the client
    negotiated = False
    try:
        api._version = api.version(api_version=False)["ApiVersion"]
        negotiated = True
    except Exception as exc:  # as docker.from_env() reports it: a DockerException
        raise DockerException(f"Error while fetching server API version: {exc}") from exc
    finally:
        if not negotiated:
            client.close()
    return client
