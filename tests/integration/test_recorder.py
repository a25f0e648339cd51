"""The recorder's own statements for the library's hot paths answer exactly as the library's."""

from __future__ import annotations

import copy
import itertools
import threading
from uuid import uuid4

import pytest
from eventsourcing import persistence as library
from eventsourcing.persistence import IntegrityError
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import exc

from events.organisation import Organisation
from events.validation import parse_event
from projections.readmodel import driver_execute
from timeline.persistence import _library_error


def _milestone(headline: str, year: str = "2001") -> dict:
    return {"type": "milestone", "occurred_on": year, "data": {"headline": headline}}


def test_select_events_answers_as_the_librarys_query(services):
    for n in range(7):
        services.commands.append("cicopa", _milestone(f"m{n}", f"200{n}"), recorded_by="t")
    services.commands.append("ica", _milestone("i", "1895"), recorded_by="t")
    recorder = services.app.timeline_recorder
    stream = Organisation.id_for("cicopa")
    for gt, lte, desc, limit in itertools.product(
        (None, 0, 3), (None, 5, 7), (False, True), (None, 1, 4)
    ):
        ours = recorder.select_events(stream, gt=gt, lte=lte, desc=desc, limit=limit)
        theirs = SQLAlchemyApplicationRecorder.select_events(
            recorder, stream, gt=gt, lte=lte, desc=desc, limit=limit
        )
        assert ours == theirs, (gt, lte, desc, limit)
    assert len(recorder.select_events(stream)) == 7
    assert recorder.select_events(str(stream), gt=6) == recorder.select_events(stream, gt=6)
    assert recorder.select_events(Organisation.id_for("nobody")) == []


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
    """The rows are inserted by driver SQL; a lost race for a version must still reach the
    commands as the library's IntegrityError (they retry on it), and store nothing."""
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


def test_notifications_on_a_connection_answer_as_the_librarys_query(services):
    for n in range(6):
        services.commands.append("cicopa", _milestone(f"m{n}"), recorded_by="t")
    recorder = services.app.timeline_recorder
    last = recorder.max_notification_id()
    with services.engine.connect() as conn:
        for start, limit, stop in itertools.product(
            (1, 3, last, last + 1), (1, 4, 100), (None, 4, last)
        ):
            ours = recorder.notifications_on(conn, start, limit, stop=stop)
            theirs = recorder.select_notifications(start=start, limit=limit, stop=stop)
            assert ours == theirs, (start, limit, stop)


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


def test_on_an_sqlite_file_the_turns_holder_alone_gets_the_writer_connection(sqlite_url):
    from timeline.bootstrap import build
    from timeline.config import Config

    services = build(Config(database_url=sqlite_url))
    try:
        turns = services.app.timeline_recorder.turns
        assert turns.writer_connection() is None  # outside a turn
        with turns.turn():
            first = turns.writer_connection()
            assert first is not None
            with turns.turn():
                assert turns.writer_connection() is first  # nested: the same one
            seen_elsewhere = []
            other = threading.Thread(
                target=lambda: seen_elsewhere.append(turns.writer_connection())
            )
            other.start()
            other.join()
            assert seen_elsewhere == [None]  # another thread, not holding the turn
            first.close()  # broken or closed: the next turn gets a new one
        with turns.turn():
            second = turns.writer_connection()
            assert second is not None and second is not first and not second.closed
        services.commands.append("cicopa", _milestone("after"), recorded_by="t")
        assert services.queries.version("cicopa") == 1
    finally:
        services.close()


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        (exc.IntegrityError, library.IntegrityError),
        (exc.OperationalError, library.OperationalError),
        (exc.ProgrammingError, library.ProgrammingError),
        (exc.DataError, library.DataError),
        (exc.InterfaceError, library.InterfaceError),
        (exc.InternalError, library.InternalError),
        (exc.NotSupportedError, library.NotSupportedError),
        (exc.DatabaseError, library.DatabaseError),
    ],
)
def test_sqlalchemy_errors_are_raised_as_the_librarys(theirs, ours):
    error = theirs("INSERT ...", {}, Exception("driver said no"))
    translated = _library_error(error)
    assert type(translated) is ours
    assert type(_library_error(exc.SQLAlchemyError("other"))) is library.PersistenceError


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
    """Events alone take the service's own collection (no runtime Protocol checks); a stream
    with pending events, or anything else, the library's."""
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
