"""The example workers as real processes against a real engine, with their demo processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.engine import REPO, EngineApi

pytestmark = pytest.mark.engine


@contextmanager
def worker_process(name: str, api: EngineApi, tmp_path: Path) -> Iterator[None]:
    # A 1 s long poll: SIGTERM waits for the last poll (10 s by default; its own tests:
    # tests/sdk/test_shutdown_and_locks.py), these tests check what the examples do.
    env = {**os.environ, "CAMUNDA_URL": api.url, "METRICS_PORT": "0",
           "CAMUNDA_LONG_POLL_MS": "1000",
           "PYTHONPATH": str(REPO / "workers"), "PUBLICACAO_DIR": str(tmp_path / "docs")}
    log = (tmp_path / f"{name}.log").open("wb")
    process = subprocess.Popen([sys.executable, "main.py"], cwd=REPO / "workers" / name,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        log.close()


def deploy(api: EngineApi, bpmn: str) -> None:
    files = {bpmn: (bpmn, (REPO / "processes" / bpmn).read_bytes(), "application/xml")}
    response = api.http.post("/deployment/create", files=files,
                             data={"deployment-name": bpmn, "enable-duplicate-filtering": "true"})
    assert response.status_code == 200, response.text


def test_hello_world(camunda: EngineApi, tmp_path: Path) -> None:
    deploy(camunda, "hello_world.bpmn")
    instances = [camunda.start("hello_world", {"name": f"n{i}"}) for i in range(5)]
    with worker_process("hello-world", camunda, tmp_path):
        camunda.wait_finished(instances)
    assert camunda.variables(instances[3])["greeting"]["value"] == "Hello, n3!"


def test_publicacao_publishes_and_rejects(camunda: EngineApi, tmp_path: Path) -> None:
    deploy(camunda, "publicacao.bpmn")
    article = {"titulo": "Boletim", "autor": "Equipe",
               "secoes": [{"titulo": "Notícias", "paragrafos": ["Tudo certo por aqui."]}]}
    good = camunda.start("publicacao", article)
    bad = camunda.start("publicacao", {"titulo": "Sem autor", "secoes": []})
    with worker_process("publicacao", camunda, tmp_path):
        camunda.wait_finished([good, bad])
    assert "publicada" in camunda.activities(good)
    result = camunda.variables(good)
    assert result["publicacao_resumo"]["value"] == "Tudo certo por aqui."
    assert Path(result["publicacao_caminho"]["value"]).read_text().count("<h2") == 1
    assert "rejeitada" in camunda.activities(bad)
    errors = json.loads(camunda.variables(bad)["publicacao_erros"]["value"])
    assert errors == ["autor: required text is missing",
                      "secoes: expected a non-empty list of {titulo, paragrafos}"]
