"""A script written for camunda-external-task-client-python3, run through the compat layer
(``python -m tests.support.compat_app``): SIGTERM tests need a real process.

Environment: CAMUNDA_URL, TEST_TOPIC, TEST_MARKER (a file the handler creates when it
starts), TEST_SECONDS (how long the handler works).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from camunda.external_task.external_task import ExternalTask, TaskResult

from camunda_workers.compat import ExternalTaskWorker


def handle_task(task: ExternalTask) -> TaskResult:
    Path(os.environ["TEST_MARKER"]).write_text(task.get_task_id())
    time.sleep(float(os.environ["TEST_SECONDS"]))
    return task.complete({"finished_after_sigterm": True})


if __name__ == "__main__":
    config = {"maxTasks": 1, "lockDuration": 10000, "asyncResponseTimeout": 1000}
    ExternalTaskWorker(worker_id="sigterm-1", config=config).subscribe(
        os.environ["TEST_TOPIC"], handle_task)
