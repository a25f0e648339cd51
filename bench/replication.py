"""A PostgreSQL primary and hot standbys of their own, for the tests and the benchmarks: on
free loopback ports, made with Debian's PostgreSQL 15 binaries as an operator would (initdb, a
replication line in the primary's pg_hba.conf, pg_basebackup -R), in a temporary directory;
the machine's own cluster (at 5432) is left as it is. As root, the servers run as the `postgres` user (initdb refuses
root)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path(os.environ.get("TIMELINE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"

PRIMARY_SETTINGS = """
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 10
hot_standby = on
fsync = off
shared_buffers = 16MB
max_connections = 60
"""
"""A throw-away primary: no fsync (nothing here must survive a power cut), small memory."""


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user() -> list[str]:
    """The prefix that runs a PostgreSQL binary as a user it accepts (not root)."""
    return ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []


def _run(*args: str | Path) -> None:
    done = subprocess.run(
        [*_as_server_user(), *map(str, args)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}")


@dataclass
class Server:
    """One PostgreSQL server of the tests' own: its data directory and port."""

    data: Path
    port: int

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.data.parent}"
        log = self.data.parent / f"{self.data.name}.log"
        _run(PG_BIN / "pg_ctl", "-D", self.data, "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop it (`fast`: end the sessions and shut down cleanly)."""
        _run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one of its databases."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> Any:
        """Run one statement in autocommit; the first column of its first row, if any."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        ) as conn:
            cursor = conn.execute(sql)  # type: ignore[call-overload]
            row = cursor.fetchone() if cursor.description else None
            return row[0] if row else None


@dataclass
class Replication:
    """A primary and its hot standbys."""

    primary: Server
    standbys: list[Server]


@contextmanager
def replication(standbys: int = 1) -> Iterator[Replication]:
    """A primary with `standbys` hot standbys streaming from it; all removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL's binaries are needed in {PG_BIN} (TIMELINE_TEST_PG_BIN)")
    root = Path(tempfile.mkdtemp(prefix="timeline-replication-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    started: list[Server] = []
    try:
        primary = Server(root / "primary", free_port())
        _run(PG_BIN / "initdb", "-D", primary.data, "-U", "postgres", "--auth=trust", "-N")
        with open(primary.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(PRIMARY_SETTINGS)
        with open(primary.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        primary.start()
        started.append(primary)
        replicas = []
        for number in range(1, standbys + 1):
            standby = Server(root / f"standby{number}", free_port())
            _run(
                *(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port)),
                *("-U", "postgres", "-D", standby.data, "-R", "-X", "stream", "-c", "fast"),
            )
            standby.start()
            started.append(standby)
            replicas.append(standby)
        yield Replication(primary, replicas)
    finally:
        for server in reversed(started):
            with suppress(RuntimeError):  # stopped already (a test stops standbys)
                server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
