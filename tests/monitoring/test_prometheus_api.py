"""The Prometheus client's errors: a clear message naming the URL, never a traceback."""

from __future__ import annotations

import pytest

from tests.support.engine import EngineApi, free_port
from tests.tooling.helpers import run_cli
from workers_tooling import PrometheusApi, ToolingError


def test_not_a_url() -> None:
    with pytest.raises(ToolingError, match=r"--prometheus 'localhost:9090': give an http\(s\) "
                                           r"URL, e.g. http://localhost:9090"):
        PrometheusApi("localhost:9090")


def test_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run_cli(capsys, "monitoring-status", "--prometheus", url)
    assert code == 1
    assert f"error: Prometheus at {url} does not answer: ConnectError" in err
    assert "Traceback" not in out + err


@pytest.mark.engine
def test_something_else_answers(camunda: EngineApi) -> None:
    with PrometheusApi(camunda.url) as api, pytest.raises(
            ToolingError, match=r"/api/v1/query: HTTP 404, not the Prometheus API \(is this "
                                r"Prometheus' URL\?\)"):
        api.query("up")
