"""A small builder of recorded histories for tests of the pure fold (no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from events.dates import period_end
from projections.people import office_steps, positions_from_steps
from projections.records import EventRecord, resolve
from projections.state import state_at

START = datetime(2026, 1, 1, tzinfo=UTC)


class History:
    """Events recorded one after another, a second apart, with service-wide positions."""

    def __init__(self) -> None:
        self.records: list[EventRecord] = []

    @property
    def clock(self) -> datetime:
        """The recording time of the latest event."""
        return START + timedelta(seconds=len(self.records))

    def add(
        self,
        kind: str,
        occurred_on: str | None,
        data: dict[str, Any] | None = None,
        *,
        org: str = "cicopa",
        sources: list[dict[str, Any]] | None = None,
        basis: str | None = None,
    ) -> EventRecord:
        """Record one event and return it."""
        version = 1 + sum(1 for r in self.records if r.organisation == org)
        record = EventRecord(
            organisation=org,
            id=str(uuid.uuid4()),
            type=kind,
            version=version,
            position=len(self.records) + 1,
            recorded_at=START + timedelta(seconds=len(self.records) + 1),
            recorded_by="test",
            occurred_on=occurred_on,
            data=data or {},
            sources=sources or [],
            basis=basis,
        )
        self.records.append(record)
        return record

    def retract(self, target: EventRecord, reason: str = "wrong") -> EventRecord:
        """Record a retraction of `target`."""
        return self.add(
            "retracted", None, {"event_id": target.id, "reason": reason}, org=target.organisation
        )

    def correct(self, target: EventRecord, basis: str | None = None, **fields: Any) -> EventRecord:
        """Record a correction of `target` with new `occurred_on`, `data` and/or `basis`."""
        return self.add(
            "corrected",
            None,
            {"event_id": target.id, "reason": "corrected", **fields},
            org=target.organisation,
            basis=basis,
        )

    def attest(self, kind: str, occurred_on: str, data: dict[str, Any], **kw: Any) -> EventRecord:
        """Record an attestation: a source shows the fact held on `occurred_on`."""
        return self.add(kind, occurred_on, data, basis="attestation", **kw)

    def state(
        self, at: str, org: str = "cicopa", known_at: datetime | None = None
    ) -> dict[str, Any]:
        """The organisation's state at the end of `at`, as known at `known_at`."""
        return state_at(resolve(self.records, known_at), org, period_end(at), at, known_at)

    def positions(self, person: str, today: str = "2026-11-23") -> tuple[str | None, list[Any]]:
        """A person's positions as they count on `today`."""
        steps = office_steps(resolve(self.records), period_end(today))
        return positions_from_steps(steps, person)


def appointed(role: str, person: str, name: str | None = None) -> dict[str, Any]:
    """Data of an office_holder_appointed event."""
    return {"role": role, "person": {"id": person, "name": name or person.title()}}


def joined(member: str, country: str | None = None) -> dict[str, Any]:
    """Data of a member_joined event."""
    data: dict[str, Any] = {"id": member, "name": member.upper()}
    if country:
        data["country"] = country
    return {"member": data}
