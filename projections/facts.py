"""Facts: what one event says about one part of an organisation's state.

The read model stores each event version's facts in a table keyed by (facet, key) and date,
so that a state query can find, for each part of the state, the latest fact that counts at a
date with one index probe instead of replaying the stream. A *primary* facet holds the
values (a name in a language, an office's holder, a member, a figure); an `_end` facet holds
the events that end one (a holder leaving or a role continued by another, a member leaving, a
disaffiliation), keyed by what they end.

A primary fact also says how it is known (`basis`: a change or an attestation) and which
value it is about (`ident`): consecutive facts about the same value, in occurrence order, are
that value's *run*, and the run gives the value's `since` (its first change) and `attested`
(its attestations), each found by an index probe or an aggregate over the run's index range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from projections.records import EventView
from projections.state import before, document_entry, language_of, report_entry

FACTS_VERSION = 2
"""Bump whenever `facts_of` writes other facts or values: read models written before are
rebuilt (see `projections.readmodel.SHAPE`)."""

CHANGE, ATTESTATION = 0, 1
"""How `basis` is stored."""

RUN_FACETS = ("name", "acronym", "headquarters", "parent", "office", "member")
"""Primary facets whose values carry how they are known (`since`, `attested`)."""

NO_ACRONYM = ""
"""The `ident` of a founding's absent acronym (no acronym is ever empty text)."""

ANYONE = ""
"""The `subkey` of an `office_end` fact that ends whoever holds the role (`replaces_role`)."""

ENDED_BY_NAME = ("office", "parent")
"""Primary facets whose `_end` facts name the value they end in their `subkey` (a holder
leaving, a disaffiliation from a parent)."""

ENDED_FOR_ANYONE = ("office", "member")
"""Primary facets whose `_end` facts end whatever value is held (subkey ANYONE: a role
continued by another, a member leaving)."""

ONE_VALUE_PER_KEY = ("member",)
"""Primary facets whose facts of one key are always about the same value (`ident` is the
key), so a run never starts at a fact about another value."""


@dataclass(frozen=True)
class Fact:
    """One part of the state as one event sets it."""

    facet: str
    key: str = ""
    subkey: str = ""
    ref: str | None = None
    value: Any = None
    ident: str | None = None
    """Which value a primary fact is about: facts of one (facet, key) with the same ident in
    a row are one run. An `_end` fact ends the run whose ident is its subkey (or any run)."""
    attested: bool = False

    @property
    def primary(self) -> bool:
        """True for facets that hold a value; False for `_end` facets and documents."""
        return not self.facet.endswith("_end") and self.facet != "document"


def facts_of(view: EventView) -> list[Fact]:
    """The facts an event (as it counts now) states; milestones and amendments state none."""
    data, kind = view.data, view.record.type
    if kind in ("founded", "renamed"):
        return _named(view)
    simple = _SIMPLE.get(kind)
    if simple:
        return simple(view)
    if kind == "figures_reported":
        return [
            Fact("figure", name, value=report_entry(name, view, value))
            for name, value in data["figures"].items()
        ]
    return []


def _named(view: EventView) -> list[Fact]:
    """A name (and acronym) in the event's language: the other languages' are untouched; a
    founding without an acronym clears the language's acronym, a renaming keeps it."""
    data, language = view.data, language_of(view.data)
    facts = [_known("name", language, data["name"], view)]
    if "acronym" in data:
        facts.append(_known("acronym", language, data["acronym"], view))
    elif view.record.type == "founded":
        facts.append(Fact("acronym", language, value=None, ident=NO_ACRONYM))
    if view.record.type == "founded":
        facts.append(Fact("existence", value=True))
    return facts


def _known(
    facet: str, key: str, ident: str, view: EventView, value: Any = None, ref: str | None = None
) -> Fact:
    """A value a change sets or an attestation shows, named `ident` for its run (the value
    itself unless another is given)."""
    shown = ident if value is None else value
    return Fact(facet, key, ref=ref, value=shown, ident=ident, attested=view.is_attestation)


def _appointed(view: EventView) -> list[Fact]:
    data = view.data
    person, role = data["person"], data["role"]
    holder = {"role": role, "person": person, "replaces_role": data.get("replaces_role")}
    facts = [_known("office", role, person["id"], view, holder, ref=person["id"])]
    if data.get("replaces_role") is not None:
        assert view.occurred_on is not None
        ended_on = before(view.occurred_on) if view.is_attestation else view.occurred_on
        ending = {**_ending(view), "to": ended_on, "role": role}
        facts.append(Fact("office_end", data["replaces_role"], ANYONE, value=ending))
    return facts


def _left(view: EventView) -> list[Fact]:
    role, person = view.data["role"], view.data["person_id"]
    return [Fact("office_end", role, person, ref=person, value=_ending(view))]


def _member(view: EventView) -> list[Fact]:
    member = view.data["member"]
    return [_known("member", member["id"], member["id"], view, member)]


def _ending(view: EventView) -> dict[str, Any]:
    return {"occurred_on": view.occurred_on, "event_id": view.record.id}


_SIMPLE: dict[str, Callable[[EventView], list[Fact]]] = {
    "dissolved": lambda view: [Fact("existence", value=False)],
    "headquarters_moved": lambda view: [_known("headquarters", "", view.data["location"], view)],
    "office_holder_appointed": _appointed,
    "office_holder_left": _left,
    "member_joined": _member,
    "member_left": lambda view: [Fact("member_end", view.data["member_id"], value=_ending(view))],
    "document_adopted": lambda view: [Fact("document", value=document_entry(view))],
    "affiliated": lambda view: [
        _known("parent", "", view.data["parent"], view, ref=view.data["parent"])
    ],
    "disaffiliated": lambda view: [
        Fact("parent_end", subkey=view.data["parent"], ref=view.data["parent"], value=_ending(view))
    ],
}
