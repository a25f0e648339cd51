"""The SQL read model answers every question exactly as the pure fold does.

Hypothesis generates histories of every event type, with dates of every level-1 form (every
precision and qualifier, unspecified digits, seasons, intervals with open and unknown ends), recorded out of order, with retractions and corrections, across organisations
that affiliate to each other: changes and attestations (`basis`) of every type that takes
one, corrections that change a date, data or basis, roles that continue other roles
(`replaces_role`), names in several languages (tags in any case, with and without a region)
and figures with qualifiers. Values are drawn from small sets, so that runs of one value
(attested again, changed to again, ended and taken up again) are common. Each history is
appended through the application (half of it projected inside the append's transaction, half
caught up afterwards), then every state (at dates and recording times drawn with the
history), event list (whole, and filtered by `from` and `to`) and person is compared with the fold, before and after a rebuild. Each example uses organisation ids of its own, so one database serves
all the examples of a run. TIMELINE_EQUIVALENCE_EXAMPLES asks for a deeper run (default 10, besides the fixed example of the rare rules; 40 or more before a release).
"""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from events.dates import EDTFDate, period_end, period_start
from events.validation import BASIS_TYPES
from projections.people import office_steps, positions_from_steps
from projections.readmodel import record_of
from projections.records import EventRecord, EventView, resolve
from projections.state import state_at
from timeline.bootstrap import Services, build
from timeline.config import Config

YEARS = range(1998, 2003)
ROLES = ("President", "Secretary", "Director")
PEOPLE = ("p-one", "p-two", "p-three")
MEMBERS = ("m-one", "m-two", "m-three")
QUALIFIERS = ("", "", "?", "~", "%")
LANGUAGES = (None, None, "en", "fr", "fr-CA", "FR", "es")
BASES = (None, "change", "attestation", "attestation")
FIGURE_QUALIFIERS = ("about", "almost", "at least", "over", "at most", "under")
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


def spellings(slug: str) -> tuple[str, str]:
    """Two ways a source may write a person's or a member's name."""
    return (slug.upper(), slug.replace("-", " ").title())


def data_for(draw: st.DrawFn, kind: str, orgs: list[str]) -> dict[str, Any]:
    pick = lambda values: draw(st.sampled_from(values))  # noqa: E731
    maybe = lambda value: value if draw(st.booleans()) else None  # noqa: E731
    if kind in ("founded", "renamed"):
        data = {"name": pick(("Alpha", "Beta", "Gamma"))}
        if (acronym := maybe(pick(("A", "B")))) is not None:
            data["acronym"] = acronym
        if (language := pick(LANGUAGES)) is not None:
            data["language"] = language
        return data
    if kind == "headquarters_moved":
        return {"location": pick(("Geneva", "Brussels"))}
    if kind == "office_holder_appointed":
        person, role = pick(PEOPLE), pick(ROLES)
        return {"role": role, "person": {"id": person, "name": pick(spellings(person))}}
    if kind == "office_holder_left":
        return {"role": pick(ROLES), "person_id": pick(PEOPLE)}
    if kind == "member_joined":
        member = pick(MEMBERS)
        data = {"id": member, "name": pick(spellings(member))}
        if (country := maybe(pick(("France", "Italy")))) is not None:
            data["country"] = country
        return {"member": data}
    if kind == "member_left":
        return {"member_id": pick(MEMBERS)}
    if kind == "figures_reported":
        names = sorted(draw(st.sets(st.sampled_from(("members", "jobs")), min_size=1)))
        data = {"figures": {name: draw(st.integers(0, 100)) for name in names}}
        qualified = draw(st.sets(st.sampled_from(names)))
        if qualified:
            data["qualifiers"] = {name: pick(FIGURE_QUALIFIERS) for name in sorted(qualified)}
        return data
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


@dataclass
class History:
    """Organisation ids, a list of (organisation, payload) whose amendments name earlier
    indexes, the `at`s to ask about, and where in the recording to ask (0: first event)."""

    orgs: list[str]
    steps: list[tuple[str, dict[str, Any]]]
    ats: list[str]
    moments: list[float]


@st.composite
def histories(draw: st.DrawFn) -> History:
    """A history of three organisations of the example's own."""
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
                basis = pick_basis(draw, target["type"])
                if draw(st.booleans()):
                    change["occurred_on"] = draw(edtf())
                if (not change and basis is None) or draw(st.booleans()):
                    change["data"] = data_for(draw, target["type"], orgs)
                payload = {
                    "type": "corrected",
                    "data": {"target": index, "reason": "fix", **change},
                }
                if basis is not None:
                    payload["basis"] = basis
            steps.append((org, payload))
            continue
        org = draw(st.sampled_from(orgs))
        kind = draw(st.sampled_from(HISTORICAL))
        earlier = [(p["type"], p["data"]) for o, p in steps if o == org]
        data = echo(draw, kind, earlier) or data_for(draw, kind, orgs)
        if kind == "office_holder_appointed" and draw(st.integers(0, 2)) == 0:
            data["replaces_role"] = continued_role(draw, data["role"], earlier)
        payload = {"type": kind, "occurred_on": draw(edtf()), "data": data}
        if (basis := pick_basis(draw, kind)) is not None:
            payload["basis"] = basis
        steps.append((org, payload))
    return History(
        orgs,
        steps,
        draw(st.lists(level0(), max_size=4)),
        draw(st.lists(st.floats(0, 1), max_size=2)),
    )


@st.composite
def level0(draw: st.DrawFn) -> str:
    """An `at`: a year, month or day around the histories' dates."""
    text = str(draw(st.integers(YEARS.start - 1, YEARS.stop)))
    if draw(st.booleans()):
        text += f"-{draw(st.integers(1, 12)):02d}"
        if draw(st.booleans()):
            text += f"-{draw(st.integers(1, 28)):02d}"
    return text


def echo(draw: st.DrawFn, kind: str, earlier: list[tuple[str, dict[str, Any]]]) -> Any:
    """Two times in three, data that speaks of a value an earlier event of the organisation named
    (the same name, holder, member or parent, or the holder or member it named leaving), so
    that values are attested again, changed to again, ended and taken up again."""
    source = ECHOES.get(kind)
    named = [data for other, data in earlier if other in (source, kind)]
    if not named or draw(st.integers(0, 2)) == 0:
        return None
    data = copy.deepcopy(draw(st.sampled_from(named)))
    if kind == "office_holder_left" and "person" in data:
        return {"role": data["role"], "person_id": data["person"]["id"]}
    if kind == "member_left" and "member" in data:
        return {"member_id": data["member"]["id"]}
    return data


def continued_role(draw: st.DrawFn, role: str, earlier: list[tuple[str, Any]]) -> str:
    """A role other than `role` for an appointment to continue: mostly one the organisation's
    earlier office events named."""
    named = {data["role"] for kind, data in earlier if kind.startswith("office_holder")}
    others = sorted(named - {role}) or [other for other in ROLES if other != role]
    return draw(st.sampled_from(others))


ECHOES = {
    "founded": "renamed",
    "renamed": "founded",
    "office_holder_left": "office_holder_appointed",
    "member_left": "member_joined",
    "disaffiliated": "affiliated",
}
"""The type whose data an event of this type may speak of again (besides its own type)."""


def pick_basis(draw: st.DrawFn, kind: str) -> str | None:
    """A basis for an event (or a correction) of this type, where the type takes one."""
    return draw(st.sampled_from(BASES)) if kind in BASIS_TYPES else None


def record_history(services: Services, steps: list[tuple[str, dict[str, Any]]]) -> list[dict]:
    """Append the steps; the second half lands unprojected and is caught up afterwards."""
    stored: list[dict] = []
    retracted: set[int] = set()
    recorder = services.app.timeline_recorder
    for number, (org, payload) in enumerate(copy.deepcopy(steps)):
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


def questions(history: History, stored: list[dict]) -> tuple[list[str], list[str | None]]:
    """The history's `at`s and some fixed ones; now and recording times within the history."""
    ats = ["1997", "1999", "2000-06-15", "2001-12", "2002-01-31", "2003", *history.ats]
    stamps = [e["recorded_at"] for e in stored if e]
    known: list[str | None] = [None]
    if stamps:
        known += [stamps[len(stamps) // 2]]
        known += [stamps[min(int(m * len(stamps)), len(stamps) - 1)] for m in history.moments]
    return ats, known


def assert_equivalent(services: Services, history: History, stored: list[dict]) -> None:
    orgs = history.orgs
    ats, known = questions(history, stored)
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


def appointed(role: str, person: str, **more: Any) -> dict[str, Any]:
    return {"role": role, "person": {"id": person, "name": person.upper()}, **more}


def event(kind: str, occurred_on: str, data: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": kind, "occurred_on": occurred_on, "data": data, **more}


ATTESTED = {"basis": "attestation"}
RARE = History(
    ["rare-a", "rare-b", "rare-c"],
    [
        ("rare-a", event("founded", "1997", {"name": "Alpha", "acronym": "A"})),
        ("rare-a", event("office_holder_appointed", "1998", appointed("President", "p-one"))),
        ("rare-a", event("office_holder_appointed", "1999-05", appointed("President", "p-one"))),
        ("rare-a", event("office_holder_appointed", "2000", appointed("President", "p-two"))),
        (
            "rare-a",
            event("office_holder_left", "2001-03", {"role": "President", "person_id": "p-two"}),
        ),
        (
            "rare-a",
            event(
                "office_holder_appointed",
                "2002",
                appointed("Director", "p-three", replaces_role="President"),
                **ATTESTED,
            ),
        ),
        ("rare-a", event("office_holder_appointed", "1999", appointed("Secretary", "p-one"))),
        (
            "rare-a",
            event(
                "office_holder_appointed", "2000-04", appointed("Secretary", "p-two"), **ATTESTED
            ),
        ),
        (
            "rare-a",
            event("office_holder_appointed", "2001", appointed("Secretary", "p-two"), **ATTESTED),
        ),
        ("rare-a", event("office_holder_appointed", "2001-06", appointed("Secretary", "p-two"))),
        ("rare-a", event("renamed", "1999", {"name": "Alpha", "language": "fr-CA"}, **ATTESTED)),
        ("rare-a", event("renamed", "2000", {"name": "Beta", "acronym": "B", "language": "FR"})),
        ("rare-a", event("renamed", "2001", {"name": "Beta", "language": "fr"}, **ATTESTED)),
        ("rare-b", event("renamed", "1998", {"name": "Gamma", "language": "es"}, **ATTESTED)),
        ("rare-b", event("affiliated", "1999", {"parent": "rare-a"}, **ATTESTED)),
        ("rare-b", event("affiliated", "2000", {"parent": "rare-a"})),
        ("rare-b", event("disaffiliated", "2001", {"parent": "rare-a"})),
        ("rare-b", event("affiliated", "2002", {"parent": "rare-a"}, **ATTESTED)),
        (
            "rare-b",
            event("member_joined", "1999", {"member": {"id": "m-one", "name": "M"}}, **ATTESTED),
        ),
        ("rare-b", event("member_joined", "2000", {"member": {"id": "m-one", "name": "N"}})),
        ("rare-b", event("member_left", "2001", {"member_id": "m-one"})),
        (
            "rare-b",
            event("member_joined", "2002", {"member": {"id": "m-one", "name": "O"}}, **ATTESTED),
        ),
        (
            "rare-c",
            event(
                "figures_reported",
                "2000",
                {"figures": {"jobs": 5, "members": 3}, "qualifiers": {"jobs": "about"}},
            ),
        ),
        ("rare-c", event("headquarters_moved", "1999", {"location": "Geneva"}, **ATTESTED)),
        (
            "rare-c",
            {"type": "corrected", "data": {"target": 23, "reason": "fix"}, "basis": "change"},
        ),
        ("rare-a", {"type": "corrected", "data": {"target": 3, "reason": "fix"}, **ATTESTED}),
    ],
    ["1999", "2000-06", "2001-12", "2002"],
    [0.3, 0.9],
)
"""Rules that random histories reach only now and then: an attested successor, a leaving
followed by a role that continues the one left, a value attested, changed to, ended and
attested again, names in several languages, a qualified figure, corrections of a basis."""


@settings(
    max_examples=int(os.environ.get("TIMELINE_EQUIVALENCE_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
@example(history=RARE)
def test_the_read_model_answers_exactly_as_the_fold_incrementally_and_after_a_rebuild(
    shared_services, history
):
    stored = record_history(shared_services, history.steps)
    assert_equivalent(shared_services, history, stored)
    shared_services.rebuild_projections()
    assert_equivalent(shared_services, history, stored)
