"""The SQL read model answers every question exactly as the pure fold does.

Hypothesis generates histories of every event type, with dates of every level-1 form (every
precision and qualifier, unspecified digits, seasons, intervals with open and unknown ends),
recorded out of order, with retractions and corrections, across organisations that affiliate
to each other. Each history is appended through the application (half of it
projected inside the append's transaction, half caught up afterwards), then every state,
event list (whole, and filtered by `from` and `to`) and person is compared with the fold at
many dates and recording times, before and after a rebuild. Each example uses organisation ids of its own, so one database serves
all the examples of a run. TIMELINE_EQUIVALENCE_EXAMPLES asks for a deeper run (default 40).
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.dates import EDTFDate, period_end, period_start
from projections.people import office_steps, positions_from_steps
from projections.readmodel import record_of
from projections.records import EventRecord, EventView, resolve
from projections.state import state_at
from timeline.bootstrap import Services, build
from timeline.config import Config

YEARS = range(1998, 2003)
ROLES = ("President", "Secretary")
PEOPLE = ("p-one", "p-two", "p-three")
MEMBERS = ("m-one", "m-two", "m-three")
QUALIFIERS = ("", "", "?", "~", "%")
HISTORICAL = (
    "founded",
    "renamed",
    "headquarters_moved",
    "office_holder_appointed",
    "office_holder_left",
    "member_joined",
    "member_left",
    "figures_reported",
    "document_adopted",
    "affiliated",
    "disaffiliated",
    "dissolved",
    "milestone",
)

_examples = itertools.count()


@st.composite
def side(draw: st.DrawFn) -> str:
    """One date of any level-1 form but an interval: a year, month or day, a season,
    unspecified digits (`199X`, `2000-XX`, `2001-05-XX`, `2001-XX-XX`), qualified or not."""
    year = draw(st.sampled_from(YEARS))
    form = draw(
        st.sampled_from(("year", "month", "day", "year", "month", "day", "season", "x", "xx"))
    )
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    text = {
        "year": str(year),
        "month": f"{year}-{month:02d}",
        "day": f"{year}-{month:02d}-{day:02d}",
        "season": f"{year}-{draw(st.integers(21, 24))}",
        "x": draw(st.sampled_from((f"{str(year)[:3]}X", f"{year}-XX"))),
        "xx": draw(st.sampled_from((f"{year}-{month:02d}-XX", f"{year}-XX-XX"))),
    }[form]
    return text + draw(st.sampled_from(QUALIFIERS))


@st.composite
def edtf(draw: st.DrawFn) -> str:
    """A date of any level-1 form: a plain one, or (one time in four) an interval between two
    of them, or with an open (`..`) or unknown (empty) end."""
    first = draw(side())
    shape = draw(st.sampled_from(("plain", "plain", "plain", "interval", "open", "unknown")))
    if shape == "plain":
        return first
    if shape == "interval":
        second = draw(side())
        ordered = sorted((first, second), key=lambda t: EDTFDate.parse(t).sort_day)
        if EDTFDate.parse(ordered[0]).first_day > EDTFDate.parse(ordered[1]).last_day:
            return ordered[0]  # no interval runs from the later to the earlier
        return "/".join(ordered)
    end = ".." if shape == "open" else ""
    return draw(st.sampled_from((f"{end}/{first}", f"{first}/{end}")))


def data_for(draw: st.DrawFn, kind: str, orgs: list[str]) -> dict[str, Any]:
    pick = lambda values: draw(st.sampled_from(values))  # noqa: E731
    maybe = lambda value: value if draw(st.booleans()) else None  # noqa: E731
    if kind in ("founded", "renamed"):
        data = {"name": pick(("Alpha", "Beta", "Gamma"))}
        if (acronym := maybe(pick(("A", "B")))) is not None:
            data["acronym"] = acronym
        return data
    if kind == "headquarters_moved":
        return {"location": pick(("Geneva", "Brussels"))}
    if kind == "office_holder_appointed":
        person = pick(PEOPLE)
        return {"role": pick(ROLES), "person": {"id": person, "name": person.upper()}}
    if kind == "office_holder_left":
        return {"role": pick(ROLES), "person_id": pick(PEOPLE)}
    if kind == "member_joined":
        member = pick(MEMBERS)
        data = {"id": member, "name": member.upper()}
        if (country := maybe(pick(("France", "Italy")))) is not None:
            data["country"] = country
        return {"member": data}
    if kind == "member_left":
        return {"member_id": pick(MEMBERS)}
    if kind == "figures_reported":
        names = draw(st.sets(st.sampled_from(("members", "jobs")), min_size=1))
        return {"figures": {name: draw(st.integers(0, 100)) for name in sorted(names)}}
    if kind == "document_adopted":
        data = {"title": pick(("Declaration", "Standards"))}
        if (stage := maybe(pick(("draft", "final")))) is not None:
            data["stage"] = stage
        return data
    if kind in ("affiliated", "disaffiliated"):
        return {"parent": pick(orgs)}
    if kind == "milestone":
        return {"headline": "news"}
    return {}


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Organisation ids and a list of (organisation, payload); amendments name earlier indexes."""
    n = next(_examples)
    orgs = [f"x{n}-a", f"x{n}-b", f"x{n}-c"]
    steps: list[tuple[str, dict[str, Any]]] = []
    for _ in range(draw(st.integers(1, 28))):
        amendable = [i for i, (_, p) in enumerate(steps) if p["type"] in HISTORICAL]
        if amendable and draw(st.integers(0, 4)) == 0:
            index = draw(st.sampled_from(amendable))
            org, target = steps[index]
            if draw(st.booleans()):
                payload = {"type": "retracted", "data": {"target": index, "reason": "wrong"}}
            else:
                change: dict[str, Any] = {}
                if draw(st.booleans()):
                    change["occurred_on"] = draw(edtf())
                if not change or draw(st.booleans()):
                    change["data"] = data_for(draw, target["type"], orgs)
                payload = {
                    "type": "corrected",
                    "data": {"target": index, "reason": "fix", **change},
                }
            steps.append((org, payload))
            continue
        org = draw(st.sampled_from(orgs))
        kind = draw(st.sampled_from(HISTORICAL))
        steps.append(
            (org, {"type": kind, "occurred_on": draw(edtf()), "data": data_for(draw, kind, orgs)})
        )
    return orgs, steps


def record_history(services: Services, steps: list[tuple[str, dict[str, Any]]]) -> list[dict]:
    """Append the steps; the second half lands unprojected and is caught up afterwards."""
    stored: list[dict] = []
    retracted: set[int] = set()
    recorder = services.app.timeline_recorder
    for number, (org, payload) in enumerate(steps):
        if number == len(steps) // 2:
            recorder.read_model = None
        if payload["type"] in ("retracted", "corrected"):
            target = payload["data"].pop("target")
            if target in retracted:
                stored.append({})
                continue
            payload["data"]["event_id"] = stored[target]["id"]
            if payload["type"] == "retracted":
                retracted.add(target)
        stored.append(services.commands.append(org, payload, recorded_by="hypothesis").event)
    recorder.read_model = services.read_model
    services.catch_up()
    return stored


def recorded(services: Services, orgs: list[str]) -> list[EventRecord]:
    """The example's events as the fold sees them, with their positions in the log."""
    positions = {}
    position = 0
    while batch := services.app.recorder.select_notifications(start=position + 1, limit=1000):
        for notification in batch:
            positions[(notification.originator_id, notification.originator_version)] = (
                notification.id
            )
        position = batch[-1].id
    events = [e for org in orgs for e in services.app.stream(org)]
    return [record_of(e, positions[(e.originator_id, e.originator_version)]) for e in events]


PERIODS = [("1999", "1999"), ("2000-06-15", None), (None, "2001-12"), ("1990", "1997")]
"""`from` and `to` filters the lists are compared under."""


def questions(stored: list[dict]) -> tuple[list[str], list[str | None]]:
    ats = ["1997", "1999", "2000-06-15", "2001-12", "2002-01-31", "2003"]
    stamps = [e["recorded_at"] for e in stored if e]
    known = [None, stamps[len(stamps) // 2]] if stamps else [None]
    return ats, known


def assert_equivalent(services: Services, orgs: list[str], stored: list[dict]) -> None:
    ats, known = questions(stored)
    records = recorded(services, orgs)
    for known_at in known:
        moment = datetime.fromisoformat(known_at) if known_at else None
        views = resolve(records, moment)
        for org in orgs:
            exists = any(v.record.organisation == org for v in views)
            for at in ats:
                if not exists:
                    continue
                expected = state_at(views, org, period_end(at), at, moment)
                assert services.queries.state(org, at, known_at) == expected, (org, at, known_at)
            if exists:
                listed = list(
                    services.queries.all_events(org, known_at=known_at, include_retracted=True)
                )
                mine = sorted(
                    (v for v in views if v.record.organisation == org), key=EventView.sort_key
                )
                assert [(e["id"], e["status"], e.get("occurred_on")) for e in listed] == [
                    (v.record.id, v.status, v.occurred_on) for v in mine
                ], (org, known_at)
                for start, end in PERIODS:
                    assert_filtered_list(services, org, known_at, mine, start, end)
    views = resolve(records)
    steps = office_steps(views, period_end("2026-11-23"))
    for person in PEOPLE:
        _expected_name, expected_positions = positions_from_steps(steps, person)
        mine = (
            [p for p in services.queries.person(person)["positions"] if p["organisation"] in orgs]
            if expected_positions
            else []
        )
        assert mine == expected_positions, person


def assert_filtered_list(
    services: Services,
    org: str,
    known_at: str | None,
    mine: list[EventView],
    start: str | None,
    end: str | None,
) -> None:
    """A list filtered by `from` and `to` holds the events whose range overlaps the period."""
    first = period_start(start) if start else None
    last = period_end(end) if end else None
    listed = services.queries.all_events(
        org, start=start, end=end, known_at=known_at, include_retracted=True
    )
    assert [e["id"] for e in listed] == [
        v.record.id for v in mine if v.when is not None and v.when.overlaps(first, last)
    ], (org, known_at, start, end)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared_services(request, tmp_path_factory, postgres):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('equivalence') / 'timeline.db'}"
    else:
        url = postgres.create()
    services = build(Config(database_url=url))
    yield services
    services.close()
    if request.param == "postgres":
        postgres.drop(url)


@settings(
    max_examples=int(os.environ.get("TIMELINE_EQUIVALENCE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_the_read_model_answers_exactly_as_the_fold_incrementally_and_after_a_rebuild(
    shared_services, history
):
    orgs, steps = history
    stored = record_history(shared_services, steps)
    assert_equivalent(shared_services, orgs, stored)
    shared_services.rebuild_projections()
    assert_equivalent(shared_services, orgs, stored)
