"""A person's tenures: when they took a role and what ended it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from projections.records import EventView, Json
from projections.state import counts


@dataclass(frozen=True)
class OfficeStep:
    """An appointment to a role, or someone leaving it, at its place in occurrence order."""

    appointed: bool
    person_id: str
    person_name: str | None
    occurred_on: str
    order: tuple[int, int]


def tenures(steps: Sequence[OfficeStep], person: str) -> list[Json]:
    """The spans during which `person` held the role the steps (in occurrence order) are of.

    An appointment ends whoever held the role, with the appointment's own date; a leaving
    ends the tenure only of the person it names.
    """
    spans: list[Json] = []
    holder: tuple[str, str] | None = None
    for step in steps:
        ends_holder = step.appointed or (holder is not None and holder[0] == step.person_id)
        if holder is not None and ends_holder:
            if holder[0] == person:
                spans.append({"from": holder[1], "to": step.occurred_on})
            holder = None
        if step.appointed:
            holder = (step.person_id, step.occurred_on)
    if holder is not None and holder[0] == person:
        spans.append({"from": holder[1], "to": None})
    return spans


def positions_from_steps(
    steps_by_office: dict[tuple[str, str], list[OfficeStep]], person: str
) -> tuple[str | None, list[Json]]:
    """The person's name (from their latest appointment) and positions across organisations."""
    found: list[tuple[tuple[int, int], Json]] = []
    name: tuple[tuple[int, int], str] | None = None
    for (organisation, role), steps in sorted(steps_by_office.items()):
        for step in steps:
            mine = step.appointed and step.person_id == person and step.person_name
            if mine and step.person_name and (name is None or step.order >= name[0]):
                name = (step.order, step.person_name)
        starts = [s.order for s in steps if s.appointed and s.person_id == person]
        for start, span in zip(starts, tenures(steps, person), strict=True):
            found.append((start, {"organisation": organisation, "role": role, **span}))
    found.sort(key=lambda item: item[0])
    return (name[1] if name else None), [position for _, position in found]


def office_steps(
    views: Iterable[EventView], today: date
) -> dict[tuple[str, str], list[OfficeStep]]:
    """Every counted appointment and leaving, per (organisation, role), in occurrence order."""
    steps: dict[tuple[str, str], list[OfficeStep]] = {}
    for view in sorted(views, key=EventView.sort_key):
        kind = view.record.type
        if kind not in ("office_holder_appointed", "office_holder_left"):
            continue
        if not counts(view, today):
            continue
        appointed = kind == "office_holder_appointed"
        person = view.data["person"] if appointed else {"id": view.data["person_id"], "name": None}
        assert view.occurred_on is not None
        steps.setdefault((view.record.organisation, view.data["role"]), []).append(
            OfficeStep(appointed, person["id"], person["name"], view.occurred_on, _order(view))
        )
    return steps


def _order(view: EventView) -> tuple[int, int]:
    _, day, position = view.sort_key()
    return (day, position)
