"""Fixtures shared by the whole suite: real databases, never mocks.

Every integration test that takes `database_url` runs twice: on an SQLite file of its own
and on a PostgreSQL database of its own (created on the server at
TIMELINE_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test, and
dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from timeline.bootstrap import Services, build
from timeline.config import Config

POSTGRES_ADMIN_URL = os.environ.get(
    "TIMELINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _admin_connection() -> psycopg.Connection:
    url = make_url(POSTGRES_ADMIN_URL)
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


class PostgresDatabases:
    """Creates throw-away databases on the test server, and drops them."""

    def create(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"tl_test_{uuid.uuid4().hex[:16]}"
        with _admin_connection() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        """Drop a database made by `create`, closing whatever still uses it."""
        name = make_url(url).database
        with _admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres() -> PostgresDatabases:
    """The PostgreSQL test server; the suite fails if it cannot be reached."""
    try:
        with _admin_connection() as conn:
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
