"""The autoscaler's HTTP client for the engine, with the workers' credentials.

The same variables as a worker's (``camunda_workers`` settings): ``CAMUNDA_USER`` with
``CAMUNDA_PASSWORD`` (basic auth) or ``CAMUNDA_TOKEN`` (bearer), each also as ``NAME_FILE``
(a Docker secret's path; the file wins), and ``CAMUNDA_CA_BUNDLE`` (a PEM file to trust
for https). The stack's autoscaler gets the ``_FILE`` forms;
``workers autoscale --dry-run`` on a laptop reads either, so it sees what the stack sees.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from camunda_workers import read_secret_file

__all__ = ["CredentialError", "engine_client"]


class CredentialError(Exception):
    """A credential or CA file that cannot be read (the message names the variable)."""


def _credential(environ: Mapping[str, str], name: str) -> str | None:
    path = environ.get(f"{name}_FILE")
    if not path:
        return environ.get(name) or None
    try:
        return read_secret_file(path)  # bounded, as the workers read it
    except ValueError as exc:
        raise CredentialError(f"{name}_FILE: {exc}") from None


def engine_client(url: str, environ: Mapping[str, str]) -> httpx.Client:
    """A client of the engine at ``url``, authenticated as ``environ`` says."""
    options: dict[str, Any] = {}
    user, password = (_credential(environ, "CAMUNDA_USER"),
                      _credential(environ, "CAMUNDA_PASSWORD"))
    token = _credential(environ, "CAMUNDA_TOKEN")
    if user is not None and password is not None:
        options["auth"] = (user, password)
    elif token is not None:
        options["headers"] = {"Authorization": f"Bearer {token}"}
    ca_bundle = environ.get("CAMUNDA_CA_BUNDLE")
    if ca_bundle:
        try:
            options["verify"] = ssl.create_default_context(cafile=ca_bundle)
        except OSError as exc:
            raise CredentialError(f"CAMUNDA_CA_BUNDLE: cannot read {ca_bundle} "
                                  f"({exc.strerror or exc})") from None
    return httpx.Client(base_url=url.rstrip("/"), timeout=10, **options)
