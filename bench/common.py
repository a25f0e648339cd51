"""What the benchmarks (and the test suite's fixtures) share: throw-away PostgreSQL databases,
raw driver connections, tokens, and the results file."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url


def _psycopg(url: Any) -> Any:
    import psycopg

    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


def fresh_postgres(admin_url: str, prefix: str = "tl_bench") -> tuple[str, Callable[[], None]]:
    """A new empty database on the server at `admin_url`: its URL, and a function dropping it."""
    url = make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _psycopg(url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with _psycopg(url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


def driver_connection(database_url: str) -> tuple[str, Any]:
    """A raw DBAPI connection (sqlite3 or psycopg, autocommit) to the service's database, with
    its dialect name: SQL cost with no SQLAlchemy around it."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        import sqlite3

        return "sqlite", sqlite3.connect(url.database)
    return "postgresql", _psycopg(url)


def create_token(timeline: str, env: dict[str, str], cwd: str, name: str) -> str:
    """A new API token, made by `timeline token create` as an operator would."""
    out = subprocess.run(
        [timeline, "token", "create", name],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1]


def publish(text: str, results: str) -> None:
    """Print a benchmark's report and append it to the results file (bench/RESULTS.md)."""
    print(text)
    with open(results, "a", encoding="utf-8") as out:
        out.write(text)
