"""The recorder: the library's inserts, with the read model and idempotency records beside them."""

from __future__ import annotations

import copy
from uuid import uuid4

import pytest
from eventsourcing import persistence as library
from eventsourcing.persistence import IntegrityError
from sqlalchemy import exc

from events.organisation import Organisation
from events.validation import parse_event
from projections.readmodel import driver_execute


def _milestone(headline: str, year: str = "2001") -> dict:
    return {"type": "milestone", "occurred_on": year, "data": {"headline": headline}}


def test_one_save_of_several_streams_numbers_the_events_in_the_order_given(services):
    streams = [Organisation.start(slug) for slug in ("b-org", "a-org", "c-org")]
    events = [
        stream.record(parse_event(_milestone(f"e{n}")), event_id=uuid4(), recorded_by="t")
        for n, stream in enumerate(streams * 3)
    ]
    services.app.save(*events)
    recorder = services.app.timeline_recorder
    notifications = recorder.select_notifications(start=1, limit=100)
    assert [(n.originator_id, n.originator_version) for n in notifications] == [
        (event.originator_id, event.originator_version) for event in events
    ]
    assert [n.id for n in notifications] == sorted({n.id for n in notifications})
    assert services.queries.version("a-org") == 3


def test_a_version_stored_already_is_refused_as_the_librarys_integrity_error(services):
    """A lost race for a version reaches the writer as the library's IntegrityError (it
    retries on it), with nothing stored: neither the event nor its read-model rows."""
    first = Organisation.start("raced")
    stale = copy.deepcopy(first)
    services.app.save(
        first.record(parse_event(_milestone("won")), event_id=uuid4(), recorded_by="t")
    )
    lost = stale.record(parse_event(_milestone("lost")), event_id=uuid4(), recorded_by="t")
    with pytest.raises(IntegrityError):
        services.app.save(lost)
    assert [e.data["headline"] for e in services.app.stream("raced")] == ["won"]
    assert services.read_model.position() == services.app.recorder.max_notification_id()
    assert services.queries.version("raced") == 1


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(services):
    with services.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        with pytest.raises(exc.ProgrammingError if _postgres(conn) else exc.OperationalError):
            driver_execute(conn, "SELECT * FROM no_such_table WHERE x = :x", {"x": 1})
        conn.rollback()
        assert driver_execute(conn, "SELECT :x + 1", {"x": 1}).rows[0][0] == 2


def _postgres(conn) -> bool:
    return conn.dialect.name == "postgresql"


def test_appended_events_reach_the_read_model_without_being_decoded_again(services):
    """The recorder writes the read model from the events it was given to store; only events
    it reads back from the log (stored by someone else) are decoded."""

    class NoDecoding:
        def to_domain_event(self, notification):
            raise AssertionError(f"decoded notification {notification.id}")

    recorder = services.app.timeline_recorder
    recorder.decoder = NoDecoding()
    services.commands.append("cicopa", _milestone("appended"), recorded_by="t")
    services.commands.import_lines(
        [
            '{"organisation": "ica", "type": "milestone", "occurred_on": "1895", '
            '"data": {"headline": "imported"}}'
        ]
    )
    assert services.read_model.position() == recorder.max_notification_id()
    headlines = [e["data"]["headline"] for e in services.queries.all_events("cicopa")]
    assert "appended" in headlines
    assert services.queries.version("ica") == 1


def test_a_failed_write_stores_nothing_and_says_why_as_the_librarys_error(services):
    services.commands.append("cicopa", _milestone("kept"), recorded_by="t")
    with services.engine.begin() as conn:  # the read model cannot be written any more
        conn.exec_driver_sql("DROP TABLE tl_events")
    stream = services.app.organisation("cicopa")
    event = stream.record(parse_event(_milestone("lost")), event_id=uuid4(), recorded_by="t")
    with pytest.raises(library.PersistenceError):
        services.app.save(event)
    assert [e.data["headline"] for e in services.app.stream("cicopa")] == ["kept"]
    assert services.read_model.position() == services.app.recorder.max_notification_id()


def test_saving_events_or_a_stream_stores_the_same_and_returns_their_recordings(services):
    """The library collects the events of a stream, or takes events as they are given."""
    events_only = Organisation.start("by-events")
    event = events_only.record(parse_event(_milestone("e")), event_id=uuid4(), recorded_by="t")
    by_events = services.app.save(event)
    stream = Organisation.start("by-stream")
    stream.record(parse_event(_milestone("s")), event_id=uuid4(), recorded_by="t")
    by_stream = services.app.save(stream, None)
    assert stream.pending_events == []  # collected by the library from the stream
    recorder = services.app.timeline_recorder
    logged = {n.id: n.originator_id for n in recorder.select_notifications(start=1, limit=10)}
    for recordings, slug in ((by_events, "by-events"), (by_stream, "by-stream")):
        (recording,) = recordings
        assert logged[recording.notification.id] == Organisation.id_for(slug)
        assert services.queries.version(slug) == 1
    assert services.app.save() == []
