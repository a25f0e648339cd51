"""The write path (timeline/writer.py) on a real SQLite file and a real PostgreSQL database:
what one append stores, in one transaction, and how appends that meet each other settle."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from events.errors import InvalidEvent, VersionMismatch
from events.validation import parse_event
from projections.tables import event_versions
from timeline.bootstrap import Services, build
from timeline.config import Config
from timeline.tables import idempotency_keys
from timeline.writer import Append, Appended, IfMatch


def _milestone(headline: str) -> dict:
    return {"type": "milestone", "occurred_on": "2001", "data": {"headline": headline}}


def _counts(services: Services) -> tuple[int, int, int]:
    """(events in the log, idempotency records, event rows of the read model)."""
    with services.engine.connect() as conn:
        keys = conn.execute(select(func.count()).select_from(idempotency_keys)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(event_versions)).scalar_one()
    return services.app.recorder.max_notification_id() or 0, keys, rows


def _append(services: Services, org: str, headline: str, *, key: str | None = None, if_match=None):
    return services.commands.writer.append(
        Append(
            org,
            parse_event(_milestone(headline)),
            recorded_by="t",
            token_id="tok",
            if_match=if_match,
            idempotency_key=key,
        )
    )


def test_an_append_stores_its_event_idempotency_record_and_read_model_rows_together(services):
    appended = _append(services, "cicopa", "first", key="k1")
    assert _counts(services) == (1, 1, 1)
    assert services.read_model.position() == services.app.recorder.max_notification_id()
    assert services.queries.event("cicopa", appended.event["id"])["data"] == {"headline": "first"}


def test_a_failure_in_the_read_model_stores_neither_the_event_nor_its_idempotency_record(
    services,
):
    _append(services, "cicopa", "kept", key="k1")
    with services.engine.begin() as conn:  # the read model can no longer be written
        conn.exec_driver_sql(f"DROP TABLE {event_versions.name}")
    with pytest.raises(Exception):  # noqa: B017 - whatever the database says
        _append(services, "cicopa", "lost", key="k2")
    with services.engine.connect() as conn:
        keys = conn.execute(select(idempotency_keys.c.key)).scalars().all()
        position = services.read_model.position()
    assert keys == ["k1"] and position == 1
    assert [e.data["headline"] for e in services.app.stream("cicopa")] == ["kept"]
    assert services.app.organisation("cicopa").version == 1  # the recorded stream forgotten


def test_a_retry_with_its_key_and_if_match_gets_its_first_answer(services):
    first = _append(services, "cicopa", "once", key="k1", if_match=IfMatch(frozenset({0})))
    _append(services, "cicopa", "another")  # the stream moves on: If-Match "0" is stale now
    again = _append(services, "cicopa", "once", key="k1", if_match=IfMatch(frozenset({0})))
    assert again.replayed and again.event == first.event
    with pytest.raises(VersionMismatch) as refused:
        _append(services, "cicopa", "once", key="k2", if_match=IfMatch(frozenset({0})))
    assert (refused.value.expected, refused.value.actual) == (0, 2)
    assert _counts(services)[:2] == (2, 1)


def test_if_match_star_accepts_any_stream_with_events_and_refuses_a_new_one(services):
    with pytest.raises(VersionMismatch):
        _append(services, "cicopa", "first", if_match=IfMatch(any_version=True))
    _append(services, "cicopa", "first")
    appended = _append(services, "cicopa", "second", if_match=IfMatch(any_version=True))
    assert appended.event["version"] == 2


def test_a_refused_append_writes_nothing_and_leaves_the_kept_stream_as_stored(services):
    _append(services, "cicopa", "stored")
    before = _counts(services)
    with pytest.raises(VersionMismatch):
        _append(services, "cicopa", "stale", key="k1", if_match=IfMatch(frozenset({5})))
    missing = {"type": "retracted", "data": {"event_id": "0" * 32, "reason": "none such"}}
    with pytest.raises(InvalidEvent):
        services.commands.append("cicopa", missing, recorded_by="t", idempotency_key="k2")
    assert _counts(services) == before
    assert _append(services, "cicopa", "next").event["version"] == 2
    assert [e.originator_version for e in services.app.stream("cicopa")] == [1, 2]


def test_an_append_that_loses_the_race_for_its_version_is_tried_again_and_stored(
    database_url,
):
    """A writer whose kept stream is behind the log (here: not fast-forwarded, as a writer
    that did not wait for its turn would be) loses the race for the next version; the
    append forgets the stream and succeeds on the version after the other writer's."""
    first, second = (build(Config(database_url=database_url)) for _ in range(2))
    try:
        _append(first, "raced", "mine")
        first.app.repository.fastforward = False  # the kept stream stays at version 1
        _append(second, "raced", "theirs")
        appended = _append(first, "raced", "after")
        assert appended.event["version"] == 3
        headlines = [e.data["headline"] for e in first.app.stream("raced")]
        assert headlines == ["mine", "theirs", "after"]
        assert first.read_model.position() == first.app.recorder.max_notification_id()
    finally:
        first.close()
        second.close()


def test_concurrent_appends_from_threads_are_each_stored_once(services):
    acknowledged: list[dict] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        for i in range(10):
            key = f"{n}-{i % 5}"  # every key is sent twice: the second replays the first
            event = _append(services, "cicopa", f"{n}-{i % 5}", key=key).event
            with lock:
                acknowledged.append(event)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = {event["id"] for event in acknowledged}
    assert len(stored) == 30
    assert _counts(services) == (30, 30, 30)
    versions = [e.originator_version for e in services.app.stream("cicopa")]
    assert versions == list(range(1, 31))


def _write_in_a_process(database_url: str, name: str, count: int) -> list[str]:
    """Append `count` events (each with a key, each sent twice) from a process of its own."""
    services = build(Config(database_url=database_url), create=False)
    try:
        ids = []
        for i in range(count):
            for _ in range(2):
                appended = _append(services, "shared", f"{name}-{i}", key=f"{name}-{i}")
            ids.append(appended.event["id"])
        return ids
    finally:
        services.close()


def test_concurrent_appends_from_two_processes_are_each_stored_once(database_url):
    services = build(Config(database_url=database_url))
    try:
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            results = pool.starmap(
                _write_in_a_process, [(database_url, "a", 25), (database_url, "b", 25)]
            )
        acknowledged = {event_id for ids in results for event_id in ids}
        assert len(acknowledged) == 50
        logged = services.app.stream("shared")
        assert {str(e.event_id) for e in logged} == acknowledged
        assert [e.originator_version for e in logged] == list(range(1, 51))
        assert _counts(services) == (50, 50, 50)  # the read model written in each transaction
        assert services.queries.version("shared") == 50
    finally:
        services.close()


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def test_appends_waiting_together_are_stored_in_one_transaction_each_judged_on_its_own(
    database_url,
):
    """While another process holds the writers' turn, one append waits for it and the others
    queue behind: once the turn is its, it stores them all with its own in one transaction,
    and a refused one fails alone."""
    first, second = (build(Config(database_url=database_url)) for _ in range(2))
    commits: list[int] = []
    sqlalchemy_event.listen(first.engine, "commit", lambda conn: commits.append(1))
    outcomes: dict[str, object] = {}
    missing = {"type": "retracted", "data": {"event_id": "0" * 32, "reason": "none such"}}
    requests = {
        "lead": ("cicopa", _milestone("lead"), {}),
        "plain": ("cicopa", _milestone("plain"), {}),
        "other-org": ("ica", _milestone("other"), {}),
        "keyed": ("cicopa", _milestone("keyed"), {"idempotency_key": "k"}),
        "keyed-again": ("cicopa", _milestone("keyed"), {"idempotency_key": "k"}),
        "stale": ("cicopa", _milestone("stale"), {"expected_version": 7}),
        "invalid": ("cicopa", missing, {}),
    }

    def send(name: str) -> None:
        org, payload, options = requests[name]
        try:
            outcomes[name] = first.commands.append(org, payload, recorded_by="t", **options)
        except Exception as error:
            outcomes[name] = error

    writer = first.commands.writer
    try:
        threads = {name: threading.Thread(target=send, args=(name,)) for name in requests}
        with second.app.writers_turn():
            threads["lead"].start()
            _until(lambda: writer.leading, "the first append leads, waiting for the turn")
            for name, thread in threads.items():
                if name != "lead":
                    thread.start()
            _until(lambda: writer.waiting == len(requests), "the others wait with it")
            commits.clear()
        for thread in threads.values():
            thread.join(30)
    finally:
        first.close()
        second.close()
    assert isinstance(outcomes["stale"], VersionMismatch)
    assert isinstance(outcomes["invalid"], InvalidEvent)
    stored = [outcomes[name] for name in ("lead", "plain", "other-org", "keyed", "keyed-again")]
    assert all(isinstance(appended, Appended) for appended in stored)
    keyed, again = outcomes["keyed"], outcomes["keyed-again"]
    assert {keyed.replayed, again.replayed} == {True, False}  # whichever came second replays
    assert keyed.event == again.event
    assert sorted(a.event["version"] for a in stored[:4]) == [1, 1, 2, 3]
    assert len(commits) == 1  # the lead's and the others' together
