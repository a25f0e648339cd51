"""The SQLite probes: each thread's own driver connection for one-statement reads."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine

from projections.queries import LOG_POSITION_SQL
from timeline.bootstrap import build
from timeline.config import Config
from timeline.persistence import SQLiteProbes


@pytest.fixture
def probes(sqlite_url, tmp_path):
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    found = SQLiteProbes(engine, timeout=5)
    yield found, engine
    found.close()
    engine.dispose()


def test_a_probe_reads_the_newest_commit_of_another_connection(probes):
    found, engine = probes
    assert found.scalar("SELECT max(n) FROM t") == 1
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    assert found.scalar("SELECT max(n) FROM t") == 2  # no transaction kept it at 1
    with engine.connect() as conn:  # uncommitted: not seen
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql("INSERT INTO t VALUES (3)")
        assert found.scalar("SELECT max(n) FROM t") == 2
        conn.rollback()
    assert found.scalar("SELECT n FROM t WHERE n > 10") is None


def test_each_thread_has_its_own_probe_which_closes_when_the_thread_ends(probes):
    found, _ = probes
    found.scalar("SELECT 1")
    seen = []

    def read() -> None:
        seen.append(found.scalar("SELECT max(n) FROM t"))
        seen.append(len(found._open))

    worker = threading.Thread(target=read)
    worker.start()
    worker.join()
    assert seen == [1, 2]
    gc.collect()
    assert len(found._open) == 1  # the thread's connection went with it


def test_closed_probes_send_reads_back_through_the_pool(probes):
    found, _ = probes
    assert found.scalar("SELECT 1") == 1
    (conn,) = list(found._open)
    found.close()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    assert found.scalar("SELECT 1") is NotImplemented
    assert len(found._open) == 0


def test_a_failing_read_is_left_to_the_pool_and_its_connection_dropped(probes):
    found, _ = probes
    assert found.scalar("SELECT count(*) FROM missing") is NotImplemented
    assert len(found._open) == 0  # closed and forgotten, not kept half-broken
    assert found.scalar("SELECT max(n) FROM t") == 1


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_there_are_no_probes_on_an_in_memory_database(url):
    engine = create_engine(url)
    assert SQLiteProbes(engine, timeout=5).scalar("SELECT 1") is NotImplemented
    engine.dispose()


@pytest.mark.postgres
def test_there_are_no_probes_on_postgresql(postgres_url):
    services = build(Config(database_url=postgres_url))
    try:
        assert services.app.probes.scalar(LOG_POSITION_SQL) is NotImplemented
        services.commands.append(
            "p", {"type": "renamed", "occurred_on": "2001", "data": {"name": "P"}}, recorded_by="t"
        )
        assert services.queries.state("p", "2002")["name"] == "P"
    finally:
        services.close()


def test_the_service_reads_the_position_on_its_probe_and_closes_it(sqlite_url):
    services = build(Config(database_url=sqlite_url))
    services.commands.append(
        "p", {"type": "renamed", "occurred_on": "2001", "data": {"name": "P"}}, recorded_by="t"
    )
    state = services.queries.state("p", "2002")
    assert services.queries.state("p", "2002") is state
    assert len(services.app.probes._open) == 1
    position = services.app.probes.scalar(LOG_POSITION_SQL)
    assert position == services.read_model.position() > 0
    services.close()
    assert len(services.app.probes._open) == 0


def test_a_database_that_cannot_be_opened_is_left_to_the_pool(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'timeline.db'}")
    found = SQLiteProbes(engine, timeout=5)
    assert found.scalar("SELECT 1") is NotImplemented
    assert len(found._open) == 0
    engine.dispose()


def test_probes_close_safely_while_other_threads_read_on_them(probes):
    """Closing a connection that another thread is reading on would crash the process."""
    found, _ = probes
    answers: list[object] = []
    go = threading.Event()

    def read() -> None:
        go.wait()
        for _ in range(3000):
            answers.append(found.scalar("SELECT count(*) FROM t, t AS u, t AS v"))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    go.set()
    while len(answers) < 200:  # every reader has its probe open and is reading
        time.sleep(0.001)
    found.close()
    for reader in readers:
        reader.join()
    assert answers[0] == 1 and answers[-1] is NotImplemented
    assert len(found._open) == 0


def test_a_relative_path_is_opened_where_the_engine_opens_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = create_engine("sqlite:///relative.db")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (7)")
    found = SQLiteProbes(engine, timeout=5)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert found.scalar("SELECT max(n) FROM t") == 7
    assert not (elsewhere / "relative.db").exists()
    found.close()
    engine.dispose()
