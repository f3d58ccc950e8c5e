"""The ``workers`` command as a user runs it: a child process of this virtualenv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WORKERS = str(Path(sys.executable).with_name("workers"))


def workers(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            unprivileged: bool = False) -> tuple[int, str]:
    """``workers ARGS`` in a child process: (exit code, stdout + stderr, one line).

    A ``Traceback`` in the output fails the test: no failure may show one. With
    ``unprivileged`` (and the tests running as root) it runs as nobody."""
    command = [WORKERS, *args]
    if unprivileged and os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "COLUMNS": "400", **(env or {})}, check=False)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    return done.returncode, " ".join(output.split())
