"""An engine with authentication and HTTPS (basic auth as demo/demo, the bearer token
``test-token``, a self-signed certificate for localhost), started once per test session
for every test that needs one (the SDK's auth/TLS tests, the autoscaler's engine client)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import EngineApi, EngineProcess, free_port

TOKEN = "test-token"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 and its key (PEM)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="session")
def secured(tls_files: tuple[Path, Path]) -> Iterator[tuple[EngineProcess, EngineApi]]:
    """An engine with basic auth, a bearer token and HTTPS."""
    cert, key = tls_files
    engine = EngineProcess("camunda", free_port(), args=[
        "--engine.auth=basic", f"--engine.auth-token={TOKEN}",
        "--server.ssl.enabled=true", f"--server.ssl.certificate=file:{cert}",
        f"--server.ssl.certificate-private-key=file:{key}",
    ])
    engine.scheme = "https"
    engine.verify = ssl.create_default_context(cafile=str(cert))
    engine.start()
    api = EngineApi(engine.url, auth=("demo", "demo"), verify=engine.verify)
    yield engine, api
    api.close()
    engine.stop()
