"""A real PostgreSQL server for tests: Debian's ``postgresql`` package, one per test session.

It runs on a free port of 127.0.0.1 from its own data directory in a temporary folder and
listens on no Unix socket but its own. PostgreSQL refuses to run as root: as root, the
server runs as the ``postgres`` user the Debian package creates. Each engine gets a
database of its own (:meth:`PostgresServer.create_database`).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.engine import free_port

USER = "camunda"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed here, or did not start."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(path.split("/")[4]))
    if not found:
        raise PostgresUnavailable("PostgreSQL not found: apt-get install postgresql")
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    """One server; ``start`` and ``stop`` again for tests that restart the database."""

    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: os.urandom(12).hex())
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-test-")))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def password_file(self) -> Path:
        return self.folder / "password"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, input_text: str | None = None) -> str:
        """A PostgreSQL command as the server's user (not root), its output."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], input=input_text, capture_output=True,
                              text=True, cwd=self.folder,
                              env={**os.environ, "PGPASSWORD": self.password})
        if done.returncode:
            raise PostgresUnavailable(f"{' '.join(command)} failed: {done.stderr.strip()}"
                                      f"{self._log_tail()}")
        return done.stdout

    def _log_tail(self) -> str:
        try:
            return "\n" + "\n".join(self.log_path.read_text().splitlines()[-20:])
        except OSError:
            return ""

    def init(self) -> None:
        bin_dir = _bin_dir()
        self.password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.password_file, "postgres")
        self.folder.chmod(0o700)
        self._run(str(bin_dir / "initdb"), "-D", str(self.data), "-U", USER,
                  f"--pwfile={self.password_file}", "--auth=scram-sha-256", "-E", "UTF8",
                  "--no-sync")

    def start(self) -> None:
        if not self.data.exists():
            self.init()
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.folder} -c fsync=off")
        self._run(str(_bin_dir() / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(_bin_dir() / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL over TCP with the password (as the engine connects); tuples only."""
        return self._run(str(_bin_dir() / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                         "-U", USER, "-d", database, "-v", "ON_ERROR_STOP=1", "-A", "-t",
                         "-q", "-f", "-", input_text=sql)

    def create_database(self, name: str) -> str:
        """A fresh database ``name``; its JDBC URL."""
        self.psql(f'create database "{name}"')
        return self.url(name)

    def engine_args(self, database: str) -> list[str]:
        """The engine's command line options for ``database`` of this server."""
        return [f"--engine.db-url={self.url(database)}", f"--engine.db-user={USER}",
                f"--engine.db-password-file={self.password_file}"]
