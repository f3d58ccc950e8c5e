"""Whether a local port is free to listen on."""

from __future__ import annotations

import socket

__all__ = ["port_free"]


def port_free(port: int, host: str = "0.0.0.0") -> bool:
    """True if a server could bind ``host:port`` now."""
    with socket.socket() as probe:
        # as the servers do: connections in TIME_WAIT do not make a port busy
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
