"""Every accepted answer renders a worker that runs: a corpus of edge-case answers, each
rendered with ``workers new``, compiled, tested with its own tests, linted, and started
against a real engine until it has completed one task per topic."""

from __future__ import annotations

import ast
import os
import py_compile
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineApi, unique
from tests.tooling.fresh_clone import BIN, clone, run, squashed_copy
from workers_tooling.template._answers import read_answers
from workers_tooling.template._scaffold import new_worker

pytestmark = pytest.mark.engine

LONGEST_NAME = "long-" + "n" * 35  # 40: WorkerSpec's limit
LONGEST_TOPIC = "t" * 255  # the engine's limit
CORPUS: dict[str, dict[str, Any]] = {
    "keywords": {"topics": ["class", "async", "await", "lambda", "import", "def"]},
    "soft-keywords": {"topics": ["match", "case", "type"]},
    # dict and str are in main.py's annotations: a handler named so would break the next one
    "builtins": {"topics": ["print", "dict", "str", "list", "id", "open", "any"]},
    "template-names": {"topics": ["worker", "main", "make_task", "run_handler", "path",
                                  "task"]},
    "yes": {"topics": ["yes", "no", "on", "off", "null", "true"]},  # YAML 1.1 booleans
    "x": {"topics": ["x"]},
    LONGEST_NAME: {"topics": [LONGEST_TOPIC]},
    # main.py with handlers written for camunda-external-task-client-python3 (compat layer)
    "py3": {"topics": ["py3_first", "config", "task_result", "subscribe"], "api": "py3"},
    "edges": {"topics": ["edges"], "port": 65535, "max_tasks": 1000, "lock_duration": 1000,
              "replicas": 0, "custom_dockerfile": True,
              "description": 'Says """hi""" to "everyone" \\ with ção and ☃, ending in "'},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    origin = squashed_copy(tmp_path_factory.mktemp("origin") / "camunda-workers")
    repo = clone(origin, tmp_path_factory.mktemp("clone") / "camunda-workers")
    return {name: new_worker(repo, answers={"name": name, **answers})
            for name, answers in CORPUS.items()}


@pytest.mark.parametrize("name", list(CORPUS))
def test_renders_compiles_and_passes_its_own_tests(corpus: dict[str, Path], name: str) -> None:
    worker = corpus[name]
    py_compile.compile(str(worker / "main.py"), doraise=True)
    assert read_answers(worker)["topics"] == CORPUS[name]["topics"]  # recorded as strings
    run(worker, sys.executable, "-m", "pytest", "-q")
    # The worker's own lint settings; lines grow past 100 only with very long topics.
    run(worker, str(BIN / "ruff"), "check", "--quiet", "--ignore", "E501", ".")


def test_only_a_py3_worker_asks_for_the_compat_extra(corpus: dict[str, Path]) -> None:
    """Its image gets camunda-external-task-client-python3 (and requests); the others not."""
    for name, worker in corpus.items():
        wanted = [line for line in (worker / "requirements.txt").read_text().splitlines()
                  if line and not line.startswith("#")]
        assert wanted == (["camunda-workers[compat]"] if name == "py3" else []), name
    assert "camunda_workers.compat import ExternalTaskWorker" in (
        corpus["py3"] / "main.py").read_text()


def test_the_description_is_kept_verbatim(corpus: dict[str, Path]) -> None:
    main = (corpus["edges"] / "main.py").read_text()
    docstring = ast.get_docstring(ast.parse(main))
    assert docstring == f"edges: {CORPUS['edges']['description']}"


@pytest.fixture
def running(corpus: dict[str, Path], camunda: EngineApi, tmp_path: Path) -> Iterator[None]:
    """Every corpus worker as a real process on the engine; each must exit 0 on SIGTERM."""
    processes = []
    for name, worker in corpus.items():
        log = (tmp_path / f"{name[:20]}.log").open("wb")
        env = {**os.environ, "CAMUNDA_URL": camunda.url, "METRICS_PORT": "0"}
        processes.append((name, log, subprocess.Popen(
            [sys.executable, "main.py"], cwd=worker, env=env, stdout=log,
            stderr=subprocess.STDOUT)))
    try:
        yield
    finally:
        for _, _, process in processes:
            process.send_signal(signal.SIGTERM)
        codes = {name: process.wait(60) for name, _, process in processes}
        for _, log, _ in processes:
            log.close()
        logs = {name: (tmp_path / f"{name[:20]}.log").read_text(errors="replace")[-2000:]
                for name, code in codes.items() if code != 0}
        assert not logs, f"workers that did not exit 0: {logs}"


def test_each_worker_completes_one_task_per_topic_on_the_engine(
    corpus: dict[str, Path], camunda: EngineApi, running: None
) -> None:
    expected: dict[str, str] = {}
    for answers in CORPUS.values():
        for topic in answers["topics"]:
            process = unique("corpus")
            camunda.deploy("external_task", process_key=process, topic=topic)
            instance = camunda.start(process)
            expected[instance] = topic
    camunda.wait_finished(list(expected), timeout=120)
    for instance, topic in expected.items():
        result = f"{topic}_done" if len(topic) <= 250 else "done"
        assert camunda.variables(instance)[result]["value"] is True, topic


@pytest.mark.parametrize("worker", ["x", "py3"])
@pytest.mark.parametrize(("variable", "value", "named"), [
    ("CAMUNDA_URL", "http://localhost:99999/engine-rest", "base_url (from env CAMUNDA_URL)"),
    ("METRICS_PORT", "eighty", "METRICS_PORT"),
])
def test_a_bad_setting_stops_the_worker_with_one_line(
    corpus: dict[str, Path], worker: str, variable: str, value: str, named: str
) -> None:
    """Settings are checked when main.py builds the worker: one line naming the setting and
    exit code 1, as `python main.py` shows it (no traceback)."""
    started = subprocess.run([sys.executable, "main.py"], cwd=corpus[worker], capture_output=True,
                             text=True, timeout=60, env={**os.environ, variable: value})
    assert started.returncode == 1
    assert "Traceback" not in started.stderr
    assert named in started.stderr
    assert started.stderr.count("\n") <= 2, started.stderr
