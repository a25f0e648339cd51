"""Whole histories out of stored events: every tenure, membership and name an organisation has
had (not only those held at one date), each with how it is known and the sources that say so.

The folds reuse the state's own rules (`projections.state`): a tenure ends as it does in the
people endpoint, a name is replaced as it is in the state. Only events that count today are
applied, in occurrence order (the order the events list gives them in).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from projections.records import EventRecord, EventView
from projections.state import Known, Offices, Tenure, before, counts, language_of

Json = dict[str, Any]


def views_of(events: Iterable[Json]) -> list[EventView]:
    """Stored events (the contract's JSON, in occurrence order) as the folds read them; their
    place in the list stands for their recording position, which keeps the list's order."""
    views = []
    for index, event in enumerate(events):
        record = EventRecord(
            organisation=event["organisation"],
            id=event["id"],
            type=event["type"],
            version=event["version"],
            position=index,
            recorded_at=datetime.fromisoformat(event["recorded_at"].replace("Z", "+00:00")),
            recorded_by=event["recorded_by"],
            occurred_on=event.get("occurred_on"),
            data=event["data"],
            sources=list(event.get("sources") or []),
            note=event.get("note"),
            basis=event.get("basis"),
        )
        views.append(EventView(record, record.occurred_on, record.data, event["status"]))
    return views


def counted(views: Iterable[EventView], today: date) -> list[EventView]:
    """The events that count today, in occurrence order."""
    return sorted((v for v in views if counts(v, today)), key=EventView.sort_key)


@dataclass
class Held:
    """A fact with a beginning and perhaps an end: a tenure, a membership or a name."""

    organisation: str
    since: str | None
    attested: Json | None
    to: str | None
    sources: list[Json]


@dataclass
class TenureHeld(Held):
    """A person in a role of an organisation."""

    role: str = ""
    person: Json = field(default_factory=dict)
    replaces_role: str | None = None
    """The earlier-named role whose tenure the appointment that began it ended."""


@dataclass
class MembershipHeld(Held):
    """A member organisation of an organisation."""

    member: Json = field(default_factory=dict)


@dataclass
class NameHeld(Held):
    """A name of an organisation in one language, with the acronym its events gave."""

    language: str = "en"
    name: str = ""
    acronym: str | None = None


def tenures(views: Sequence[EventView], today: date) -> list[TenureHeld]:
    """Every tenure of every role of one organisation's events, in the order they began; each
    cites the events that began, confirmed or ended it."""
    offices, found = Offices(), []
    cited: dict[int, list[Json]] = {}
    continuing: dict[int, str] = {}
    for view in counted(views, today):
        if view.record.type not in ("office_holder_appointed", "office_holder_left"):
            continue
        role = view.data["role"]
        leaving = view.record.type == "office_holder_left"
        ended = len(offices.ended)
        offices.apply(view)
        touched = offices.ended[ended:] + ([] if leaving else [offices.holders[role]])
        for tenure in touched:
            if id(tenure) not in cited:
                found.append(tenure)
                if not leaving and view.data.get("replaces_role") and tenure.role == role:
                    continuing[id(tenure)] = view.data["replaces_role"]
            cited.setdefault(id(tenure), []).extend(view.record.sources)
    organisation = views[0].record.organisation if views else ""
    return [_tenure(organisation, t, cited[id(t)], continuing.get(id(t))) for t in found]


def _tenure(
    organisation: str, tenure: Tenure, sources: list[Json], replaces_role: str | None
) -> TenureHeld:
    held = tenure.held
    return TenureHeld(
        organisation,
        held.since,
        held.attested,
        tenure.to,
        unique(sources),
        role=tenure.role,
        person=dict(tenure.person),
        replaces_role=replaces_role,
    )


def memberships(views: Sequence[EventView], today: date) -> list[MembershipHeld]:
    """Every membership of a member organisation, ended ones included, in the order they
    began; `member_left` ends it, as it removes it from the state."""
    current: dict[str, tuple[Json, Known, list[Json]]] = {}
    found: list[MembershipHeld] = []
    for view in counted(views, today):
        data, kind = view.data, view.record.type
        if kind == "member_left" and data["member_id"] in current:
            member, known, sources = current.pop(data["member_id"])
            sources.extend(view.record.sources)
            found.append(_membership(view, member, known, sources, view.occurred_on))
        elif kind == "member_joined":
            member = data["member"]
            assert view.occurred_on is not None
            if member["id"] in current:
                known = current[member["id"]][1]
                known.confirm(view.occurred_on, view.is_attestation, {})
                current[member["id"]][2].extend(view.record.sources)
            else:
                known = Known.begun(member["id"], view.occurred_on, view.is_attestation, {})
                current[member["id"]] = (member, known, list(view.record.sources))
    for member, known, sources in current.values():
        found.append(_membership(views[0], member, known, sources, None))
    return found


def _membership(
    view: EventView, member: Json, known: Known, sources: list[Json], to: str | None
) -> MembershipHeld:
    organisation = view.record.organisation
    return MembershipHeld(
        organisation, known.since, known.attested, to, unique(sources), member=dict(member)
    )


def names(views: Sequence[EventView], today: date) -> list[NameHeld]:
    """Every name the organisation has had, per language, in the order they were first
    known: a name of another value in the same language ends it (an attested one at an
    unknown moment before the attestation, `../` its date)."""
    current: dict[str, tuple[NameHeld, Known]] = {}
    found: list[NameHeld] = []
    for view in counted(views, today):
        if view.record.type not in ("founded", "renamed"):
            continue
        data, language = view.data, language_of(view.data)
        assert view.occurred_on is not None
        held = current.get(language)
        if held is not None and held[1].value == data["name"]:
            held[1].confirm(view.occurred_on, view.is_attestation, {})
            held[0].sources.extend(view.record.sources)
            held[0].since, held[0].attested = held[1].since, held[1].attested
            continue
        if held is not None:
            ended = before(view.occurred_on) if view.is_attestation else view.occurred_on
            held[0].to = ended
        known = Known.begun(data["name"], view.occurred_on, view.is_attestation, {})
        entry = NameHeld(
            view.record.organisation,
            known.since,
            known.attested,
            None,
            list(view.record.sources),
            language=language,
            name=data["name"],
            acronym=data.get("acronym"),
        )
        current[language] = (entry, known)
        found.append(entry)
    for entry in found:
        entry.sources = unique(entry.sources)
    return found


def latest(views: Sequence[EventView], today: date, kind: str) -> EventView | None:
    """The latest counted event of a kind (`founded`, `dissolved`), in occurrence order."""
    found = [view for view in counted(views, today) if view.record.type == kind]
    return found[-1] if found else None


def unique(sources: Iterable[Json]) -> list[Json]:
    """Each source once (the same title, URL and file), in the order first cited."""
    seen, kept = set(), []
    for source in sources:
        key = (source.get("title"), source.get("url"), source.get("file"))
        if key not in seen:
            seen.add(key)
            kept.append(source)
    return kept
