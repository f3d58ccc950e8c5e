from main import say_hello

from camunda_workers.testing import make_task, run_handler


def test_greets_by_name() -> None:
    outcome = run_handler(say_hello, make_task({"name": "Ada"}, topic="say_hello"))
    assert outcome.completed
    assert outcome.variables == {"greeting": "Hello, Ada!"}


def test_greets_the_world_without_a_name() -> None:
    outcome = run_handler(say_hello, make_task({}, topic="say_hello"))
    assert outcome.variables == {"greeting": "Hello, world!"}
