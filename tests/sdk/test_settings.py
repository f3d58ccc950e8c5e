"""Settings and worker.json: sources, precedence and error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from camunda_workers import SpecError, Worker, WorkerSettings, WorkerSpec, load_spec
from camunda_workers._settings import RENAMED_SETTINGS, resolve_settings

SPEC = {"name": "email-sender", "port": 8003, "topics": ["send_email"], "max_tasks": 4,
        "lock_duration": 30_000}


def write_spec(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "worker.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_precedence_arguments_over_environment_over_spec(tmp_path: Path) -> None:
    path = write_spec(tmp_path, SPEC)
    env = {"CAMUNDA_URL": "http://engine:8080/engine-rest", "METRICS_PORT": "9100",
           "WORKER_ID": "w-1", "LOG_LEVEL": "DEBUG"}
    worker = Worker.from_spec(path, environ=env, max_tasks=2)
    s = worker.settings
    assert (s.name, s.lock_duration_ms) == ("email-sender", 30_000)  # from worker.json
    assert (s.base_url, s.port, s.log_level) == ("http://engine:8080/engine-rest", 9100, "DEBUG")
    assert s.max_tasks == 2  # argument beats worker.json
    assert worker.worker_id == "w-1"


def test_drain_timeout_follows_the_stop_grace_period(tmp_path: Path) -> None:
    default = Worker.from_spec(write_spec(tmp_path, SPEC), environ={})
    assert default.settings.drain_timeout_seconds == 25  # 30s grace period
    longer = Worker.from_spec(write_spec(tmp_path, {**SPEC, "stop_grace_period": "2m"}),
                              environ={})
    assert longer.settings.drain_timeout_seconds == 115
    assert Worker.from_spec(write_spec(tmp_path, SPEC), environ={},
                            drain_timeout_seconds=3).settings.drain_timeout_seconds == 3


def test_defaults() -> None:
    s = resolve_settings({"name": "x"}, environ={})
    assert s.base_url == "http://localhost:8080/engine-rest"
    assert (s.max_tasks, s.long_poll_ms(), s.retries, s.backoff_max_seconds) == (10, 10_000, 3, 30)
    assert s.effective_worker_id().startswith("x-")


def test_password_and_token_from_files_for_docker_secrets(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "tok").write_text("abc.def\n")
    s = resolve_settings({"name": "x"}, environ={
        "CAMUNDA_USER": "demo", "CAMUNDA_PASSWORD_FILE": str(tmp_path / "pw"),
        "CAMUNDA_TOKEN_FILE": str(tmp_path / "tok")})
    assert s.username == "demo"
    assert s.password is not None
    assert s.password.get_secret_value() == "s3cret"
    assert s.token is not None
    assert s.token.get_secret_value() == "abc.def"
    assert "s3cret" not in repr(s)


def test_unreadable_secret_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"CAMUNDA_PASSWORD_FILE: cannot read .*/nope"):
        resolve_settings({"name": "x"}, environ={"CAMUNDA_PASSWORD_FILE": str(tmp_path / "nope")})


def test_a_secret_file_that_is_no_secret_is_refused(tmp_path: Path) -> None:
    """Endless (/dev/zero), huge or binary: one clear error, read no further than 64 KiB."""
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    for path, why in (("/dev/zero", "is over 65536 bytes: not a secret file"),
                      (str(binary), "is not UTF-8 text")):
        with pytest.raises(SpecError, match=f"CAMUNDA_TOKEN_FILE: {path} {why}"):
            resolve_settings({"name": "x"}, environ={"CAMUNDA_TOKEN_FILE": path})


def test_bad_settings_list_every_problem_with_its_source() -> None:
    with pytest.raises(SpecError) as caught:
        resolve_settings({"name": "Bad_Name", "max_tasks": 0},
                         environ={"METRICS_PORT": "eighty", "CAMUNDA_URL": "engine:8080"})
    text = str(caught.value)
    assert "settings: name (from argument): 'Bad_Name' must be kebab-case" in text
    assert "max_tasks (from argument): Input should be greater than or equal to 1" in text
    assert "port (from env METRICS_PORT): Input should be a valid integer" in text
    assert ("base_url (from env CAMUNDA_URL): 'engine:8080' must start with http:// or "
            "https://, e.g. http://localhost:8080/engine-rest") in text


@pytest.mark.parametrize(("url", "problem"), [
    ("http://localhost:99999/engine-rest", "the port must be a number from 1 to 65535"),
    ("http://localhost:0/engine-rest", "the port must be a number from 1 to 65535"),
    ("http://localhost:http/engine-rest", "the port must be a number from 1 to 65535"),
    ("ftp://localhost/engine-rest", "must start with http:// or https://"),
    ("http:///engine-rest", "has no host"),
    ("http://localhost:8080/engine-rest?x=1", r"must not have a query or fragment"),
])
def test_base_url_is_checked_at_construction(url: str, problem: str) -> None:
    with pytest.raises(SpecError, match=rf"base_url \(from argument\): '.*'.*{problem}"):
        Worker(name="x", environ={}, base_url=url)


def test_the_long_poll_fits_inside_the_drain() -> None:
    def long_poll(**options: float) -> int:
        return resolve_settings({"name": "x", **options}, environ={}).long_poll_ms()

    assert long_poll(drain_timeout_seconds=5) == 3700
    assert long_poll(drain_timeout_seconds=0) == 1000
    assert long_poll(async_response_timeout_ms=20_000) == 20_000
    with pytest.raises(SpecError, match=r"async_response_timeout_ms \(30000\) must be at most "
                                        r"22700 with drain_timeout_seconds 25: a stopping worker "
                                        r"waits for its last long poll"):
        long_poll(async_response_timeout_ms=30_000)


def test_unknown_worker_option_is_refused() -> None:
    expected = r"max_task \(from argument\): unknown key; did you mean 'max_tasks'"
    with pytest.raises(SpecError, match=expected):
        Worker(name="x", environ={}, max_task=3)  # type: ignore[call-arg]


def test_load_spec_reports_every_problem_with_file_and_field(tmp_path: Path) -> None:
    path = write_spec(tmp_path, {"name": "Email_Sender", "port": 80, "topics": ["Send-Email"],
                                 "replica": 2})
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    lines = str(caught.value).splitlines()
    assert lines == [
        f"{path}: name: 'Email_Sender' must be kebab-case (lowercase letters, digits, "
        "single hyphens), e.g. 'email-sender'",
        f"{path}: port: Input should be greater than or equal to 1024",
        f"{path}: topics.0: 'Send-Email' must be snake_case (lowercase letters, digits, "
        "single underscores), e.g. 'send_email'",
        f"{path}: replica: unknown key; did you mean 'replicas'?",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "invalid JSON at line 1 column 2"),
    ("[]", "expected a JSON object, got list"),
    ('{"name": "a"}', "port: required field is missing; add it"),
    ('{"name": "a", "port": 8001, "topics": []}', "topics: List should have at least 1 item"),
])
def test_load_spec_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(write_spec(tmp_path, text))


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"worker\.json: cannot read: No such file"):
        load_spec(tmp_path / "worker.json")


def test_spec_accepts_schema_reference_and_exports_json_schema(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, {**SPEC, "$schema": "../worker.schema.json"}))
    assert spec.schema_ref == "../worker.schema.json"
    schema = WorkerSpec.model_json_schema(by_alias=True)
    assert "$schema" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_worker_without_handlers_refuses_to_run() -> None:
    worker = Worker(name="idle", environ={})
    with pytest.raises(ValueError, match=r"no topic handlers: register one with @worker.topic"):
        worker.run()


def test_duplicate_topic_registration_is_refused() -> None:
    worker = Worker(name="dup", environ={})
    worker.topic("a")(lambda task: None)
    with pytest.raises(ValueError, match="topic 'a' already has a handler"):
        worker.topic("a")(lambda task: None)


@pytest.mark.parametrize("environ", [
    {"CAMUNDA_URL": "http://admin:S3cr3t@engine:99999/engine-rest"},
    {"CAMUNDA_URL": "http://admin:S3cr3t@engine:8080/engine-rest", "CAMUNDA_TOKEN": "tok"},
    {"CAMUNDA_URL": "ftp://admin:S3cr3t@engine/engine-rest"},
], ids=["bad_port", "with_token", "bad_scheme"])
def test_credentials_in_the_url_are_refused_with_the_fix_and_never_shown(
        environ: dict[str, str]) -> None:
    with pytest.raises(SpecError) as caught:
        Worker(name="x", environ=environ)
    message = str(caught.value)
    assert "S3cr3t" not in message
    assert "admin:***@engine" in message
    if not environ["CAMUNDA_URL"].startswith("ftp"):
        assert message == (
            f"settings: base_url (from env CAMUNDA_URL): "
            f"'{environ['CAMUNDA_URL'].replace('S3cr3t', '***')}' carries credentials, which "
            "would show in logs and process listings; remove them from the URL and set "
            "CAMUNDA_USER and CAMUNDA_PASSWORD_FILE (a Docker secret) or CAMUNDA_TOKEN_FILE "
            "instead")


def test_a_url_with_credentials_ends_the_process_with_one_line_and_no_password(
        tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.engine import REPO

    script = ("from camunda_workers import CamundaWorkersError, Worker\n"
              "try:\n"  # as the template's main.py does
              "    worker = Worker(name='x')\n"
              "except CamundaWorkersError as error:\n"
              "    raise SystemExit(str(error)) from None\n")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "CAMUNDA_TOKEN": "tok",
             "CAMUNDA_URL": "http://admin:S3cr3t@engine:8080/engine-rest"})
    assert done.returncode != 0
    assert "S3cr3t" not in done.stdout + done.stderr
    assert "http://admin:***@engine:8080/engine-rest" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("http://admin:S3cr3t@engine:8080/x", "http://admin:***@engine:8080/x"),
    ("http://a-token@engine/x", "http://***@engine/x"),
    ("https://u:p@ss@engine:1/x?q=@", "https://u:***@engine:1/x?q=@"),
    ("http://engine:8080/x?next=a@b", "http://engine:8080/x?next=a@b"),
    ("not a url", "not a url"),
])
def test_redacted_url(url: str, shown: str) -> None:
    from camunda_workers._settings import redacted_url

    assert redacted_url(url) == shown


def test_the_answer_cap_is_a_setting_with_an_environment_variable() -> None:
    from camunda_workers._settings import DEFAULT_MAX_ANSWER_BYTES

    assert DEFAULT_MAX_ANSWER_BYTES == 64 * 2**20  # an eighth of production's 512 MiB
    assert resolve_settings({"name": "x"}, environ={}).max_answer_bytes == 64 * 2**20
    assert resolve_settings({"name": "x"}, environ={"CAMUNDA_MAX_ANSWER_BYTES": "1048576"}
                            ).max_answer_bytes == 2**20
    with pytest.raises(SpecError, match=r"max_answer_bytes \(from env CAMUNDA_MAX_ANSWER_BYTES"
                                        r"\): Input should be greater than or equal to 65536"):
        resolve_settings({"name": "x"}, environ={"CAMUNDA_MAX_ANSWER_BYTES": "1000"})


def test_a_token_of_more_than_one_line_is_refused_without_showing_it(tmp_path: Path) -> None:
    """It would go into the Authorization header as it is: aiohttp raised a bare ValueError
    ("Forbidden control character") at the first request, ending the worker."""
    (tmp_path / "token").write_text("abc\ndef-S3cr3t\n")
    with pytest.raises(SpecError) as caught:
        Worker(name="x", environ={"CAMUNDA_TOKEN_FILE": str(tmp_path / "token")})
    assert str(caught.value) == (
        "settings: token (from env CAMUNDA_TOKEN_FILE): contains a line break or another "
        "control character; a token is one line (its value is not shown)")


# Durations carry their unit in their names; the old names work, with a warning.
OLD_NAMES = {"lock_duration": 30_000, "async_response_timeout": 1_000, "http_timeout": 5.0,
             "retry_timeout": 1_000, "max_retry_timeout": 9_000, "backoff_initial": 0.2,
             "backoff_max": 3.0, "drain_timeout": 10.0}


def test_every_renamed_setting_is_tested_and_carries_its_unit() -> None:
    assert set(RENAMED_SETTINGS) == set(OLD_NAMES)
    for old, new in RENAMED_SETTINGS.items():
        assert new in WorkerSettings.model_fields, new
        assert new in (f"{old}_ms", f"{old}_seconds"), new


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_an_old_duration_name_still_works_and_warns_at_the_callers_line(old: str) -> None:
    new, value = RENAMED_SETTINGS[old], OLD_NAMES[old]
    options: dict[str, Any] = {old: value}
    with pytest.warns(DeprecationWarning, match=rf"^{old} is deprecated: call it {new} ") as seen:
        worker = Worker(name="x", environ={}, **options)
    assert getattr(worker.settings, new) == value
    assert [Path(w.filename).name for w in seen] == ["test_settings.py"]
    with pytest.warns(DeprecationWarning, match=rf"^{old} is deprecated: call it {new} ") as seen:
        settings = WorkerSettings(name="x", **options)
    assert getattr(settings, new) == value
    assert [Path(w.filename).name for w in seen] == ["test_settings.py"]


@pytest.mark.parametrize("old", ["retry_timeout", "drain_timeout"])
def test_an_old_and_a_new_name_of_one_setting_together_are_refused(old: str) -> None:
    new = RENAMED_SETTINGS[old]
    options: dict[str, Any] = {old: 5, new: 5}
    expected = rf"^settings: {old}: given together with {new}, its new name; give {new} only$"
    with pytest.raises(SpecError, match=expected):
        Worker(name="x", environ={}, **options)


def test_a_topics_old_lock_duration_name_still_works_and_warns() -> None:
    worker = Worker(name="x", environ={})
    with pytest.warns(DeprecationWarning, match="^lock_duration is deprecated: call it "
                                                "lock_duration_ms "):
        worker.topic("t", lock_duration=5_000)(lambda task: None)
    assert worker.subscriptions["t"].lock_duration_ms == 5_000
    with pytest.raises(ValueError, match="lock_duration given together with lock_duration_ms"):
        worker.topic("u", lock_duration=5_000, lock_duration_ms=5_000)


def test_from_spec_warns_at_the_callers_line_too(tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning, match="^drain_timeout is deprecated") as seen:
        worker = Worker.from_spec(write_spec(tmp_path, SPEC), environ={}, drain_timeout=3)  # type: ignore[call-arg]
    assert worker.settings.drain_timeout_seconds == 3
    assert [Path(w.filename).name for w in seen] == ["test_settings.py"]
