"""Events as the read side sees them: where they sit in the log, and how they count now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from events.dates import EDTFDate
from events.validation import AMENDMENT_TYPES, BASIS_TYPES

Json = dict[str, Any]


@dataclass(frozen=True)
class EventRecord:
    """One recorded event: its content as recorded, plus its place in the log."""

    organisation: str
    id: str
    type: str
    version: int
    position: int
    """The service-wide recording order (the notification id)."""
    recorded_at: datetime
    recorded_by: str
    occurred_on: str | None
    data: Json
    sources: list[Json] = field(default_factory=list)
    note: str | None = None
    basis: str | None = None
    """As sent: `change`, `attestation`, or None (a change)."""

    @property
    def is_amendment(self) -> bool:
        """True for retractions and corrections, which are about other events."""
        return self.type in AMENDMENT_TYPES


@dataclass(frozen=True)
class EventView:
    """An event as it counts at some recording time: corrected fields applied, status set."""

    record: EventRecord
    occurred_on: str | None
    data: Json
    status: str = "active"
    amended_by: str | None = None
    """The id of the correction or retraction that gave this view its status."""
    reason: str | None = None
    basis: str | None = None
    """A correction's basis, which replaces the record's; None keeps the record's."""

    @property
    def is_attestation(self) -> bool:
        """True when a source shows the fact held on `occurred_on`, not that it began then."""
        return self.shown_basis == "attestation"

    @property
    def shown_basis(self) -> str | None:
        """The basis the stored event shows: as corrected or sent, `change` by default on the
        types that take one, absent (None) on the others."""
        basis = self.basis or self.record.basis
        if basis is None and self.record.type in BASIS_TYPES:
            return "change"
        return basis

    @property
    def when(self) -> EDTFDate | None:
        """The (effective) occurrence date, or None for retractions and corrections."""
        return EDTFDate.parse(self.occurred_on) if self.occurred_on else None

    @property
    def first_day(self) -> date | None:
        """First day of the effective date's range."""
        parsed = self.when
        return parsed.first_day if parsed else None

    @property
    def last_day(self) -> date | None:
        """Last day of the effective date's range."""
        parsed = self.when
        return parsed.last_day if parsed else None

    def sort_key(self) -> tuple[int, int, int]:
        """Occurrence order: first day of the range, then recording order; undated last."""
        first = self.first_day
        if first is None:
            return (1, 0, self.record.position)
        return (0, first.toordinal(), self.record.position)

    def to_json(self) -> Json:
        """The stored event as the contract shows it."""
        record = self.record
        body: Json = {
            "id": record.id,
            "organisation": record.organisation,
            "version": record.version,
            "type": record.type,
        }
        if self.occurred_on is not None:
            body["occurred_on"] = self.occurred_on
        basis = self.shown_basis
        if basis is not None:
            body["basis"] = basis
        body["data"] = self.data
        body["sources"] = record.sources
        if record.note is not None:
            body["note"] = record.note
        body["recorded_at"] = format_timestamp(record.recorded_at)
        body["recorded_by"] = record.recorded_by
        body["status"] = self.status
        if self.status != "active":
            body["amendment"] = {"event_id": self.amended_by, "reason": self.reason}
        return body


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 with microseconds and a `Z` for UTC."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def resolve(records: Iterable[EventRecord], known_at: datetime | None = None) -> list[EventView]:
    """Every event as it counts at `known_at` (or now), in recording order.

    Only events recorded at or before `known_at` are seen. A retraction marks its target
    retracted; a correction makes its target count with the correction's fields laid over the
    target's original ones, the latest correction replacing any earlier one.
    """
    seen = sorted(
        (r for r in records if known_at is None or r.recorded_at <= known_at),
        key=lambda r: r.position,
    )
    views = {r.id: EventView(r, r.occurred_on, r.data) for r in seen}
    for record in seen:
        if not record.is_amendment:
            continue
        target = views.get(record.data["event_id"])
        if target is None or target.status == "retracted":
            continue
        original = target.record
        if record.type == "retracted":
            views[original.id] = replace(
                target, status="retracted", amended_by=record.id, reason=record.data["reason"]
            )
        else:
            views[original.id] = corrected(original, record)
    return list(views.values())


def corrected(original: EventRecord, correction: EventRecord) -> EventView:
    """The original event as a correction makes it count: the correction's `occurred_on`,
    `data` and `basis`, where given, replace the original's (an earlier correction's do not)."""
    return EventView(
        original,
        correction.data.get("occurred_on", original.occurred_on),
        correction.data.get("data", original.data),
        "corrected",
        correction.id,
        correction.data["reason"],
        correction.basis,
    )
