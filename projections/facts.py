"""Facts: what one event says about one part of an organisation's state.

The read model stores each event version's facts in a table keyed by (facet, key) and date,
so that a state query can find, for each part of the state, the latest fact that counts at a
date with one index probe instead of replaying the stream. A *primary* facet holds the
values (a name, an office's holder, a member, a figure); an `_end` facet holds the events
that end one (a holder leaving, a member leaving, a disaffiliation), keyed by what they end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from projections.records import EventView
from projections.state import document_entry, holder_entry, member_entry

FACTS_VERSION = 2
"""Bump whenever `facts_of` writes other facts or values: read models written before are
rebuilt (see `projections.readmodel.SHAPE`)."""

ENDED_FACETS = ("office", "parent")
"""Primary facets whose latest fact can be ended by a later `_end` fact naming its `ref`."""


@dataclass(frozen=True)
class Fact:
    """One part of the state as one event sets it."""

    facet: str
    key: str = ""
    subkey: str = ""
    ref: str | None = None
    value: Any = None

    @property
    def primary(self) -> bool:
        """True for facets that hold a value; False for `_end` facets and documents."""
        return not self.facet.endswith("_end") and self.facet != "document"


def facts_of(view: EventView) -> list[Fact]:
    """The facts an event (as it counts now) states; milestones and amendments state none."""
    data, kind = view.data, view.record.type
    if kind == "founded":
        return [
            Fact("name", value=data["name"]),
            Fact("acronym", value=data.get("acronym")),
            Fact("existence", value=True),
        ]
    if kind == "renamed":
        named = [Fact("name", value=data["name"])]
        return named + ([Fact("acronym", value=data["acronym"])] if "acronym" in data else [])
    simple = _SIMPLE.get(kind)
    if simple:
        return [simple(view)]
    if kind == "figures_reported":
        return [
            Fact("figure", name, value=_report(view, value))
            for name, value in data["figures"].items()
        ]
    return []


def _report(view: EventView, value: Any) -> dict[str, Any]:
    return {
        "value": value,
        "reported_on": view.occurred_on,
        "event_id": view.record.id,
        "sources": view.record.sources,
    }


def _ending(view: EventView) -> dict[str, Any]:
    return {"occurred_on": view.occurred_on, "event_id": view.record.id}


def _appointed(view: EventView) -> Fact:
    person = view.data["person"]
    role = view.data["role"]
    return Fact("office", role, ref=person["id"], value=holder_entry(role, view, person))


def _member(view: EventView) -> Fact:
    member = view.data["member"]
    return Fact("member", member["id"], value=member_entry(view, member))


_SIMPLE: dict[str, Callable[[EventView], Fact]] = {
    "dissolved": lambda view: Fact("existence", value=False),
    "headquarters_moved": lambda view: Fact("headquarters", value=view.data["location"]),
    "office_holder_appointed": _appointed,
    "office_holder_left": lambda view: Fact(
        "office_end",
        view.data["role"],
        view.data["person_id"],
        ref=view.data["person_id"],
        value=_ending(view),
    ),
    "member_joined": _member,
    "member_left": lambda view: Fact("member_end", view.data["member_id"], value=_ending(view)),
    "document_adopted": lambda view: Fact("document", value=document_entry(view)),
    "affiliated": lambda view: Fact("parent", ref=view.data["parent"], value=view.data["parent"]),
    "disaffiliated": lambda view: Fact(
        "parent_end", subkey=view.data["parent"], ref=view.data["parent"], value=_ending(view)
    ),
}
