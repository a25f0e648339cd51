"""Fixtures shared by the whole suite: real databases, never mocks.

Every integration test that takes `database_url` runs twice: on an SQLite file of its own
and on a PostgreSQL database of its own (created on the server at
TIMELINE_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test, and
dropped afterwards).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from bench.common import driver_connection, fresh_postgres
from timeline.bootstrap import Services, build
from timeline.config import Config

POSTGRES_ADMIN_URL = os.environ.get(
    "TIMELINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


class PostgresDatabases:
    """Creates throw-away databases on the test server, and drops them."""

    def __init__(self) -> None:
        self._drops: dict[str, Callable[[], None]] = {}

    def create(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        url, drop = fresh_postgres(POSTGRES_ADMIN_URL, "tl_test")
        self._drops[url] = drop
        return url

    def drop(self, url: str) -> None:
        """Drop a database made by `create`, closing whatever still uses it."""
        self._drops.pop(url)()


@pytest.fixture(scope="session")
def postgres() -> PostgresDatabases:
    """The PostgreSQL test server; the suite fails if it cannot be reached."""
    try:
        _, conn = driver_connection(POSTGRES_ADMIN_URL)
        with conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is needed at {POSTGRES_ADMIN_URL}: {error}")
    return PostgresDatabases()


@pytest.fixture
def postgres_url(postgres: PostgresDatabases) -> Iterator[str]:
    """A PostgreSQL database of this test's own."""
    url = postgres.create()
    yield url
    postgres.drop(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An SQLite file of this test's own."""
    return f"sqlite:///{tmp_path / 'timeline.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on an SQLite file and on a PostgreSQL database."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    """The whole service, built by the composition root on a real database."""
    built = build(Config(database_url=database_url))
    yield built
    built.close()
