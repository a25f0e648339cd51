"""The Organisation aggregate: one organisation's history as a stream of immutable events.

The stream starts with whatever event is recorded first (there is no separate "created"
event), so an organisation's first event is version 1 and one with no events is at version 0.
Each event carries `occurred_on`, the date it happened in the world; the library's
`timestamp` is only the time it was recorded. The class names and this module's path are
the stored topics: renaming either needs `register_topic`, never a silent move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID, uuid5

from eventsourcing.domain import AggregateEvent

from events.errors import InvalidEvent
from events.validation import AMENDMENT_TYPES, BASIS_TYPES, EventDraft, check_data

NAMESPACE = UUID("6f1c1b43-3e2f-4f0a-9d55-4c8e2f1e7a10")
"""Organisation ids are UUIDv5 names of their slugs in this namespace."""

_A = TypeVar("_A")


@dataclass(frozen=True)
class OrganisationEvent(AggregateEvent):
    """Something recorded about an organisation: a historical fact, or an amendment of one."""

    TYPE: ClassVar[str] = ""
    class_version: ClassVar[int] = 2

    organisation: str
    event_id: UUID
    occurred_on: str | None
    data: dict[str, Any]
    sources: list[dict[str, Any]]
    note: str | None
    recorded_by: str
    basis: str | None
    """`change`, `attestation`, or None when the writer sent none (which means change)."""

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Events stored before `basis` existed were all changes, recorded without one."""
        state["basis"] = None

    def mutate(self, aggregate: _A | None) -> _A | None:
        """Apply this event; the first event of a stream starts the organisation."""
        if aggregate is None:
            started = Organisation(self.originator_id, self.organisation, self.timestamp)
            aggregate = cast(_A, started)
        return cast(_A, super().mutate(aggregate))

    def apply(self, aggregate: Any) -> None:
        """Let the organisation remember what it needs to judge later amendments."""
        assert isinstance(aggregate, Organisation)
        aggregate.remember(self)


@dataclass(frozen=True)
class Founded(OrganisationEvent):
    """The organisation came into being (with a name and perhaps an acronym)."""

    TYPE: ClassVar[str] = "founded"


@dataclass(frozen=True)
class Renamed(OrganisationEvent):
    """The organisation took a new name (and perhaps a new acronym)."""

    TYPE: ClassVar[str] = "renamed"


@dataclass(frozen=True)
class HeadquartersMoved(OrganisationEvent):
    """The organisation's seat moved."""

    TYPE: ClassVar[str] = "headquarters_moved"


@dataclass(frozen=True)
class OfficeHolderAppointed(OrganisationEvent):
    """A person took a role, ending the tenure of whoever held it."""

    TYPE: ClassVar[str] = "office_holder_appointed"


@dataclass(frozen=True)
class OfficeHolderLeft(OrganisationEvent):
    """A person left a role."""

    TYPE: ClassVar[str] = "office_holder_left"


@dataclass(frozen=True)
class MemberJoined(OrganisationEvent):
    """A member organisation joined."""

    TYPE: ClassVar[str] = "member_joined"


@dataclass(frozen=True)
class MemberLeft(OrganisationEvent):
    """A member organisation left."""

    TYPE: ClassVar[str] = "member_left"


@dataclass(frozen=True)
class FiguresReported(OrganisationEvent):
    """A source reported figures (members, countries, enterprises, jobs) as of a date."""

    TYPE: ClassVar[str] = "figures_reported"


@dataclass(frozen=True)
class DocumentAdopted(OrganisationEvent):
    """A declaration, standard or report reached a stage of adoption."""

    TYPE: ClassVar[str] = "document_adopted"


@dataclass(frozen=True)
class Affiliated(OrganisationEvent):
    """The organisation became part of a parent organisation."""

    TYPE: ClassVar[str] = "affiliated"


@dataclass(frozen=True)
class Disaffiliated(OrganisationEvent):
    """The organisation stopped being part of its parent organisation."""

    TYPE: ClassVar[str] = "disaffiliated"


@dataclass(frozen=True)
class Dissolved(OrganisationEvent):
    """The organisation ceased to exist."""

    TYPE: ClassVar[str] = "dissolved"


@dataclass(frozen=True)
class MilestoneReached(OrganisationEvent):
    """Something worth showing on the timeline that changes no part of the state."""

    TYPE: ClassVar[str] = "milestone"


@dataclass(frozen=True)
class Retracted(OrganisationEvent):
    """An earlier event no longer counts, from this event's recording time on."""

    TYPE: ClassVar[str] = "retracted"


@dataclass(frozen=True)
class Corrected(OrganisationEvent):
    """An earlier event counts with other fields, from this event's recording time on."""

    TYPE: ClassVar[str] = "corrected"


EVENT_CLASSES: dict[str, type[OrganisationEvent]] = {
    cls.TYPE: cls
    for cls in (
        Founded,
        Renamed,
        HeadquartersMoved,
        OfficeHolderAppointed,
        OfficeHolderLeft,
        MemberJoined,
        MemberLeft,
        FiguresReported,
        DocumentAdopted,
        Affiliated,
        Disaffiliated,
        Dissolved,
        MilestoneReached,
        Retracted,
        Corrected,
    )
}
"""The event class for each type name of the contract."""


class Organisation:
    """One organisation's event stream and what it must remember to accept new events.

    Its state at a date is not kept here: that is the read side's work, folded in
    occurrence order. The aggregate remembers only which events exist, their types and
    which are retracted, to judge retractions and corrections.
    """

    def __init__(self, id: UUID, slug: str, created_on: datetime) -> None:
        self._id = id
        self.slug = slug
        self._version = 0
        self.created_on = created_on
        self.modified_on = created_on
        self.pending_events: list[OrganisationEvent] = []
        self._types: dict[str, str] = {}
        self._retracted: set[str] = set()

    @staticmethod
    @lru_cache(maxsize=65536)
    def id_for(slug: str) -> UUID:
        """The stream id of the organisation with this slug (a hash: the latest are kept)."""
        return uuid5(NAMESPACE, slug)

    @classmethod
    def start(cls, slug: str) -> Organisation:
        """An organisation with no events yet (version 0), ready to record its first."""
        return cls(cls.id_for(slug), slug, AggregateEvent.create_timestamp())

    @property
    def id(self) -> UUID:
        """The stream id."""
        return self._id

    @property
    def version(self) -> int:
        """How many events the stream holds."""
        return self._version

    @version.setter
    def version(self, value: int) -> None:
        self._version = value

    def has_event(self, event_id: str) -> bool:
        """True if an event with this id is in the stream."""
        return event_id in self._types

    def record(self, draft: EventDraft, *, event_id: UUID, recorded_by: str) -> OrganisationEvent:
        """Append a checked event to the stream; amendments are judged against the stream."""
        if str(event_id) in self._types:
            raise InvalidEvent({"id": f"an event with id {event_id} is already stored"})
        data = self._checked_amendment(draft) if draft.type in AMENDMENT_TYPES else draft.data
        event_class = EVENT_CLASSES[draft.type]
        event = event_class(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=self._next_timestamp(),
            organisation=self.slug,
            event_id=event_id,
            occurred_on=draft.occurred_on,
            data=data,
            sources=draft.sources,
            note=draft.note,
            recorded_by=recorded_by,
            basis=draft.basis,
        )
        event.mutate(self)
        self.pending_events.append(event)
        return event

    def collect_events(self) -> list[OrganisationEvent]:
        """Hand over the events recorded since the last save."""
        collected, self.pending_events = self.pending_events, []
        return collected

    def remember(self, event: OrganisationEvent) -> None:
        """Note an event's id and type, and what it retracts."""
        self._types[str(event.event_id)] = event.TYPE
        if event.TYPE == "retracted":
            self._retracted.add(event.data["event_id"])

    def _checked_amendment(self, draft: EventDraft) -> dict[str, Any]:
        target = draft.data["event_id"]
        target_type = self._types.get(target)
        if target_type is None:
            problem = f"organisation {self.slug!r} has no event {target}"
        elif target_type in AMENDMENT_TYPES:
            problem = f"event {target} is a {target_type} event; only historical events amend"
        elif target in self._retracted:
            problem = f"event {target} has already been retracted"
        else:
            problem = None
        if problem:
            raise InvalidEvent({"data.event_id": problem})
        assert target_type is not None
        if draft.type == "corrected" and draft.basis and target_type not in BASIS_TYPES:
            raise InvalidEvent(
                {"basis": f"event {target} is a {target_type} event, which takes no basis"}
            )
        if draft.type == "corrected" and "data" in draft.data:
            replacement = check_data(target_type, draft.data["data"], prefix="data.data")
            return {**draft.data, "data": replacement}
        return draft.data

    def _next_timestamp(self) -> datetime:
        # Recording times within one stream strictly increase, so "recorded at or before
        # known_at" and "recorded before its amendment" never disagree.
        now = AggregateEvent.create_timestamp()
        if self.version and now <= self.modified_on:
            return self.modified_on + timedelta(microseconds=1)
        return now
