"""A throwaway PostgreSQL server for tests, benchmarks and trying replicas on one machine.

Debian's ``postgresql`` package (``apt-get install postgresql``) provides the server; it
listens on a Unix socket in the work folder only, nothing on the network. initdb and
pg_ctl refuse to run as root, so as root they run as the ``postgres`` user. Throwaway
means fsync is off: fast, and nothing survives a crash of the machine.
``python -m scripts.postgres`` runs one from the command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PORT = 5432  # only a socket name here: the server listens on no TCP port


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    return Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                               check=True).stdout.strip())  # fmt: skip


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresServer:
    """A running server: its data folder and socket folder."""

    workdir: Path

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.workdir}&port={PORT}"

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=str(self.workdir), port=PORT, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        """Stop the server fast and delete its files."""
        subprocess.run(
            _as_server_user([str(_bindir() / "pg_ctl"), "-D", str(self.workdir / "data"),
                             "-m", "fast", "stop"]),
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_postgres(workdir: Path | None = None) -> PostgresServer:
    """initdb a fresh cluster and start it on a Unix socket in ``workdir`` (about 1 s)."""
    bindir = _bindir()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="se-demo-pg-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    data = workdir / "data"
    subprocess.run(
        _as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        capture_output=True, check=True,
    )  # fmt: skip
    options = f"-p {PORT} -k {workdir} -c listen_addresses='' -c max_connections=300 -c fsync=off"
    started = subprocess.run(
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                         "-l", str(workdir / "log"), "-w", "start"]),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if started.returncode != 0:
        log = (workdir / "log").read_text() if (workdir / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}{started.stderr}{log}")
    return PostgresServer(workdir)
