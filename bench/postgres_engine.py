"""Run a benchmark against the engine of `make engine` on PostgreSQL instead of H2.

    .venv/bin/python bench/postgres_engine.py -- .venv/bin/python bench/replicas.py [ARGS]

Starts Debian's PostgreSQL in a temporary folder (the tests' server,
``tests/support/postgres.py``) and the engine on it with ``engine/engine.sh`` (the same
JVM options as `make engine`) on a free port, runs the command with ``--engine-url`` and
``--engine-pid`` added, then stops both. ``make bench-replicas-postgres`` runs replicas.py
so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' PostgreSQL server, not a copy of it

from tests.support.engine import free_port  # noqa: E402
from tests.support.postgres import PostgresServer, PostgresUnavailable  # noqa: E402

ENGINE_SH = REPO / "engine" / "engine.sh"


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[1:]
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as error:
        print(f"postgres_engine: {error}", file=sys.stderr)
        return 1
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    try:
        server.create_database("bench")
        started = subprocess.run([str(ENGINE_SH), "start", "camunda", "--",
                                  *server.engine_args("bench")], env=env, check=False)
        if started.returncode:
            return started.returncode
        pid = (REPO / "engine" / ".run" / f"camunda-{port}.pid").read_text().strip()
        url = f"http://127.0.0.1:{port}/engine-rest"
        print(f"postgres_engine: engine {url} (pid {pid}) on PostgreSQL {server.url('bench')}",
              flush=True)
        return subprocess.run([*command, "--engine-url", url, "--engine-pid", pid],
                              check=False).returncode
    finally:
        subprocess.run([str(ENGINE_SH), "stop", "camunda"], env=env, check=False)
        server.remove()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
