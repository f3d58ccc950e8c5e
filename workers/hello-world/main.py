"""hello-world: Greets whoever the process names: the smallest useful worker.
"""

import logging
from pathlib import Path
from typing import Any

from camunda_workers import CamundaWorkersError, Task, Worker

log = logging.getLogger("hello-world")
try:
    worker = Worker.from_spec(Path(__file__).with_name("worker.json"))
except CamundaWorkersError as error:  # a bad worker.json or environment: one clear line, exit 1
    raise SystemExit(str(error)) from None


@worker.topic("say_hello", variables=["name"])
def say_hello(task: Task) -> dict[str, Any]:
    """Greet the process variable `name` (or the world) in `greeting`."""
    name = task.variables.get("name") or "world"
    log.info("greeted %s for %s", name, task.process_instance_id)
    return {"greeting": f"Hello, {name}!"}


if __name__ == "__main__":
    worker.run()
