"""The autoscaler's engine client (the stack's autoscaler and ``workers autoscale
--dry-run``) authenticates as the workers do, against a real engine with basic auth, a
bearer token and HTTPS: the same variables, plain or as ``_FILE`` secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.engine import EngineApi, EngineProcess, unique
from tests.support.secured_engine import TOKEN
from workers_tooling.autoscale import read_loads
from workers_tooling.autoscale._engine import CredentialError, engine_client

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("credentials", ["basic", "basic_files", "token", "token_file"])
def test_loads_read_with_the_workers_credentials(
        secured: tuple[EngineProcess, EngineApi], tls_files: tuple[Path, Path],
        tmp_path: Path, credentials: str) -> None:
    engine, api = secured
    topic = unique("as_auth")
    api.deploy_external_task(topic)
    api.start_many(f"p_{topic}", 3)
    (tmp_path / "user").write_text("demo\n")
    (tmp_path / "password").write_text("demo\n")
    (tmp_path / "token").write_text(f"{TOKEN}\n")
    environ = {"CAMUNDA_CA_BUNDLE": str(tls_files[0]), **{
        "basic": {"CAMUNDA_USER": "demo", "CAMUNDA_PASSWORD": "demo"},
        "basic_files": {"CAMUNDA_USER_FILE": str(tmp_path / "user"),
                        "CAMUNDA_PASSWORD_FILE": str(tmp_path / "password")},
        "token": {"CAMUNDA_TOKEN": TOKEN},
        "token_file": {"CAMUNDA_TOKEN_FILE": str(tmp_path / "token")},
    }[credentials]}
    with engine_client(engine.url, environ) as client:
        reading = read_loads(client, {"w": [topic]})
    assert (reading.error, dict(reading.loads)) == (None, {"w": 3})


def test_without_credentials_the_engine_refuses_and_the_reading_says_so(
        secured: tuple[EngineProcess, EngineApi], tls_files: tuple[Path, Path]) -> None:
    engine, _ = secured
    with engine_client(engine.url, {"CAMUNDA_CA_BUNDLE": str(tls_files[0])}) as client:
        reading = read_loads(client, {"w": [unique("as_auth")]})
    assert "HTTP 401" in (reading.error or ""), reading.error
    assert dict(reading.loads) == {}


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CredentialError, match=f"CAMUNDA_TOKEN_FILE: cannot read {missing}"):
        engine_client("http://127.0.0.1:1/engine-rest", {"CAMUNDA_TOKEN_FILE": str(missing)})
    with pytest.raises(CredentialError, match=f"CAMUNDA_CA_BUNDLE: cannot read {missing}"):
        engine_client("https://127.0.0.1:1/engine-rest", {"CAMUNDA_CA_BUNDLE": str(missing)})


def test_a_secret_file_that_is_no_secret_is_refused_at_once() -> None:
    """A variable pointing at an endless or huge file is refused after 64 KiB read, not
    read until memory runs out (the workers read their secrets the same way)."""
    with pytest.raises(CredentialError, match="CAMUNDA_TOKEN_FILE: /dev/zero is over 65536 "
                                              "bytes: not a secret file"):
        engine_client("http://127.0.0.1:1/engine-rest", {"CAMUNDA_TOKEN_FILE": "/dev/zero"})
