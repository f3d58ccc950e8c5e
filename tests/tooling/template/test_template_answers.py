"""One source for the answers' rules: copier.yml's validators and ``workers new``'s model
accept exactly what ``worker.json`` (ServiceSpec, the SDK's ServiceSpec plus the Swarm
sections) accepts, field by field, and the handler
names the template derives cannot clash with Python's names or the template's own."""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import shutil
from pathlib import Path
from typing import Any, get_args

import copier
import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from camunda_workers import SpecError
from tests.tooling.fresh_clone import REPO, clone, squashed_copy
from workers_tooling import ServiceSpec
from workers_tooling.template._answers import RESERVED_NAMES, SPEC_FIELDS, NewWorkerAnswers
from workers_tooling.template._scaffold import new_worker

SCHEMA = ServiceSpec.model_json_schema()["properties"]
BASE: dict[str, Any] = {"name": "ok-name", "topics": ["ok_topic"], "port": 8001}
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture(scope="module")
def plain_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """copier.yml and template/ outside git: Copier validates the answers and renders."""
    root = tmp_path_factory.mktemp("plain-template")
    shutil.copy(REPO / "copier.yml", root / "copier.yml")
    shutil.copytree(REPO / "template", root / "template")
    return root


def copier_refusal(template: Path, answers: dict[str, Any]) -> str | None:
    """Copier's own validation of ``answers`` (None when it accepts them)."""
    try:
        copier.run_copy(str(template), str(template.parent / "out"), data=answers,
                        defaults=True, quiet=True, pretend=True)
    except ValueError as exc:
        return str(exc)
    return None


def model_refusal(answers: dict[str, Any]) -> str | None:
    try:
        NewWorkerAnswers.model_validate(answers)
    except ValidationError as exc:
        return str(exc)
    return None


def bound_cases() -> list[tuple[str, Any, bool]]:
    """(field, value, accepted) at and beyond every bound ServiceSpec declares."""
    cases: list[tuple[str, Any, bool]] = []
    for field in SPEC_FIELDS:
        schema = SCHEMA[field]
        if schema.get("type") == "integer":
            if "minimum" in schema:
                cases += [(field, schema["minimum"], True), (field, schema["minimum"] - 1, False)]
            if "maximum" in schema:
                cases += [(field, schema["maximum"], True), (field, schema["maximum"] + 1, False)]
    longest = SCHEMA["name"]["maxLength"]
    cases += [("name", "n" * longest, True), ("name", "n" * (longest + 1), False)]
    topic = SCHEMA["topics"]["items"]["maxLength"]
    cases += [("topics", ["t" * topic], True), ("topics", ["t" * (topic + 1)], False)]
    assert SCHEMA["topics"]["minItems"] == 1
    cases += [("topics", [], False)]
    return cases


def test_every_integer_field_has_bounds_to_check() -> None:
    integers = {field for field in SPEC_FIELDS if SCHEMA[field].get("type") == "integer"}
    assert integers == {"port", "max_tasks", "lock_duration", "replicas"}
    assert {field for field, _, _ in bound_cases()} >= integers


RULE_CASES: list[tuple[str, Any, bool]] = [
    ("name", "x", True), ("name", "email-sender-2", True), ("name", "Email", False),
    ("name", "email_sender", False), ("name", "-x", False), ("name", "x-", False),
    ("name", "a--b", False), ("name", "1abc", False), ("name", "café", False),
    ("name", "common", False),
    ("topics", ["send_email", "x1"], True), ("topics", ["Send"], False),
    ("topics", ["send-email"], False), ("topics", ["_x"], False), ("topics", ["x_"], False),
    ("topics", ["a__b"], False), ("topics", ["1x"], False), ("topics", ["ação"], False),
    ("topics", ["a", "b", "a"], False), ("topics", ["class", "print", "worker"], True),
    ("description", 'Says """hi""" \\ to "everyone", ção', True),
    ("description", "two\nlines", False), ("description", "tab\there", False),
    ("description", "nul\x00", False), ("description", "", True),
    ("depends_on", ["engine", "redis"], True), ("depends_on", [1], False),
    ("depends_on", ["my_db.v2"], True), ("depends_on", ["two words"], False),
    ("depends_on", ["-x"], False), ("depends_on", "engine", False),
]


@pytest.mark.parametrize(("field", "value", "accepted"), bound_cases() + RULE_CASES,
                         ids=lambda item: repr(item)[:40])
def test_copier_and_workers_new_accept_what_worker_json_accepts(
    plain_template: Path, field: str, value: Any, accepted: bool
) -> None:
    answers = {**BASE, field: value}
    by_copier, by_model = copier_refusal(plain_template, answers), model_refusal(answers)
    assert (by_copier is None) == accepted, f"copier.yml: {by_copier}"
    assert (by_model is None) == accepted, f"NewWorkerAnswers: {by_model}"
    if field in SCHEMA and field != "description":  # worker.json agrees where it has the field
        spec = {"name": answers["name"], "port": answers["port"], "topics": answers["topics"],
                field: value}
        if field == "topics" and len(set(value)) != len(value):
            return  # listed twice: a rule of the answers (two handlers of one name)
        try:
            ServiceSpec.model_validate(spec)
            by_spec = True
        except ValidationError:
            by_spec = False
        assert by_spec == accepted or (field == "name" and value in RESERVED_NAMES)


def test_copier_defaults_are_worker_json_defaults() -> None:
    questions = YAML(typ="safe").load((REPO / "copier.yml").read_text())
    for field in ("max_tasks", "lock_duration", "replicas"):
        assert questions[field]["default"] == ServiceSpec.model_fields[field].default, field
    assert questions["depends_on"]["default"] == "[]"
    assert ServiceSpec.model_fields["depends_on"].default_factory is not None
    assert set(SPEC_FIELDS) <= set(questions)
    assert NewWorkerAnswers.model_fields.keys() == {*SPEC_FIELDS, "custom_dockerfile", "api"}
    api = NewWorkerAnswers.model_fields["api"]
    assert (questions["api"]["choices"], questions["api"]["default"]) == (
        list(get_args(api.annotation)), api.default)
    for field in SPEC_FIELDS:  # the same rules object: bounds and validators of ServiceSpec
        ours, theirs = NewWorkerAnswers.model_fields[field], ServiceSpec.model_fields[field]
        assert (ours.annotation, ours.metadata) == (theirs.annotation, theirs.metadata), field


def module_names(source: str) -> set[str]:
    """Names bound at module level: imports, assignments, functions, classes, also inside
    module-level ``try``/``if``/``with`` blocks (main.py builds its worker inside ``try``)."""
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, ast.Assign):
                names.update(target.id for target in node.targets
                             if isinstance(target, ast.Name))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)
                # An `except ... as error` name is bound only on the way out (main.py exits
                # there), so a handler named `error` cannot clash with it.
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.If | ast.With):
                visit(node.body + (node.orelse if isinstance(node, ast.If) else []))

    visit(ast.parse(source).body)
    return names


def test_handler_names_avoid_every_python_and_template_name(plain_template: Path,
                                                            tmp_path: Path) -> None:
    questions = YAML(typ="safe").load((REPO / "copier.yml").read_text())
    listed = set(questions["python_reserved_names"]["default"])
    template_names: set[str] = set()
    for api in ("native", "py3"):
        copier.run_copy(str(plain_template), str(tmp_path / api),
                        data={**BASE, "topics": ["x"], "api": api}, defaults=True, quiet=True)
        template_names |= module_names((tmp_path / api / "main.py").read_text()) - {"x"}
    python_names = {*keyword.kwlist, *keyword.softkwlist, *dir(builtins)}
    needed = {name for name in python_names | template_names if SNAKE.fullmatch(name)}
    assert needed <= listed, f"add to python_reserved_names in copier.yml: {needed - listed}"
    assert "worker" in needed  # main.py's Worker object


def test_reserved_folders_are_refused_by_copier_too(plain_template: Path) -> None:
    for name in RESERVED_NAMES:
        assert copier_refusal(plain_template, {**BASE, "name": name}) is not None


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    origin = squashed_copy(tmp_path_factory.mktemp("origin") / "camunda-workers")
    return clone(origin, tmp_path_factory.mktemp("clone") / "camunda-workers")


@pytest.mark.parametrize(("answers", "problem"), [
    ({"name": "common"}, "name: 'common' is reserved: workers/common holds shared code, not a "
                         "worker; pick another name"),
    ({"name": "engine"}, "name: 'engine' is a service of docker-compose.swarm.yml that is not a "
                         "worker; pick another name"),
    ({"name": "hello-world"}, "name: workers/hello-world already exists; pick another name"),
    ({"topics": ["say_hello"]}, "topics.0: 'say_hello' is served by workers/hello-world; a "
                                "topic has one worker"),
    ({"port": 8001}, "port: 8001 is taken by workers/hello-world; the next free one is 8003"),
    ({"name": "café"}, "name: 'café' must be kebab-case"),
    ({"topics": ["ação"]}, "topics.0: 'ação' must be snake_case"),
    ({"replicas": 1001}, "replicas: Input should be less than or equal to 1000"),
    ({"description": "two\nlines"}, "description: must be one line of text"),
    ({"topics": ["a", "a"]}, "topics: 'a' listed more than once; list each topic once"),
])
def test_workers_new_refuses_with_the_reason_and_writes_nothing(
    repo: Path, answers: dict[str, Any], problem: str
) -> None:
    before = sorted(p.name for p in (repo / "workers").iterdir())
    with pytest.raises(SpecError) as caught:
        new_worker(repo, answers={"name": "fine", "topics": ["fine"], **answers})
    assert problem in str(caught.value)
    assert len(caught.value.problems) == 1  # one reason each
    assert sorted(p.name for p in (repo / "workers").iterdir()) == before
