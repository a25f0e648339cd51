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
    """An event counts for `at` when the whole of its date range has ended by `at`'s end
    (a range with no last day never has)."""
    when = view.when
    return when is not None and view.status != "retracted" and when.counts_at(at_end)


def is_uncertain(view: EventView, at_end: date) -> bool:
    """It may or may not have happened by `at`: its range starts by `at`'s end (or has no
    first day) but ends after it (or has no last day)."""
    when = view.when
    return when is not None and view.status != "retracted" and when.uncertain_at(at_end)


def cite(view: EventView) -> Json:
    """The fields that tie a fact in the state to the event that says so."""
    return {"event_id": view.record.id, "sources": view.record.sources}


@dataclass
class Fold:
    """The state being built as counted events are applied one by one, in occurrence order."""

    any_counted: bool = False
    existence: bool | None = None
    name: str | None = None
    acronym: str | None = None
    headquarters: str | None = None
    parent: str | None = None
    holders: dict[str, tuple[EventView, Json]] = field(default_factory=dict)
    members: dict[str, tuple[EventView, Json]] = field(default_factory=dict)
    reports: dict[str, list[tuple[EventView, Any]]] = field(default_factory=dict)
    documents: list[EventView] = field(default_factory=list)

    def apply(self, view: EventView) -> None:
        """Apply one counted event."""
        self.any_counted = True
        data, kind = view.data, view.record.type
        if kind in ("founded", "renamed"):
            self.name = data["name"]
            if kind == "founded" or "acronym" in data:
                self.acronym = data.get("acronym")
            if kind == "founded":
                self.existence = True
        elif kind == "dissolved":
            self.existence = False
        elif kind == "headquarters_moved":
            self.headquarters = data["location"]
        elif kind in ("office_holder_appointed", "office_holder_left"):
            self._apply_office(view)
        elif kind in ("member_joined", "member_left"):
            self._apply_membership(view)
        elif kind == "figures_reported":
            for name, value in data["figures"].items():
                self.reports.setdefault(name, []).append((view, value))
        elif kind == "document_adopted":
            self.documents.append(view)
        elif kind == "affiliated":
            self.parent = data["parent"]
        elif kind == "disaffiliated" and self.parent == data["parent"]:
            self.parent = None

    def _apply_office(self, view: EventView) -> None:
        data = view.data
        if view.record.type == "office_holder_appointed":
            self.holders[data["role"]] = (view, data["person"])
            return
        held = self.holders.get(data["role"])
        if held and held[1]["id"] == data["person_id"]:
            del self.holders[data["role"]]

    def _apply_membership(self, view: EventView) -> None:
        data = view.data
        if view.record.type == "member_left":
            self.members.pop(data["member_id"], None)
        elif data["member"]["id"] not in self.members:
            self.members[data["member"]["id"]] = (view, data["member"])

    @property
    def exists(self) -> bool:
        """True once any event counts, unless the latest founding-or-dissolution dissolved it."""
        return self.any_counted and self.existence is not False


def fold(views: Iterable[EventView], at_end: date) -> tuple[Fold, list[EventView]]:
    """Apply the counted events in occurrence order; return the fold and the uncertain events."""
    result, uncertain = Fold(), []
    for view in sorted(views, key=EventView.sort_key):
        if counts(view, at_end):
            result.apply(view)
        elif is_uncertain(view, at_end):
            uncertain.append(view)
    return result, uncertain


def figure_entry(reports: Sequence[tuple[EventView, Any]]) -> Json:
    """A figure's latest report, with every report whose date range overlaps it."""
    latest, value = reports[-1]
    assert latest.when is not None
    overlapping = [
        {"value": other_value, "reported_on": other.occurred_on, **cite(other)}
        for other, other_value in reports
        if other.when is not None and other.when.overlaps(latest.first_day, latest.last_day)
    ]
    return {
        "value": value,
        "reported_on": latest.occurred_on,
        **cite(latest),
        "reports": overlapping,
    }


def holder_entry(role: str, view: EventView, person: Json) -> Json:
    """An office holder as the state lists them."""
    return {"role": role, "person": person, "since": view.occurred_on, **cite(view)}


def member_entry(view: EventView, member: Json) -> Json:
    """A member organisation as the state lists it."""
    return {
        "id": member["id"],
        "name": member["name"],
        "country": member.get("country"),
        "since": view.occurred_on,
        **cite(view),
    }


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
    holders = sorted(result.holders.items(), key=lambda item: item[1][0].sort_key())
    members = sorted(result.members.values(), key=lambda item: item[0].sort_key())
    return {
        "organisation": organisation,
        "at": at_label,
        "known_at": format_timestamp(known_at) if known_at else None,
        "exists": result.exists,
        "name": result.name,
        "acronym": result.acronym,
        "headquarters": result.headquarters,
        "parent": result.parent,
        "office_holders": [holder_entry(role, view, person) for role, (view, person) in holders],
        "members": [member_entry(view, member) for view, member in members],
        "figures": {name: figure_entry(result.reports[name]) for name in sorted(result.reports)},
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


def diff_states(before: Json, after: Json) -> Json:
    """What changed from one state to another: only the fields that changed."""
    changes: Json = {}
    for name in SINGLE_FIELDS:
        if before[name] != after[name]:
            changes[name] = {"before": before[name], "after": after[name]}
    for name in LIST_FIELDS:
        added = [item for item in after[name] if item not in before[name]]
        removed = [item for item in before[name] if item not in after[name]]
        if added or removed:
            changes[name] = {"added": added, "removed": removed}
    figures = {}
    for name in sorted(set(before["figures"]) | set(after["figures"])):
        old = before["figures"].get(name, {}).get("value")
        new = after["figures"].get(name, {}).get("value")
        if old != new:
            figures[name] = {"before": old, "after": new}
    if figures:
        changes["figures"] = figures
    return changes
