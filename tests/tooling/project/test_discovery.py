"""Discovery and validation of worker.json files: a corpus of bad ones, and the good paths."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from workers_tooling import WorkerValidationError, compose_stack, discover_workers

from ..helpers import build_file_tree, make_repo, run_cli, worker_files

GOOD = (worker_files("alpha", 8001), worker_files("beta", 8002))


def spec_of(name: str, port: int, **fields: Any) -> dict[str, Any]:
    return worker_files(name, port, **fields)[f"workers/{name}/worker.json"]


def raw(name: str, text: str) -> dict[str, Any]:
    """A worker folder whose worker.json has exactly ``text``."""
    return {f"workers/{name}/worker.json": text, f"workers/{name}/main.py": ""}


# (case id, files added to the good repo, the exact problem line expected)
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("bad-json", raw("gamma", '{"name": "gamma",\n  "port": 8003,,}'),
     "workers/gamma/worker.json: invalid JSON at line 2 column 15: a comma with nothing "
     "after it; remove it"),
    ("not-an-object", raw("gamma", "[1, 2]"),
     "workers/gamma/worker.json: expected a JSON object, got list"),
    ("empty-file", raw("gamma", ""),
     "workers/gamma/worker.json: invalid JSON at line 1 column 1: Expecting value"),
    ("missing-port", {"workers/gamma/worker.json": {"name": "gamma", "topics": ["g"]},
                      "workers/gamma/main.py": ""},
     "workers/gamma/worker.json: port: required field is missing; add it"),
    ("missing-topics", {"workers/gamma/worker.json": {"name": "gamma", "port": 8003},
                        "workers/gamma/main.py": ""},
     "workers/gamma/worker.json: topics: required field is missing; add it"),
    ("port-not-int", worker_files("gamma", "eighty"),  # type: ignore[arg-type]
     "workers/gamma/worker.json: port: Input should be a valid integer, "
     "unable to parse string as an integer"),
    ("port-too-low", worker_files("gamma", 80),
     "workers/gamma/worker.json: port: Input should be greater than or equal to 1024"),
    ("replicas-negative", worker_files("gamma", 8003, replicas=-1),
     "workers/gamma/worker.json: replicas: Input should be greater than or equal to 0"),
    ("topics-empty", worker_files("gamma", 8003, topics=[]),
     "workers/gamma/worker.json: topics: List should have at least 1 item after validation, "
     "not 0"),
    ("topic-not-snake", worker_files("gamma", 8003, topics=["Send-Mail"]),
     "workers/gamma/worker.json: topics.0: 'Send-Mail' must be snake_case (lowercase "
     "letters, digits, single underscores), e.g. 'send_mail'"),
    ("unknown-key", worker_files("gamma", 8003, replica=2),
     "workers/gamma/worker.json: replica: unknown key; did you mean 'replicas'?"),
    ("unknown-nested-key", worker_files("gamma", 8003, resources={"limits": {"cpu": 1}}),
     "workers/gamma/worker.json: resources.limits.cpu: unknown key; did you mean 'cpus'?"),
    ("unknown-key-in-update", worker_files("gamma", 8003, update={"oder": "start-first"}),
     "workers/gamma/worker.json: update.oder: unknown key; did you mean 'order'?"),
    ("unknown-key-in-list-item",
     worker_files("gamma", 8003, placement={"preferences": [{"spread": "a", "sprad": "b"}]}),
     "workers/gamma/worker.json: placement.preferences.0.sprad: unknown key; "
     "did you mean 'spread'?"),
    ("bad-update-order", worker_files("gamma", 8003, update={"order": "first"}),
     "workers/gamma/worker.json: update.order: Input should be 'start-first' or 'stop-first'"),
    ("bad-duration", worker_files("gamma", 8003, stop_grace_period="30"),
     "workers/gamma/worker.json: stop_grace_period: '30' is not a duration; "
     "write e.g. '30s', '1m30s' or '500ms'"),
    ("bad-memory", worker_files("gamma", 8003, resources={"limits": {"memory": "lots"}}),
     "workers/gamma/worker.json: resources.limits.memory: 'lots' is not a memory size; "
     'write e.g. "256M" or "1G"'),
    ("bad-cpus", worker_files("gamma", 8003, resources={"reservations": {"cpus": "-1"}}),
     "workers/gamma/worker.json: resources.reservations.cpus: '-1' is not a CPU count; "
     'write e.g. "0.5" or 2'),
    ("env-not-string", worker_files("gamma", 8003, environment={"SMTP_PORT": 25}),
     "workers/gamma/worker.json: environment.SMTP_PORT: Input should be a valid string"),
    ("env-derived", worker_files("gamma", 8003, environment={"METRICS_PORT": "9"}),
     'workers/gamma/worker.json: environment: METRICS_PORT is set from "port"; remove it here'),
    ("label-reserved", worker_files("gamma", 8003, labels={"prometheus.port": "1"}),
     "workers/gamma/worker.json: labels.prometheus.port: Prometheus reads this label as "
     "prometheus_port (every character outside [a-zA-Z0-9_] becomes _), among the labels the "
     "tooling sets (camunda-workers.*, prometheus.*): it could switch off the worker's "
     "scraping or take another worker's name; rename it, e.g. 'app.prometheus.port'"),
    ("bad-secret-name", worker_files("gamma", 8003, secrets=["-pw"]),
     "workers/gamma/worker.json: secrets.0: '-pw' is not a valid Docker secret name "
     "(letters, digits, _ . -)"),
    ("bad-version", worker_files("gamma", 8003, version="1.0+local"),
     "workers/gamma/worker.json: version: '1.0+local' is not a valid version: it is the "
     "image tag, e.g. '1.2.0'"),
    ("bad-name", {"workers/Gamma_W/worker.json": spec_of("Gamma_W", 8003),
                  "workers/Gamma_W/main.py": ""},
     "workers/Gamma_W/worker.json: name: 'Gamma_W' must be kebab-case (lowercase letters, "
     "digits, single hyphens), e.g. 'gamma-w'"),
    ("name-not-folder", {"workers/gamma/worker.json": spec_of("delta", 8003),
                         "workers/gamma/main.py": ""},
     "workers/gamma/worker.json: name: 'delta' differs from its folder; set "
     '"name": "gamma" or rename the folder to delta'),
    ("duplicate-name", {"workers/gamma/worker.json": spec_of("alpha", 8003),
                        "workers/gamma/main.py": ""},
     "workers/alpha/worker.json and workers/gamma/worker.json: name: 'alpha' is the name "
     "of both (git cannot tell which changed); worker names must be unique; rename one"),
    ("duplicate-port", worker_files("gamma", 8001),
     "workers/alpha/worker.json and workers/gamma/worker.json: port: 8001 is used by both "
     "(git cannot tell which changed); pick a free port, e.g. 8003"),
    ("missing-entry-point", {"workers/gamma/worker.json": spec_of("gamma", 8003)},
     "workers/gamma/worker.json: entry_point: 'main.py' does not exist in gamma/; "
     "create it or point entry_point at the script"),
    ("entry-point-outside", worker_files("gamma", 8003, entry_point="../alpha/main.py"),
     "workers/gamma/worker.json: entry_point: '../alpha/main.py' must be a path inside the "
     "worker's folder, e.g. 'main.py'"),
    ("topic-claimed-twice", worker_files("gamma", 8003, topics=["alpha"]),
     "workers/alpha/worker.json and workers/gamma/worker.json: topics: 'alpha' is served "
     "by both (git cannot tell which changed); remove it from one of them, or list it in "
     '"shared_topics" of both if they share it on purpose'),
    ("topic-shared-by-one-only",
     worker_files("gamma", 8003, topics=["alpha"], shared_topics=["alpha"]),
     "workers/alpha/worker.json and workers/gamma/worker.json: topics: 'alpha' is served "
     "by both (git cannot tell which changed); remove it from one of them, or list it in "
     '"shared_topics" of both if they share it on purpose'),
    ("shared-topic-not-served", worker_files("gamma", 8003, shared_topics=["other"]),
     "workers/gamma/worker.json: shared_topics: 'other' is not in \"topics\"; add it there "
     "or remove it here"),
    ("autoscale-max-below-min",
     worker_files("gamma", 8003, autoscale={"min_replicas": 3, "max_replicas": 2},
                  replicas=3),
     "workers/gamma/worker.json: autoscale.max_replicas: 2 is below min_replicas (3); raise "
     "it to at least 3 or lower min_replicas"),
    ("autoscale-unknown-key", worker_files("gamma", 8003, autoscale={"max_replica": 4}),
     "workers/gamma/worker.json: autoscale.max_replica: unknown key; did you mean "
     "'max_replicas'?"),
    ("autoscale-zero-tasks-per-replica",
     worker_files("gamma", 8003, autoscale={"tasks_per_replica": 0}),
     "workers/gamma/worker.json: autoscale.tasks_per_replica: Input should be greater than "
     "or equal to 1"),
    ("autoscale-replicas-outside",
     worker_files("gamma", 8003, replicas=8, autoscale={"max_replicas": 6}),
     'workers/gamma/worker.json: autoscale: "replicas" (default 1) is the count a deploy '
     "starts with: 8 is outside min_replicas..max_replicas (0..6); set \"replicas\" within "
     "them"),
    ("folder-without-worker-json", {"workers/gamma/main.py": ""},
     "workers/gamma/worker.json: missing; every folder in workers/ is a worker: add its "
     "worker.json (`workers new`), or prefix the folder name with _"),
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path, *GOOD)
    compose_stack(repo)  # a current stack file: it must survive every bad case untouched
    return repo


def test_the_corpus_is_large_enough() -> None:
    assert len(BAD) >= 20
    assert len({case for case, _, _ in BAD}) == len(BAD)


@pytest.mark.parametrize(("files", "expected"), [(f, e) for _, f, e in BAD],
                         ids=[case for case, _, _ in BAD])
def test_bad_worker_json(repo: Path, files: dict[str, Any], expected: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    build_file_tree(repo, files)
    stack = (repo / "docker-compose.swarm.yml").read_bytes()

    with pytest.raises(WorkerValidationError) as caught:
        discover_workers(repo)
    assert expected in caught.value.problems

    for command in (["discover"], ["list"], ["compose"], ["compose", "--check"]):
        code, out, err = run_cli(capsys, *command, "--repo", str(repo))
        assert code == 2, (command, out, err)
        assert expected in " ".join(err.split()), err  # rich may wrap long lines
    assert (repo / "docker-compose.swarm.yml").read_bytes() == stack
    assert not [p for p in repo.iterdir() if p.name.endswith(".tmp")]


def test_every_problem_of_every_file_at_once(repo: Path) -> None:
    build_file_tree(repo, {
        **worker_files("gamma", 8001, replica=2, topics=["Bad"]),
        **raw("delta", "{oops"),
        **worker_files("epsilon", 8002, entry_point="run.py"),
    })
    with pytest.raises(WorkerValidationError) as caught:
        discover_workers(repo)
    assert caught.value.problems == [
        "workers/delta/worker.json: invalid JSON at line 1 column 2: Expecting property name "
        "enclosed in double quotes",
        "workers/epsilon/worker.json: entry_point: 'run.py' does not exist in epsilon/; "
        "create it or point entry_point at the script",
        "workers/gamma/worker.json: topics.0: 'Bad' must be snake_case (lowercase letters, "
        "digits, single underscores), e.g. 'bad'",
        "workers/gamma/worker.json: replica: unknown key; did you mean 'replicas'?",
        # gamma is invalid on its own, and its port (usable) is compared with the others':
        # one kind of problem does not hide another
        "workers/beta/worker.json and workers/epsilon/worker.json: port: 8002 is used by both "
        "(git cannot tell which changed); pick a free port, e.g. 8003",
        "workers/alpha/worker.json and workers/gamma/worker.json: port: 8001 is used by both "
        "(git cannot tell which changed); pick a free port, e.g. 8004",
    ]
    assert str(caught.value).startswith("6 problems in the worker declarations:\n")


def test_discovery_finds_valid_workers_and_skips_private_folders(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, *GOOD,
                     worker_files("gamma", 8003, topics=["alpha"], shared_topics=["alpha"]),
                     {"workers/common/helpers.py": "", "workers/_draft/worker.json": "{",
                      "workers/.cache/x": "", "workers/worker.schema.json": "{}",
                      "workers/beta/Dockerfile": "FROM scratch\n"})
    build_file_tree(repo, {"workers/alpha/worker.json": spec_of(
        "alpha", 8001, topics=["alpha"], shared_topics=["alpha"])})
    workers = discover_workers(repo)
    assert [(w.name, w.spec.port, w.has_dockerfile) for w in workers] == [
        ("alpha", 8001, False), ("beta", 8002, True), ("gamma", 8003, False)]
    assert workers[0].path == repo / "workers" / "alpha"


def test_list_and_discover_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, *GOOD, {"workers/beta/Dockerfile": "FROM scratch\n"})
    code, out, _ = run_cli(capsys, "discover", "--json", "--repo", str(repo))
    assert code == 0
    assert json.loads(out) == [
        {"name": "alpha", "path": "workers/alpha", "port": 8001, "topics": ["alpha"],
         "replicas": 1, "version": "1.0.0", "dockerfile": False},
        {"name": "beta", "path": "workers/beta", "port": 8002, "topics": ["beta"],
         "replicas": 1, "version": "1.0.0", "dockerfile": True},
    ]
    code, out, _ = run_cli(capsys, "list", "--repo", str(repo))
    assert code == 0
    for cell in ("name", "port", "topics", "replicas", "version", "Dockerfile",
                 "alpha", "8001", "beta", "8002", "custom", "shared"):
        assert cell in out
    code, out, _ = run_cli(capsys, "discover", "--repo", str(repo))
    assert (code, out.splitlines()[-1]) == (0, "2 worker(s), all valid")


def test_the_repository_workers_are_valid() -> None:
    from ..helpers import REPO

    names = [worker.name for worker in discover_workers(REPO)]
    assert "hello-world" in names


@pytest.mark.parametrize("command", ["list", "discover", "schema", "compose"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert "Usage" in out


def _served(code: str, **fields: Any) -> dict[str, Any]:
    files = worker_files("gamma", 8003, **fields)
    files["workers/gamma/main.py"] = code
    return files


TOPIC_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("served-not-declared", _served(
        'from camunda_workers import Worker\nworker = Worker(name="gamma")\n\n\n'
        '@worker.topic("gamma")\ndef a(task): ...\n\n\n@worker.topic("extra")\ndef b(task): ...\n'),
     ["workers/gamma/worker.json: topics: 'extra' is served by workers/gamma/main.py:9 but "
      'not declared; add it to "topics" (or remove the handler)']),
    ("declared-not-served", _served(
        'worker = object()\n\n\n@worker.topic("gamma")\ndef a(task): ...\n',
        topics=["gamma", "send_mail"]),
     ["workers/gamma/worker.json: topics: 'send_mail' is declared but no handler serves it "
      "(no .topic('send_mail') in workers/gamma/); add a handler or remove the topic"]),
    ("not-statically-known", _served(
        'import os\nworker = object()\n\n\n@worker.topic(os.environ["TOPIC"])\n'
        'def a(task): ...\n'),
     ["workers/gamma/worker.json: topics: workers/gamma/main.py:5: cannot tell statically "
      "which topic this handler serves; pass it as a string literal or a module-level "
      "constant"]),
    ("syntax-error", _served('@worker.topic("gamma")\ndef broken(:\n'),
     ["workers/gamma/worker.json: topics: workers/gamma/main.py:2: cannot parse (invalid "
      "syntax); fix the syntax error"]),
]


@pytest.mark.parametrize(("files", "expected"), [(f, e) for _, f, e in TOPIC_CASES],
                         ids=[case for case, _, _ in TOPIC_CASES])
def test_declared_and_served_topics_must_agree(repo: Path, files: dict[str, Any],
                                               expected: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    build_file_tree(repo, files)
    with pytest.raises(WorkerValidationError) as caught:
        discover_workers(repo)
    assert caught.value.problems == expected
    code, _, err = run_cli(capsys, "discover", "--repo", str(repo))
    assert code == 2
    assert expected[0] in " ".join(err.split())


def test_served_topics_are_found_where_handlers_live(repo: Path) -> None:
    """Constants, routers in other modules and in workers/common, calls; not tests/."""
    build_file_tree(repo, {
        **worker_files("gamma", 8003, topics=["gamma", "from_router", "from_common",
                                              "called", "async_one"]),
        "workers/gamma/main.py": (
            "from camunda_workers import Worker\n"
            "from common.routers import shared\n"
            "from handlers import router\n"
            'TOPIC = "gamma"\n'
            'worker = Worker(name="gamma")\n'
            "worker.include_router(router)\n"
            "worker.include_router(shared)\n\n\n"
            "@worker.topic(TOPIC, lock_duration_ms=1000)\n"
            "def a(task): ...\n\n\n"
            'worker.topic(name="called")(a)\n\n\n'
            'if True:\n    @worker.topic("async_one")\n    async def b(task): ...\n'),
        "workers/gamma/handlers/__init__.py": (
            "from camunda_workers import TaskRouter\nrouter = TaskRouter()\n\n\n"
            '@router.topic("from_router")\ndef c(task): ...\n'),
        "workers/common/routers.py": (
            "from camunda_workers import TaskRouter\nshared = TaskRouter()\n\n\n"
            '@shared.topic("from_common")\ndef d(task): ...\n'),
        "workers/gamma/tests/test_main.py": '@worker.topic("only_in_tests")\ndef t(task): ...\n',
        "workers/gamma/README.md": '@worker.topic("only_in_docs")\n',
    })
    names = [worker.name for worker in discover_workers(repo)]
    assert names == ["alpha", "beta", "gamma"]


def _git(repo: Path, *args: str, date: str | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _problems(repo: Path) -> list[str]:
    with pytest.raises(WorkerValidationError) as caught:
        discover_workers(repo)
    return caught.value.problems


def test_a_clash_blames_the_worker_that_changed(tmp_path: Path) -> None:
    """The issue's case: order-checker (alphabetically first) changed its port to the one of
    publicacao; the message is on order-checker, first uncommitted, then committed later."""
    repo = make_repo(tmp_path, worker_files("order-checker", 8003),
                     worker_files("publicacao", 8002))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "two workers", date="2026-01-01T10:00:00")
    build_file_tree(repo, worker_files("order-checker", 8002))
    assert _problems(repo) == [
        "workers/order-checker/worker.json: port: 8002 is used by "
        "workers/publicacao/worker.json too (this one has uncommitted changes); pick a free "
        "port, e.g. 8003"]
    _git(repo, "commit", "-qam", "order-checker on 8002", date="2026-01-02T10:00:00")
    assert _problems(repo) == [
        "workers/order-checker/worker.json: port: 8002 is used by "
        "workers/publicacao/worker.json too (this one was committed later); pick a free "
        "port, e.g. 8003"]
    # the same for a topic the changed worker now serves too
    build_file_tree(repo, worker_files("order-checker", 8005, topics=["publicacao"]))
    assert _problems(repo) == [
        "workers/order-checker/worker.json: topics: 'publicacao' is served by "
        "workers/publicacao/worker.json too (this one has uncommitted changes); remove it "
        'from this one, or list it in "shared_topics" of both if they share it on purpose']


def test_a_type_error_does_not_hide_a_clash(repo: Path) -> None:
    build_file_tree(repo, worker_files("gamma", 8001, max_tasks="ten"))
    problems = _problems(repo)
    assert problems[0].startswith("workers/gamma/worker.json: max_tasks: ")
    assert problems[1].startswith("workers/alpha/worker.json and workers/gamma/worker.json: "
                                  "port: 8001 is used by both")
    assert len(problems) == 2


def test_json_mistakes_are_shown_at_their_line(repo: Path) -> None:
    text = json.dumps(spec_of("gamma", 8003), indent=2).splitlines()
    trailing = [*text[:-1], text[-2] + ",", text[-1]]  # a comma after the last field
    del trailing[-3]
    build_file_tree(repo, raw("gamma", "\n".join(trailing)))
    line = len(trailing) - 1  # the comma's line; the parser stops at the next one
    assert (f"workers/gamma/worker.json: invalid JSON at line {line} column "
            f"{len(trailing[line - 1])}: a comma with nothing after it; remove it"
            ) in _problems(repo)
    missing = [*text[:2], text[2].rstrip(","), *text[3:]]  # no comma after the 2nd field
    build_file_tree(repo, raw("gamma", "\n".join(missing)))
    assert (f"workers/gamma/worker.json: invalid JSON at line 3 column {len(missing[2])}: "
            "a comma is missing after this value; add one") in _problems(repo)
