"""Writers take turns across processes: two services built on one database stand in for two
processes (each has its own engine, its own lock file descriptor or advisory-lock session).

Every writer waits for every other, whatever organisation it writes to (an flock on an SQLite
file, an advisory lock on PostgreSQL). Appends made through both services at once all
succeed, none by losing the race for a version and retrying.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from events.errors import InvalidEvent, VersionMismatch
from events.validation import parse_event
from timeline.bootstrap import Services, build
from timeline.commands import PendingAppend
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


# Group commit: appends waiting together in one process are stored in one transaction.


def _milestone(headline: str) -> dict:
    return {"type": "milestone", "occurred_on": "2001", "data": {"headline": headline}}


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def _counting_saves(monkeypatch, services: Services) -> list[int]:
    """The number of events of each transaction `services` stores, in order."""
    sizes: list[int] = []
    save = services.app.save

    def counting_save(*objs, **kwargs):
        result = save(*objs, **kwargs)
        sizes.append(len(objs))
        return result

    monkeypatch.setattr(services.app, "save", counting_save)
    return sizes


class _Appends:
    """Appends through `services` on threads of their own, each outcome kept by its name."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.results: dict[str, object] = {}
        self.threads: list[threading.Thread] = []

    def start(self, name: str, payload: dict, organisation: str = "cicopa", **options) -> None:
        def run() -> None:
            try:
                self.results[name] = self.services.commands.append(
                    organisation, payload, recorded_by="w", **options
                )
            except Exception as error:
                self.results[name] = error

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def join(self) -> dict[str, object]:
        for thread in self.threads:
            thread.join(20)
        return self.results


def test_appends_arriving_while_a_batch_waits_for_its_turn_join_it(two, monkeypatch):
    first, second = two
    sizes = _counting_saves(monkeypatch, first)
    appends = _Appends(first)
    group = first.commands.group
    with second.app.writers_turn():  # another process is storing: the first waits
        appends.start("lead", _milestone("lead"))
        _until(lambda: group.leading and group.waiting == 0, "the first append leads")
        for n in range(5):
            appends.start(f"w{n}", _milestone(f"w{n}"))
        _until(lambda: group.waiting == 5, "five appends wait behind it")
    results = appends.join()
    assert sizes == [6]  # the five joined the first once it had its turn
    versions = sorted(result.event["version"] for result in results.values())
    assert versions == [1, 2, 3, 4, 5, 6]
    stored = {event["data"]["headline"] for event in first.queries.all_events("cicopa")}
    assert stored == {"lead", "w0", "w1", "w2", "w3", "w4"}


@contextmanager
def _lead_storing(services: Services, appends: _Appends) -> Iterator[None]:
    """Start an append that leads at once and then waits, inside its transaction, for another
    connection's (SQLite's write lock, or PostgreSQL's lock on the read model's tracking
    row); within the block, other appends arrive; after it, the transaction goes on."""
    group = services.commands.group
    blocker = services.engine.connect()
    postgres = blocker.dialect.name == "postgresql"
    blocker.exec_driver_sql(
        "SELECT * FROM tl_tracking FOR UPDATE" if postgres else "BEGIN IMMEDIATE"
    )
    try:
        appends.start("lead", _milestone("lead"))
        _until(lambda: group.leading and group.waiting == 0, "the first append leads")
        if postgres:
            _until(lambda: _lock_awaited(services), "its transaction waits")
        else:
            time.sleep(0.3)  # SQLite's busy handler shows nowhere: ample time to get there
        yield
    finally:
        blocker.rollback()
        blocker.close()


def _lock_awaited(services: Services) -> bool:
    with services.engine.connect() as conn:
        sql = (
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN "
            "(SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
        )
        return bool(conn.exec_driver_sql(sql).scalar())


def test_appends_arriving_while_a_batch_is_stored_join_it_before_it_commits(two, monkeypatch):
    """The leader had the turn at once and took only itself; the five that arrive while its
    transaction is open (here: waiting for a lock) are stored in that transaction."""
    first, _ = two
    first.commands.append("cicopa", _milestone("first"), recorded_by="t")  # the stream is kept
    sizes = _counting_saves(monkeypatch, first)
    appends = _Appends(first)
    with _lead_storing(first, appends):
        for n in range(5):
            appends.start(f"w{n}", _milestone(f"w{n}"))
        _until(lambda: first.commands.group.waiting == 5, "five appends wait behind it")
    results = appends.join()
    assert sizes == [1]  # one save: the five in the lead's transaction
    assert sorted(result.event["version"] for result in results.values()) == [2, 3, 4, 5, 6, 7]
    stored = [e["data"]["headline"] for e in first.queries.all_events("cicopa")]
    assert sorted(stored) == ["first", "lead", "w0", "w1", "w2", "w3", "w4"]
    assert first.read_model.position() == first.app.recorder.max_notification_id()
    assert first.app.organisation("cicopa").version == 7  # the kept stream has them all


def test_appends_to_any_organisation_join_a_batch_late(two, monkeypatch):
    """An organisation new to the batch joins with its stream as it stood when the turn was
    taken (not as the transaction's own rows show it)."""
    first, second = two
    second.commands.append("ica", _milestone("before"), recorded_by="t")  # not kept by first
    sizes = _counting_saves(monkeypatch, first)
    appends = _Appends(first)
    with _lead_storing(first, appends):
        appends.start("other", _milestone("other"), organisation="ica")
        _until(lambda: first.commands.group.waiting == 1, "it waits")
        appends.start("same", _milestone("same"))
        _until(lambda: first.commands.group.waiting == 2, "it waits")
    results = appends.join()
    assert all(not isinstance(result, Exception) for result in results.values())
    assert sizes == [1]
    assert [e["data"]["headline"] for e in first.queries.all_events("cicopa")] == ["lead", "same"]
    assert [e["data"]["headline"] for e in first.queries.all_events("ica")] == ["before", "other"]
    assert results["other"].event["version"] == 2
    assert first.read_model.position() == first.app.recorder.max_notification_id()


def test_each_append_of_a_batch_is_judged_on_its_own(two, monkeypatch):
    first, second = two
    founded = first.commands.append("cicopa", _milestone("first"), recorded_by="t").event
    sizes = _counting_saves(monkeypatch, first)
    appends = _Appends(first)
    group = first.commands.group
    unknown = "00000000-0000-4000-8000-000000000000"
    with second.app.writers_turn():
        appends.start("lead", _milestone("lead"))
        _until(lambda: group.leading and group.waiting == 0, "the first append leads")
        appends.start("fine", _milestone("fine"))
        _until(lambda: group.waiting == 1, "it waits")
        appends.start("stale", _milestone("stale"), expected_version=1)
        _until(lambda: group.waiting == 2, "it waits")
        appends.start(
            "bad", {"type": "retracted", "data": {"event_id": unknown, "reason": "no such event"}}
        )
        _until(lambda: group.waiting == 3, "it waits")
        appends.start("keyed", _milestone("keyed"), idempotency_key="k-1", token_id="tok")
        _until(lambda: group.waiting == 4, "it waits")
        appends.start("again", _milestone("keyed"), idempotency_key="k-1", token_id="tok")
        _until(lambda: group.waiting == 5, "it waits")
        retraction = {
            "type": "retracted",
            "data": {"event_id": founded["id"], "reason": "a test"},
        }
        appends.start("retract", retraction)
        _until(lambda: group.waiting == 6, "it waits")
    results = appends.join()
    assert isinstance(results["stale"], VersionMismatch)
    assert isinstance(results["bad"], InvalidEvent)
    assert not results["keyed"].replayed and results["again"].replayed
    assert results["again"].event == results["keyed"].event
    stored = {
        e["data"].get("headline", "retraction"): e
        for e in first.queries.all_events("cicopa", include_retracted=True)
    }
    assert set(stored) == {"first", "lead", "fine", "keyed", "retraction"}
    assert [stored[n]["version"] for n in ("first", "lead", "fine", "keyed", "retraction")] == [
        1,
        2,
        3,
        4,
        5,
    ]
    # the four that were fine, together (the repeated key waited for the first)
    assert sizes == [4]


def test_appends_to_any_organisation_join_a_batch_waiting_for_its_turn(two, monkeypatch):
    """The turn is every writer's, whatever organisation: an append to another organisation
    joins the batch as one to the same does."""
    first, second = two
    sizes = _counting_saves(monkeypatch, first)
    appends = _Appends(first)
    group = first.commands.group
    with second.app.writers_turn():
        appends.start("lead", _milestone("lead"))
        _until(lambda: group.leading and group.waiting == 0, "the first append leads")
        appends.start("other", _milestone("other"), organisation="ica")
        _until(lambda: group.waiting == 1, "it waits")
        appends.start("same", _milestone("same"))
        _until(lambda: group.waiting == 2, "it waits")
    results = appends.join()
    assert all(not isinstance(result, Exception) for result in results.values())
    assert sizes == [3]
    assert [e["data"]["headline"] for e in first.queries.all_events("cicopa")] == ["lead", "same"]
    assert [e["data"]["headline"] for e in first.queries.all_events("ica")] == ["other"]


def test_a_batch_that_loses_a_race_stores_each_append_on_its_own(two):
    first, second = two
    appends = _Appends(first)
    group = first.commands.group
    with second.app.writers_turn():
        appends.start("lead", _milestone("lead"))
        _until(lambda: group.leading and group.waiting == 0, "the first append leads")
        appends.start("keyed", _milestone("keyed"), idempotency_key="k-1", token_id="tok")
        appends.start("plain", _milestone("plain"))
        _until(lambda: group.waiting == 2, "two appends wait behind it")
        # Meanwhile the other process stores the same key (after the first's check for it).
        theirs = second.commands.append(
            "cicopa", _milestone("keyed"), recorded_by="w", idempotency_key="k-1", token_id="tok"
        )
    results = appends.join()
    assert results["keyed"].replayed and results["keyed"].event == theirs.event
    assert not results["plain"].replayed
    headlines = sorted(e["data"]["headline"] for e in first.queries.all_events("cicopa"))
    assert headlines == ["keyed", "lead", "plain"]
    assert sorted(e["version"] for e in first.queries.all_events("cicopa")) == [1, 2, 3]


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


def test_only_streams_an_append_was_stored_to_are_kept(two):
    """A batch in which an append to a new organisation is refused keeps no stream for it."""
    first, _ = two
    good = {"type": "milestone", "occurred_on": "2001", "data": {"headline": "x"}}
    missing = "00000000-0000-0000-0000-000000000000"
    bad = {"type": "retracted", "data": {"event_id": missing, "reason": "none such"}}
    requests = [
        PendingAppend(org, parse_event(event), "t", None, "cli", None, "")
        for org, event in (("real", good), ("ghost", bad))
    ]
    first.commands._store(requests)
    assert requests[0].outcome is not None and isinstance(requests[1].error, InvalidEvent)
    cache = first.app.repository.cache
    assert cache.get(first.app.organisation("real").id).version == 1
    with pytest.raises(KeyError):
        cache.get(first.app.organisation("ghost").id)


# Kept streams: one look at the log brings them all up to date.


def _event_table_selects(services: Services) -> list[str]:
    """The SELECTs on the event table that `services` sends from now on."""
    from sqlalchemy import event as sqlalchemy_event

    table = services.app.timeline_recorder.events_table_name
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and table in statement:
            seen.append(statement)

    sqlalchemy_event.listen(services.engine, "before_cursor_execute", before)
    return seen


def test_one_query_brings_every_kept_stream_up_to_date(two):
    first, second = two
    for org in ("a", "b", "c"):
        first.commands.append(org, _milestone(f"{org}1"), recorded_by="t")
    for org in ("a", "b", "c"):  # another process appends to every stream the first keeps
        second.commands.append(org, _milestone(f"{org}2"), recorded_by="t")
    selects = _event_table_selects(first)
    streams = first.app.organisations(["a", "b", "c"])
    assert [stream.version for stream in streams.values()] == [2, 2, 2]
    assert len(selects) == 1  # the events stored since the last look, for all three
    assert first.commands.append("b", _milestone("b3"), recorded_by="t").event["version"] == 3
    headlines = [e["data"]["headline"] for e in first.queries.all_events("b")]
    assert headlines == ["b1", "b2", "b3"]


def test_kept_streams_far_behind_the_log_are_read_afresh(two, monkeypatch):
    first, second = two
    monkeypatch.setattr("timeline.application.FOLLOW_LIMIT", 3)
    first.commands.append("far", _milestone("mine"), recorded_by="t")
    for n in range(5):
        second.commands.append("far", _milestone(f"theirs {n}"), recorded_by="t")
    assert first.app.organisation("far").version == 6
    assert first.commands.append("far", _milestone("next"), recorded_by="t").event["version"] == 7


def test_a_stream_kept_out_of_date_is_read_afresh_after_losing_a_race(two):
    """Were a kept stream ever behind the log (a writer that did not take its turn), the
    append that loses the race for its next version forgets it, and succeeds when tried again."""
    first, second = two
    first.commands.append("stale", _milestone("mine"), recorded_by="t")
    first.app.organisation("stale")  # kept, and the log looked at
    second.commands.append("stale", _milestone("theirs"), recorded_by="t")
    # Pretend the first had seen it: its kept stream is behind.
    first.app._followed = first.app.recorder.max_notification_id()
    appended = first.commands.append("stale", _milestone("after"), recorded_by="t")
    assert appended.event["version"] == 3
