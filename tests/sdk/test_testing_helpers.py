"""camunda_workers.testing decides like the worker does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from camunda_workers import BpmnError, Task, TaskFailure, UnsendableVariableError
from camunda_workers.testing import make_task, run_handler


def test_return_values_complete_like_the_worker() -> None:
    assert run_handler(lambda task: {"a": 1}, make_task()).variables == {"a": 1}
    assert run_handler(lambda task: None, make_task()).completed

    def local(task: Task) -> object:
        return task.complete(variables={"g": 1}, local_variables={"l": 2})

    outcome = run_handler(local, make_task())
    assert (outcome.variables, outcome.local_variables) == ({"g": 1}, {"l": 2})


def test_wrong_return_type_is_a_failure_as_in_the_worker() -> None:
    outcome = run_handler(lambda task: ["x"], make_task(topic="t"))
    assert not outcome.completed
    assert isinstance(outcome.failure, TypeError)
    assert "handler of topic 't' returned list" in str(outcome.failure)


def test_bpmn_error_and_failures() -> None:
    async def declined(task: Task) -> None:
        raise BpmnError("DECLINED")

    assert run_handler(declined, make_task()).bpmn_error is not None

    def explicit(task: Task) -> None:
        raise TaskFailure("down", retries=0)

    failure = run_handler(explicit, make_task()).failure
    assert isinstance(failure, TaskFailure)
    assert failure.retries == 0


@pytest.mark.parametrize("value", [float("nan"), Decimal("1.5"), {"a": {1, 2}}, "x\ud800"])
def test_results_the_worker_could_not_send_fail_the_unit_test(value: object) -> None:
    outcome = run_handler(lambda task: {"v": value}, make_task())
    assert not outcome.completed
    assert isinstance(outcome.failure, UnsendableVariableError)
    assert outcome.failure.name == "v"


def test_bpmn_error_variables_are_encoded_too() -> None:
    def declined(task: Task) -> None:
        raise BpmnError("DECLINED", variables={"ratio": float("inf")})

    outcome = run_handler(declined, make_task())
    assert outcome.bpmn_error is None
    assert isinstance(outcome.failure, UnsendableVariableError)
