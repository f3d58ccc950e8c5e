"""Unit tests of the handlers: no engine needed (camunda_workers.testing builds the task)."""

from camunda_workers.testing import make_task, run_handler

import main


def test_say_hello_greets_by_name() -> None:
    outcome = run_handler(main.say_hello, make_task({"name": "Ada"}, topic="say_hello"))
    assert outcome.completed
    assert outcome.variables == {"greeting": "Hello, Ada!"}


def test_say_hello_greets_the_world_without_a_name() -> None:
    outcome = run_handler(main.say_hello, make_task({}, topic="say_hello"))
    assert outcome.variables == {"greeting": "Hello, world!"}
