"""The recorder's own statements for the library's hot paths answer exactly as the library's."""

from __future__ import annotations

import itertools
from uuid import uuid4

from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder

from events.organisation import Organisation
from events.validation import parse_event


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
