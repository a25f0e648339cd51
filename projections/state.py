"""The state of an organisation at a date: a pure fold of its events in occurrence order.

This module is the reference meaning of every question the contract asks. The SQL read
model answers the same questions without replaying streams, and is tested against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from projections.records import EventView, Json, format_timestamp


def counts(view: EventView, at_end: date) -> bool:
    """An event counts for `at` when the whole of its date range has ended by `at`'s end."""
    last = view.last_day
    return last is not None and view.status != "retracted" and last <= at_end


def is_uncertain(view: EventView, at_end: date) -> bool:
    """It may or may not have happened by `at`: its range starts by `at`'s end but ends after
    (an unbounded first day is before every date, an unbounded last day after every date)."""
    if view.occurred_on is None or view.status == "retracted":
        return False
    first, last = view.first_day, view.last_day
    return (first is None or first <= at_end) and (last is None or at_end < last)


def cite(view: EventView) -> Json:
    """The fields that tie a fact in the state to the event that says so."""
    return {"event_id": view.record.id, "sources": view.record.sources}


def language_of(data: Json) -> str:
    """The language of a name event: its tag's primary subtag, lower-cased (`en` if none)."""
    tag: str = data.get("language") or "en"
    return tag.split("-", 1)[0].lower()


def end_side(occurred_on: str) -> str:
    """The end side of an EDTF date: `2003` of `1998/2003`, the date itself if it is plain."""
    return occurred_on.rsplit("/", 1)[-1]


def before(occurred_on: str) -> str:
    """EDTF for "on or before" the end of `occurred_on`: `../2018-02`."""
    return f"../{end_side(occurred_on)}"


@dataclass
class Known:
    """A value of the state and how it is known: the change that began it (`since`, or None
    when only attestations show it), the attestations of it since, and the latest event (in
    occurrence order) that set or attested it."""

    value: Any
    since: str | None
    attested_on: list[str]
    cited: Json

    @classmethod
    def begun(cls, value: Any, occurred_on: str, attestation: bool, cited: Json) -> Known:
        """A value a change began, or one an attestation shows with no known start."""
        if attestation:
            return cls(value, None, [occurred_on], cited)
        return cls(value, occurred_on, [], cited)

    def confirm(self, occurred_on: str, attestation: bool, cited: Json) -> None:
        """Another event sets or attests the value held: an attestation adds to its evidence,
        a change gives it a `since` if it had none."""
        if attestation:
            self.attested_on.append(occurred_on)
        elif self.since is None:
            self.since = occurred_on
        self.cited = cited

    @property
    def attested(self) -> Json | None:
        """`{"first", "last", "count"}` of the attestations, or None."""
        if not self.attested_on:
            return None
        first, last = self.attested_on[0], self.attested_on[-1]
        return {"first": first, "last": last, "count": len(self.attested_on)}

    def provenance(self) -> Json:
        """How the value is known, as the state shows it beside the value."""
        return {"since": self.since, "attested": self.attested, **self.cited}


def evidence(current: Known | None, value: Any, view: EventView) -> Known:
    """The value after `view` sets or attests `value`, given the value held (or None)."""
    assert view.occurred_on is not None
    if current is not None and current.value == value:
        current.confirm(view.occurred_on, view.is_attestation, cite(view))
        return current
    return Known.begun(value, view.occurred_on, view.is_attestation, cite(view))


@dataclass
class Tenure:
    """A person holding a role: how it is known, and what ended it (None while held)."""

    role: str
    person: Json
    held: Known
    order: Any
    """Where the event that began it sits in occurrence order."""
    to: str | None = None


@dataclass
class Offices:
    """Who holds each role of one organisation, the tenures ended so far, and the roles left
    with no known holder, as appointments and leavings are applied in occurrence order."""

    holders: dict[str, Tenure] = field(default_factory=dict)
    unknown: dict[str, Json] = field(default_factory=dict)
    ended: list[Tenure] = field(default_factory=list)

    def appoint(
        self,
        role: str,
        person: Json,
        occurred_on: str,
        *,
        attestation: bool = False,
        replaces_role: str | None = None,
        cited: Json | None = None,
        order: Any = None,
    ) -> None:
        """An appointment, or an attestation of who held the role: a holder it replaces ends
        with its date (an attestation's: `../` its end side), and the role has a holder."""
        cited = cited if cited is not None else {}
        ended_on = before(occurred_on) if attestation else occurred_on
        held = self.holders.get(role)
        if held is not None and held.person["id"] == person["id"]:
            held.held.confirm(occurred_on, attestation, cited)
            held.person = person  # as the latest event that set or attested it names them
        else:
            if held is not None:
                self._end(held, ended_on)
            known = Known.begun(person["id"], occurred_on, attestation, cited)
            self.holders[role] = Tenure(role, person, known, order)
        self.unknown.pop(role, None)
        if replaces_role is not None:
            earlier = self.holders.pop(replaces_role, None)
            if earlier is not None:
                self._end(earlier, ended_on)
            self.unknown.pop(replaces_role, None)

    def leave(self, role: str, person_id: str, occurred_on: str) -> None:
        """The holder named leaves: the role has no known holder from then on."""
        held = self.holders.get(role)
        if held is None or held.person["id"] != person_id:
            return
        del self.holders[role]
        self._end(held, occurred_on)
        last_holder = {"id": held.person["id"], "name": held.person["name"]}
        self.unknown[role] = {"role": role, "since": occurred_on, "last_holder": last_holder}

    def _end(self, tenure: Tenure, occurred_on: str) -> None:
        tenure.to = occurred_on
        self.ended.append(tenure)

    def apply(self, view: EventView) -> None:
        """Apply an `office_holder_appointed` or `office_holder_left` event."""
        data = view.data
        assert view.occurred_on is not None
        if view.record.type == "office_holder_left":
            self.leave(data["role"], data["person_id"], view.occurred_on)
            return
        self.appoint(
            data["role"],
            data["person"],
            view.occurred_on,
            attestation=view.is_attestation,
            replaces_role=data.get("replaces_role"),
            cited=cite(view),
            order=view.sort_key(),
        )


@dataclass
class Membership:
    """A member organisation as first listed, and how its membership is known."""

    member: Json
    held: Known
    order: Any


@dataclass
class Fold:
    """The state being built as counted events are applied one by one, in occurrence order."""

    any_counted: bool = False
    existence: bool | None = None
    names: dict[str, Known] = field(default_factory=dict)
    acronyms: dict[str, Known | None] = field(default_factory=dict)
    last_language: str | None = None
    headquarters_known: Known | None = None
    parent_known: Known | None = None
    offices: Offices = field(default_factory=Offices)
    memberships: dict[str, Membership] = field(default_factory=dict)
    reports: dict[str, list[tuple[EventView, Any]]] = field(default_factory=dict)
    documents: list[EventView] = field(default_factory=list)

    def apply(self, view: EventView) -> None:
        """Apply one counted event."""
        self.any_counted = True
        data, kind = view.data, view.record.type
        if kind in ("founded", "renamed"):
            self._apply_name(view)
            if kind == "founded":
                self.existence = True
        elif kind == "dissolved":
            self.existence = False
        elif kind == "headquarters_moved":
            self.headquarters_known = evidence(self.headquarters_known, data["location"], view)
        elif kind in ("office_holder_appointed", "office_holder_left"):
            self.offices.apply(view)
        elif kind in ("member_joined", "member_left"):
            self._apply_membership(view)
        elif kind == "figures_reported":
            for name, value in data["figures"].items():
                self.reports.setdefault(name, []).append((view, value))
        elif kind == "document_adopted":
            self.documents.append(view)
        elif kind == "affiliated":
            self.parent_known = evidence(self.parent_known, data["parent"], view)
        elif kind == "disaffiliated" and self.parent == data["parent"]:
            self.parent_known = None

    def _apply_name(self, view: EventView) -> None:
        """A name in one language replaces only that language's name; without an acronym, a
        renaming keeps the language's acronym and a founding clears it."""
        data = view.data
        language = language_of(data)
        self.names[language] = evidence(self.names.get(language), data["name"], view)
        if "acronym" in data:
            self.acronyms[language] = evidence(self.acronyms.get(language), data["acronym"], view)
        elif view.record.type == "founded":
            self.acronyms[language] = None
        self.last_language = language

    def _apply_membership(self, view: EventView) -> None:
        data = view.data
        if view.record.type == "member_left":
            self.memberships.pop(data["member_id"], None)
            return
        member = data["member"]
        held = self.memberships.get(member["id"])
        if held is None:
            known = evidence(None, member["id"], view)
            self.memberships[member["id"]] = Membership(member, known, view.sort_key())
        else:
            evidence(held.held, member["id"], view)

    @property
    def language(self) -> str | None:
        """The language the state's `name` and `acronym` are in: English, else the latest."""
        return "en" if "en" in self.names else self.last_language

    @property
    def name(self) -> str | None:
        """The name in the state's language."""
        known = self.names.get(self.language) if self.language else None
        return known.value if known else None

    @property
    def acronym(self) -> str | None:
        """The acronym in the state's language."""
        known = self.acronyms.get(self.language) if self.language else None
        return known.value if known else None

    @property
    def headquarters(self) -> str | None:
        """The headquarters held."""
        return self.headquarters_known.value if self.headquarters_known else None

    @property
    def parent(self) -> str | None:
        """The parent organisation held."""
        return self.parent_known.value if self.parent_known else None

    @property
    def exists(self) -> bool:
        """True once any event counts, unless the latest founding-or-dissolution dissolved it."""
        return self.any_counted and self.existence is not False

    def names_json(self) -> Json:
        """Every language's name and acronym."""
        return {
            language: {"name": known.value, "acronym": _value(self.acronyms.get(language))}
            for language, known in sorted(self.names.items())
        }

    def provenance(self) -> Json:
        """How each of name, acronym, headquarters and parent is known, for those held."""
        language = self.language
        fields = {
            "name": self.names.get(language) if language else None,
            "acronym": self.acronyms.get(language) if language else None,
            "headquarters": self.headquarters_known,
            "parent": self.parent_known,
        }
        return {name: known.provenance() for name, known in fields.items() if known is not None}


def _value(known: Known | None) -> Any:
    return known.value if known is not None else None


def fold(views: Iterable[EventView], at_end: date) -> tuple[Fold, list[EventView]]:
    """Apply the counted events in occurrence order; return the fold and the uncertain events."""
    result, uncertain = Fold(), []
    for view in sorted(views, key=EventView.sort_key):
        if counts(view, at_end):
            result.apply(view)
        elif is_uncertain(view, at_end):
            uncertain.append(view)
    return result, uncertain


def figure_entry(name: str, reports: Sequence[tuple[EventView, Any]]) -> Json:
    """A figure's latest report, with every report whose date range overlaps it."""
    latest, value = reports[-1]
    overlapping = [
        report_entry(name, other, other_value)
        for other, other_value in reports
        if overlaps(other, latest)
    ]
    return {**report_entry(name, latest, value), "reports": overlapping}


def overlaps(one: EventView, other: EventView) -> bool:
    """True when two counted events' date ranges share a day (an unbounded first day is
    before every date; a counted event's last day is always bounded)."""
    assert one.last_day is not None and other.last_day is not None
    return (one.first_day is None or one.first_day <= other.last_day) and (
        other.first_day is None or other.first_day <= one.last_day
    )


def report_entry(name: str, view: EventView, value: Any) -> Json:
    """One report of a figure, with its qualifier (None when the figure is exact)."""
    return {
        "value": value,
        "qualifier": view.data.get("qualifiers", {}).get(name),
        "reported_on": view.occurred_on,
        **cite(view),
    }


def holder_json(role: str, person: Json, held: Known) -> Json:
    """An office holder as the state lists them, with how their tenure is known."""
    return {"role": role, "person": person, **held.provenance()}


def holder_entry(role: str, view: EventView, person: Json) -> Json:
    """An office holder as one appointment alone shows them."""
    return holder_json(role, person, evidence(None, person["id"], view))


def member_json(member: Json, held: Known) -> Json:
    """A member organisation as the state lists it, with how its membership is known."""
    return {
        "id": member["id"],
        "name": member["name"],
        "country": member.get("country"),
        **held.provenance(),
    }


def member_entry(view: EventView, member: Json) -> Json:
    """A member organisation as one joining alone shows it."""
    return member_json(member, evidence(None, member["id"], view))


def document_entry(view: EventView) -> Json:
    """A document adopted, at one stage of its adoption."""
    data = view.data
    return {
        "title": data["title"],
        "stage": data.get("stage"),
        "kind": data.get("kind"),
        "body": data.get("body"),
        "place": data.get("place"),
        "occurred_on": view.occurred_on,
        **cite(view),
    }


def state_json(
    organisation: str,
    at_label: str,
    known_at: datetime | None,
    result: Fold,
    uncertain: Sequence[EventView],
    sub_organisations: Sequence[Json],
) -> Json:
    """The state in the contract's shape; lists are in occurrence order."""
    holders = sorted(result.offices.holders.values(), key=lambda tenure: tenure.order)
    members = sorted(result.memberships.values(), key=lambda membership: membership.order)
    sorted_reports = sorted(result.reports.items())
    return {
        "organisation": organisation,
        "at": at_label,
        "known_at": format_timestamp(known_at) if known_at else None,
        "exists": result.exists,
        "name": result.name,
        "acronym": result.acronym,
        "headquarters": result.headquarters,
        "parent": result.parent,
        "names": result.names_json(),
        "provenance": result.provenance(),
        "office_holders": [holder_json(t.role, t.person, t.held) for t in holders],
        "roles_without_known_holder": list(result.offices.unknown.values()),
        "members": [member_json(m.member, m.held) for m in members],
        "figures": {name: figure_entry(name, reports) for name, reports in sorted_reports},
        "documents": [document_entry(view) for view in result.documents],
        "sub_organisations": list(sub_organisations),
        "uncertain": [view.to_json() for view in uncertain],
    }


def state_at(
    views: Sequence[EventView],
    organisation: str,
    at_end: date,
    at_label: str,
    known_at: datetime | None = None,
) -> Json:
    """The state of `organisation` at the end of `at`, from every organisation's resolved events.

    `views` are the events of all organisations as they count at `known_at` (see
    `records.resolve`); other organisations are needed for `sub_organisations`.
    """
    by_org: dict[str, list[EventView]] = {}
    for view in views:
        if not view.record.is_amendment:
            by_org.setdefault(view.record.organisation, []).append(view)
    result, uncertain = fold(by_org.get(organisation, []), at_end)
    children = []
    for other, other_views in sorted(by_org.items()):
        if other != organisation:
            other_fold, _ = fold(other_views, at_end)
            if other_fold.parent == organisation:
                children.append({"id": other, "name": other_fold.name})
    return state_json(organisation, at_label, known_at, result, uncertain, children)


LIST_FIELDS = ("office_holders", "members", "documents", "sub_organisations")
SINGLE_FIELDS = ("exists", "name", "acronym", "headquarters", "parent")
IDENTITY: dict[str, tuple[str, ...]] = {
    "office_holders": ("role", "person", "since"),
    "members": ("id", "since"),
}
"""What makes two list items the same for the diff: a holder or member whose evidence grew
(more attestations, a later source) has not changed."""


def diff_states(before: Json, after: Json) -> Json:
    """What changed from one state to another: only the fields that changed."""
    changes: Json = {}
    for name in SINGLE_FIELDS:
        if before[name] != after[name]:
            changes[name] = {"before": before[name], "after": after[name]}
    names = _diff_names(before.get("names", {}), after.get("names", {}))
    if names:
        changes["names"] = names
    for name in LIST_FIELDS:
        old_items, new_items = before[name], after[name]
        identity = _identity(IDENTITY.get(name))
        old_keys = [identity(item) for item in old_items]
        new_keys = [identity(item) for item in new_items]
        added = [item for item in new_items if identity(item) not in old_keys]
        removed = [item for item in old_items if identity(item) not in new_keys]
        if added or removed:
            changes[name] = {"added": added, "removed": removed}
    figures = _diff_figures(before["figures"], after["figures"])
    if figures:
        changes["figures"] = figures
    return changes


def _identity(keys: tuple[str, ...] | None) -> Any:
    if keys is None:
        return lambda item: item
    return lambda item: [item.get(key) for key in keys]


def _diff_names(before: Json, after: Json) -> Json:
    """Each language whose name or acronym changed: `{language: {"before", "after"}}`."""
    return {
        language: {"before": before.get(language), "after": after.get(language)}
        for language in sorted(set(before) | set(after))
        if before.get(language) != after.get(language)
    }


def _diff_figures(before: Json, after: Json) -> Json:
    """Each figure whose value or qualifier changed, with both qualifiers."""
    figures = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, {}), after.get(name, {})
        if (old.get("value"), old.get("qualifier")) != (new.get("value"), new.get("qualifier")):
            figures[name] = {
                "before": old.get("value"),
                "after": new.get("value"),
                "before_qualifier": old.get("qualifier"),
                "after_qualifier": new.get("qualifier"),
            }
    return figures
