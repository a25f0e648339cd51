"""Writers take turns across processes: two services built on one database stand in for two
processes (each has its own engine, its own lock file descriptor or advisory-lock session).

Every writer waits for every other, whatever organisation it writes to (an flock on an SQLite
file, an advisory lock on PostgreSQL). Appends made through both services at once all
succeed, none by losing the race for a version and retrying.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import uuid4

import pytest

from events.errors import VersionMismatch
from events.validation import parse_event
from timeline.bootstrap import Services, build
from timeline.config import Config


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Services, Services]]:
    first, second = (
        build(Config(database_url=database_url)),
        build(Config(database_url=database_url)),
    )
    yield first, second
    first.close()
    second.close()


def _entered_while_held(holder: Services, waiter: Services) -> bool:
    """Whether `waiter` got the writers' turn while `holder` held it (waits up to 0.5 s), and,
    either way, that it gets the turn once the holder lets go."""
    holding, release, entered = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with holder.app.writers_turn():
            holding.set()
            release.wait(10)

    def wait() -> None:
        with waiter.app.writers_turn():
            entered.set()

    holder_thread = threading.Thread(target=hold)
    holder_thread.start()
    assert holding.wait(10)
    waiter_thread = threading.Thread(target=wait)
    waiter_thread.start()
    got_in_while_held = entered.wait(0.5)
    release.set()
    holder_thread.join(10)
    waiter_thread.join(10)
    assert entered.is_set(), "the waiting writer never got its turn"
    return got_in_while_held


def test_a_writer_waits_for_another_processs_turn(two):
    first, second = two
    assert not _entered_while_held(first, second)
    assert not _entered_while_held(second, first)


def _locker_pid(services: Services) -> int:
    """The PostgreSQL backend of the connection `services` keeps for the writers' lock."""
    locker = services.app.timeline_recorder.turns._locker
    assert locker is not None
    return int(locker.connection.driver_connection.info.backend_pid)


def _terminate(services: Services, pid: int) -> None:
    with services.engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")


@pytest.fixture
def two_on_postgres(two):
    if two[0].engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock's connection is PostgreSQL's")
    return two


def test_a_turn_outlives_a_broken_lock_connection(two_on_postgres):
    """On PostgreSQL the turn is an advisory lock on a connection each process keeps; should
    that connection break (a restart, a terminated session), the next turn takes a new one."""
    first, second = two_on_postgres
    with first.app.writers_turn():
        pass
    _terminate(second, _locker_pid(first))
    # The kept connection is dead: the next turn takes the lock on a new one, and holds it.
    assert not _entered_while_held(first, second)
    appended = first.commands.append("cicopa", _milestone("after"), recorded_by="t")
    assert appended.event["version"] == 1


def test_a_turn_whose_lock_connection_breaks_while_held_ends_cleanly(two_on_postgres):
    """The unlock fails on a dead connection; its session, and with it the lock, is gone
    anyway: the turn ends without an error, and the next one is taken as usual."""
    first, second = two_on_postgres
    with first.app.writers_turn():
        _terminate(second, _locker_pid(first))
    assert first.app.timeline_recorder.turns._locker is None  # dropped, not kept broken
    assert not _entered_while_held(second, first)  # the other process is not held up
    assert not _entered_while_held(first, second)  # and this one still takes turns
    appended = first.commands.append("cicopa", _milestone("after"), recorded_by="t")
    assert appended.event["version"] == 1


def test_a_lock_connection_idle_for_long_is_renewed(two_on_postgres, monkeypatch):
    first, second = two_on_postgres
    with first.app.writers_turn():
        pass
    kept = _locker_pid(first)
    with first.app.writers_turn():
        pass
    assert _locker_pid(first) == kept  # used again at once
    monkeypatch.setattr("timeline.persistence.LOCKER_IDLE", 0.0)
    assert not _entered_while_held(first, second)
    assert _locker_pid(first) != kept  # idle too long: a new connection holds the lock


def test_turns_nest_within_a_thread(two):
    first, second = two
    entered = threading.Event()

    def wait() -> None:
        with second.app.writers_turn():
            entered.set()

    with first.app.writers_turn():
        with first.app.writers_turn():
            appended = first.commands.append("cicopa", _milestone("n"), recorded_by="t")
        waiter = threading.Thread(target=wait)
        waiter.start()
        assert not entered.wait(0.5)  # the inner turn's end did not end the outer one
    waiter.join(10)
    assert entered.is_set()
    assert appended.event["version"] == 1


def test_appends_through_two_processes_at_once_never_lose_a_version_race(two, monkeypatch):
    first, second = two
    lost: list[str] = []
    for services in two:
        save = services.app.save

        def counting_save(*args, _save=save, **kwargs):
            try:
                return _save(*args, **kwargs)
            except Exception as error:  # the IntegrityError of a lost race, if any
                lost.append(type(error).__name__)
                raise

        monkeypatch.setattr(services.app, "save", counting_save)

    acknowledged: list[int] = []
    lock = threading.Lock()

    def write(services: Services, n: int) -> None:
        for i in range(20):
            event = services.commands.append(
                "cicopa",
                {"type": "milestone", "occurred_on": "2001", "data": {"headline": f"{n}-{i}"}},
                recorded_by="w",
            ).event
            with lock:
                acknowledged.append(event["version"])

    threads = [threading.Thread(target=write, args=(two[n % 2], n)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(acknowledged) == list(range(1, 121))
    assert lost == []
    assert first.queries.version("cicopa") == second.queries.version("cicopa") == 120


def _milestone(headline: str) -> dict:
    return {"type": "milestone", "occurred_on": "2001", "data": {"headline": headline}}


def test_a_kept_state_gives_way_to_another_processs_append(two):
    """Each process keeps recent states; an append made by another process (another service
    on the same database) is seen by the next question all the same."""
    first, second = two
    event = {"type": "renamed", "occurred_on": "2001", "data": {"name": "Before"}}
    first.commands.append("kept", event, recorded_by="t")
    before = first.queries.state("kept", "2002")
    assert before["name"] == "Before"
    assert first.queries.state("kept", "2002") is before  # answered from the kept one
    event = {"type": "renamed", "occurred_on": "2002", "data": {"name": "After"}}
    second.commands.append("kept", event, recorded_by="t")
    assert first.queries.state("kept", "2002")["name"] == "After"
    assert first.queries.state("kept", "2001")["name"] == "Before"


def test_a_stream_kept_after_a_save_still_learns_of_another_processs_appends(two):
    """After an append a process keeps the saved stream in its cache; the next append there
    still reads what another process stored meanwhile, so versions follow on."""
    first, second = two
    event = {"type": "milestone", "occurred_on": "2001", "data": {"headline": "x"}}
    assert first.commands.append("kept", event, recorded_by="t").event["version"] == 1
    assert second.commands.append("kept", event, recorded_by="t").event["version"] == 2
    assert first.commands.append("kept", event, recorded_by="t").event["version"] == 3
    cached = first.app.repository.cache.get(first.app.organisation("kept").id)
    assert cached.version == 3 and cached.pending_events == []
    assert [e.originator_version for e in first.app.stream("kept")] == [1, 2, 3]
    with pytest.raises(VersionMismatch):
        second.commands.append("kept", event, recorded_by="t", expected_version=2)
    assert (
        second.commands.append("kept", event, recorded_by="t", expected_version=3).event["version"]
        == 4
    )


def test_a_kept_stream_is_brought_up_to_date_where_it_is_kept(two):
    """A stream kept in the cache is taken as it is while current; after another process's
    append it is moved on to it (the one object, not a stream read whole)."""
    first, second = two
    first.commands.append("kept", _milestone("one"), recorded_by="t")
    with first.app.writers_turn():
        kept = first.app.organisations(["kept"])["kept"]
    assert kept.version == 1
    with first.app.writers_turn():
        assert first.app.organisations(["kept"])["kept"] is kept
    second.commands.append("kept", _milestone("two"), recorded_by="t")
    with first.app.writers_turn():
        moved = first.app.organisations(["kept", "other"])
    assert moved["kept"] is kept and kept.version == 2
    assert moved["other"].version == 0
    assert first.commands.append("kept", _milestone("three"), recorded_by="t").event["version"] == 3
    assert [e.originator_version for e in first.app.stream("kept")] == [1, 2, 3]


def test_a_kept_stream_that_the_log_does_not_hold_is_read_whole(two):
    """A kept stream whose last event the log lacks (as after the database was replaced
    under a running process) is not built on: the stream is read from the log."""
    first, _ = two
    first.commands.append("kept", _milestone("one"), recorded_by="t")
    with first.app.writers_turn():
        kept = first.app.organisations(["kept"])["kept"]
    kept.record(parse_event(_milestone("never stored")), event_id=uuid4(), recorded_by="t")
    first.app.keep([kept])  # version 2 kept, but the log holds version 1 only
    with first.app.writers_turn():
        read = first.app.organisations(["kept"])["kept"]
    assert read is not kept and read.version == 1
    assert first.commands.append("kept", _milestone("two"), recorded_by="t").event["version"] == 2


def test_a_stream_with_no_events_is_started_afresh(two):
    first, _ = two
    with first.app.writers_turn():
        new = first.app.organisations(["new", "new"])
    assert list(new) == ["new"] and new["new"].version == 0


def test_within_its_turn_a_postgresql_writer_reads_on_the_turns_own_connection(
    two_on_postgres,
):
    """No connection is taken from the pool (and pinged) to read the streams: the one
    the advisory lock is held on answers; outside the turn a pooled one does."""
    first, _ = two_on_postgres
    turns, pool = first.app.timeline_recorder.turns, first.engine.pool
    with first.app.writers_turn():
        held = pool.checkedout()
        with turns.reading() as conn:
            assert pool.checkedout() == held
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    with turns.reading() as conn:
        assert pool.checkedout() == held + 1
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
