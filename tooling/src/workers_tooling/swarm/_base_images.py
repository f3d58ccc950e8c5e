"""Base images of the Dockerfiles, found where no registry is reachable.

A Dockerfile names a public base (``python:3.12-slim``, ``eclipse-temurin:17-jre``) that a
machine without network cannot pull; ``scripts/base-images.sh`` makes local ones. The base
is, in order: the environment variable (``BASE_IMAGE``, ``JRE_BASE_IMAGE``), the public
image when this Docker engine has it, the local one when it has that, else the public one
left to the build to pull (and :func:`pull_hint` says what to do when that fails).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from docker.errors import APIError, NotFound

__all__ = ["JRE_BASE", "PROMETHEUS_BASE", "PYTHON_BASE", "BaseImage", "find_base", "pull_hint"]


@dataclass(frozen=True)
class BaseImage:
    variable: str  # the environment variable and build argument
    public: str  # what the Dockerfile names
    local: str  # what scripts/base-images.sh builds
    script_arg: str  # scripts/base-images.sh ARG builds only this one


PYTHON_BASE = BaseImage("BASE_IMAGE", "python:3.12-slim", "local/python-base:bookworm",
                        "python")
JRE_BASE = BaseImage("JRE_BASE_IMAGE", "eclipse-temurin:17-jre", "local/jre-base:bookworm", "jre")
PROMETHEUS_BASE = BaseImage("PROMETHEUS_BASE_IMAGE", "prom/prometheus:v2.42.0",
                            "local/prometheus-base:bookworm", "prometheus")


def _present(client: Any, image: str) -> bool:
    try:
        client.images.get(image)
    except (NotFound, APIError):
        return False
    return True


def find_base(client: Any, base: BaseImage, given: str | None = None,
              say: Callable[[str], None] = lambda line: None) -> str | None:
    """The base image to build on (None: the Dockerfile's own, to be pulled)."""
    chosen = given or os.environ.get(base.variable)
    if chosen:
        return chosen
    if _present(client, base.public):
        return None
    if _present(client, base.local):
        say(f"{base.variable} not set and {base.public} not here: building on {base.local}")
        return base.local
    return None


# What a Docker engine says when it cannot reach a registry to pull from.
_NO_PULL = ("pull access denied", "dial tcp", "no such host", "lookup ", "i/o timeout",
            "tls handshake", "connection refused", "network is unreachable",
            "manifest unknown", "toomanyrequests", "not found: manifest")


def pull_hint(base: BaseImage, chosen: str | None, error: str) -> str:
    """The fix for a build that failed pulling its base image ("" for other failures)."""
    if chosen or not any(marker in error.lower() for marker in _NO_PULL):
        return ""
    return (f"no {base.variable} is set and {base.public} cannot be pulled here (no network "
            f"or registry); build a local base with `scripts/base-images.sh {base.script_arg}` "
            f"(it makes {base.local}, used from then on), or set {base.variable} to a base "
            "image this Docker engine has")
