"""A person's tenures: when they took a role, how that is known, and what ended it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from projections.records import EventView, Json
from projections.state import Offices, counts


@dataclass(frozen=True)
class OfficeStep:
    """An appointment to a role (or an attestation of who held it), or someone leaving it,
    at its place in occurrence order."""

    appointed: bool
    person_id: str
    person_name: str | None
    occurred_on: str
    order: tuple[int, int]
    attested: bool = False
    replaces_role: str | None = None


def offices_of(steps: Sequence[tuple[str, OfficeStep]]) -> Offices:
    """One organisation's offices after its (role, step) pairs, in occurrence order."""
    offices = Offices()
    for role, step in steps:
        if step.appointed:
            offices.appoint(
                role,
                {"id": step.person_id, "name": step.person_name},
                step.occurred_on,
                attestation=step.attested,
                replaces_role=step.replaces_role,
                order=step.order,
            )
        else:
            offices.leave(role, step.person_id, step.occurred_on)
    return offices


def positions_from_steps(
    steps_by_office: dict[tuple[str, str], list[OfficeStep]], person: str
) -> tuple[str | None, list[Json]]:
    """The person's name (from their latest appointment) and positions across organisations.

    The steps of each organisation's roles are taken together, in occurrence order, because an
    appointment may end another role's tenure (`replaces_role`).
    """
    by_organisation: dict[str, list[tuple[str, OfficeStep]]] = {}
    name: tuple[tuple[int, int], str] | None = None
    for (organisation, role), steps in sorted(steps_by_office.items()):
        for step in steps:
            by_organisation.setdefault(organisation, []).append((role, step))
            mine = step.appointed and step.person_id == person and step.person_name
            if mine and step.person_name and (name is None or step.order >= name[0]):
                name = (step.order, step.person_name)
    found: list[tuple[tuple[int, int], Json]] = []
    for organisation, pairs in sorted(by_organisation.items()):
        offices = offices_of(sorted(pairs, key=lambda pair: pair[1].order))
        for tenure in [*offices.ended, *offices.holders.values()]:
            if tenure.person["id"] != person:
                continue
            position = {
                "organisation": organisation,
                "role": tenure.role,
                "from": tenure.held.since,
                "to": tenure.to,
                "attested": tenure.held.attested,
            }
            found.append((tenure.order, position))
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
            OfficeStep(
                appointed,
                person["id"],
                person["name"],
                view.occurred_on,
                _order(view),
                view.is_attestation,
                view.data.get("replaces_role"),
            )
        )
    return steps


def _order(view: EventView) -> tuple[int, int]:
    _, day, position = view.sort_key()
    return (day, position)
