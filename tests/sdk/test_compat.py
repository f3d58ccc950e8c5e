"""camunda_workers.compat without an engine: the config dict's mapping (the README's table),
its refusals, typed values in results, the unit-test helper and the optional extra."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.utils.auth_basic import AuthBasic

from camunda_workers import SpecError, TypedValue
from camunda_workers._client import basic_auth
from camunda_workers._compat_handler import plain_variables
from camunda_workers.compat import (
    AsyncExternalTaskWorker,
    ExternalTaskWorker,
    make_external_task,
)

URL = "http://engine:8080/engine-rest"


def sync(config: dict[str, Any] | None = None, **kwargs: Any) -> ExternalTaskWorker:
    return ExternalTaskWorker("1", URL, config, environ={}, **kwargs)


def test_each_config_key_maps_onto_our_settings() -> None:
    worker = sync({
        "maxTasks": 20, "lockDuration": 10_000, "asyncResponseTimeout": 5_000, "retries": 5,
        "retryTimeout": 2_000, "httpTimeoutMillis": 4_000, "timeoutDeltaMillis": 1_000,
        "sleepSeconds": 30, "includeExtensionProperties": False, "deserializeValues": False,
        "usePriority": True, "sorting": None, "isDebug": True,
        "auth_basic": {"username": "demo", "password": "secret"},
    })
    settings = worker.worker.settings
    assert (settings.max_tasks, settings.lock_duration_ms, settings.async_response_timeout_ms) == (
        20, 10_000, 5_000)
    assert (settings.retries, settings.retry_timeout_ms, settings.http_timeout_seconds) == (
        5, 2_000, 4.0)
    assert (settings.backoff_max_seconds, settings.use_priority, settings.log_level) == (
        30, True, "DEBUG")
    assert settings.username == "demo"
    assert settings.password is not None
    assert settings.password.get_secret_value() == "secret"
    assert (settings.worker_id, settings.base_url) == ("1", URL)
    assert (worker._fetch.include_extension_properties, worker._fetch.deserialize_values) == (
        False, False)


def test_keys_not_given_keep_our_defaults_and_its_fetch_defaults() -> None:
    worker = sync()
    settings = worker.worker.settings
    assert (settings.max_tasks, settings.lock_duration_ms, settings.retries) == (10, 60_000, 3)
    # that library's: extension properties and deserialized values fetched, no priority
    assert (worker._fetch.include_extension_properties, worker._fetch.deserialize_values) == (
        True, True)
    assert settings.use_priority is False


def test_the_async_workers_concurrency_key() -> None:
    worker = AsyncExternalTaskWorker("a", URL, {"maxConcurrentTasks": 7}, environ={})
    assert worker.worker.settings.max_tasks == 7
    with pytest.raises(SpecError, match=r"maxTasks: unknown key; did you mean "):
        AsyncExternalTaskWorker("a", URL, {"maxTasks": 7}, environ={})


def test_a_misspelt_key_is_refused_with_a_did_you_mean() -> None:
    with pytest.raises(SpecError) as caught:
        sync({"maxTask": 5, "lockDuraton": 1000})
    assert str(caught.value).splitlines() == [
        "ExternalTaskWorker config: maxTask: unknown key; did you mean 'maxTasks'?",
        "ExternalTaskWorker config: lockDuraton: unknown key; did you mean 'lockDuration'?",
    ]


def test_a_key_we_cannot_honour_is_refused_with_the_reason() -> None:
    with pytest.raises(SpecError, match=r"config: sorting: cannot be honoured: .*priority"):
        sync({"sorting": [{"sortBy": "createTime", "sortOrder": "asc"}]})


def test_bad_values_name_the_key() -> None:
    with pytest.raises(SpecError, match=r"config: lockDuration: Input should be greater than "
                                        r"or equal to 1000"):
        sync({"lockDuration": 10})


def test_sleep_seconds_zero_still_backs_off_a_little() -> None:
    settings = sync({"sleepSeconds": 0}).worker.settings
    assert (settings.backoff_initial_seconds, settings.backoff_max_seconds) == (0.1, 0.1)


def test_a_long_poll_longer_than_the_drain_allows_is_shortened() -> None:
    """That library's default 30 s: a stopping worker waits for its last poll."""
    settings = sync({"asyncResponseTimeout": 30_000}).worker.settings
    assert settings.async_response_timeout_ms == settings.long_poll_bound_ms() == 22_700


def test_the_basic_auth_header_is_that_librarys() -> None:
    assert basic_auth("démo", "p:ss") == AuthBasic(username="démo", password="p:ss").token


@pytest.mark.parametrize("token", [{"access_token": "abc"}, {"access_token": "Bearer abc"},
                                   "abc"])
def test_bearer_tokens(token: Any) -> None:
    settings = sync({"auth_bearer": token}).worker.settings
    assert settings.token is not None
    assert settings.token.get_secret_value() == "abc"


def test_the_worker_name_comes_from_the_worker_id_when_it_is_one() -> None:
    assert sync().worker.settings.name == "external-task-worker"  # "1" is not kebab-case
    named = ExternalTaskWorker("invoice-sender", URL, environ={}).worker.settings.name
    assert named == "invoice-sender"


def test_typed_values_in_results_are_sent_as_that_library_sends_them() -> None:
    assert plain_variables({
        "plain": {"a": 1},
        "typed": {"value": "<a/>", "type": "Xml"},
        "untyped": {"value": 5},
        "not_typed": {"value": 1, "currency": "EUR"},
    }) == {
        "plain": {"a": 1},
        "typed": TypedValue("<a/>", "Xml", {}),
        "untyped": 5,
        "not_typed": {"value": 1, "currency": "EUR"},
    }


def test_make_external_task_for_unit_tests() -> None:
    def charge(task: ExternalTask) -> TaskResult:
        return task.complete({"charged": task.get_variable("amount") > 0})

    task = make_external_task({"amount": 5}, topic="charge", businessKey="b-1")
    result = charge(task)
    assert (task.get_topic_name(), task.get_business_key()) == ("charge", "b-1")
    assert result.is_success()
    assert result.global_variables == {"charged": True}


def test_without_the_extra_the_import_says_what_to_install() -> None:
    code = ("import sys; sys.modules['camunda'] = None; import camunda_workers; "
            "import camunda_workers.compat")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 1
    assert "pip install 'camunda-workers[compat]'" in result.stderr.splitlines()[-1]


def test_a_worker_run_on_another_thread_does_not_end_the_process() -> None:
    """That library's examples run one worker per topic, each in a thread of its own."""
    code = """if True:
        import threading, time
        from camunda_workers.compat import ExternalTaskWorker
        worker = ExternalTaskWorker("t", "http://127.0.0.1:9/engine-rest", environ={})
        thread = threading.Thread(target=worker.subscribe, args=("t", lambda task: None))
        thread.start()
        time.sleep(0.5)
        worker.stop()
        thread.join(30)
        print("the main thread goes on", flush=True)
        raise SystemExit(3)
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=60)
    assert (result.returncode, result.stdout) == (3, "the main thread goes on\n"), result.stderr
