"""The write path, told in one place: how an append is checked, recorded and stored.

An append goes: look its `Idempotency-Key` up (a repeat replays the first answer), take the
writers' turn, load the organisation's stream, check `If-Match` against it, let the stream
record the event, then save: the library stores the event, and our recorder stores the
idempotency record and the read model's rows (with their tracking position) in the same
transaction (`TimelineRecorder.insert_events`). After the commit the stream is kept for the
next append; if the save failed it is forgotten. An append that loses a race for its
version (or its key) to a writer that did not wait for the turn is tried again from the
start.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import IntegrityError
from sqlalchemy import select

from events.errors import InvalidEvent, VersionMismatch
from events.organisation import Organisation, OrganisationEvent
from events.validation import SLUG, EventDraft
from projections.readmodel import stored_event_json
from projections.tables import micros
from timeline.application import Timeline
from timeline.errors import IdempotencyKeyReused, TooMuchContention
from timeline.persistence import Alongside, IdempotencyRecord
from timeline.tables import idempotency_keys

Json = dict[str, Any]
MAX_ATTEMPTS = 60


@dataclass(frozen=True)
class IfMatch:
    """The versions an `If-Match` precondition accepts: some versions, or (`*`) any stream
    that has events."""

    versions: frozenset[int] = frozenset()
    any_version: bool = False

    def accepts(self, version: int) -> bool:
        """Whether a stream at `version` meets the precondition."""
        return version in self.versions or (self.any_version and version > 0)

    @property
    def expected(self) -> int:
        """The version to name in a refusal (-1 when no version is named)."""
        return min(self.versions, default=-1)


@dataclass(frozen=True)
class Append:
    """One event to append to an organisation's stream, and the conditions it comes with."""

    organisation: str
    draft: EventDraft
    recorded_by: str
    token_id: str
    if_match: IfMatch | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Appended:
    """The stored event an append produced, and whether it is a replay of an earlier one."""

    event: Json
    replayed: bool = False


def check_organisation_id(organisation: str) -> None:
    """Refuse an organisation id that is not a slug."""
    if not SLUG.fullmatch(organisation):
        raise InvalidEvent(
            {"organisation": "must be an id of 1 to 64 lowercase letters, digits and hyphens"}
        )


def request_digest(payload: object) -> str:
    """A fingerprint of an event that ignores key order, spacing and optional nulls."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Writer:
    """Every write to the event log: appends one at a time, and saves of many events."""

    def __init__(self, app: Timeline) -> None:
        self.app = app

    def append(self, request: Append) -> Appended:
        """Append one event; with an idempotency key, a repeat of the same event replays the
        first answer, whatever its `If-Match`. Without `If-Match`, an append that loses a
        race for the next version is tried again on the new one, so concurrent writers all
        succeed."""
        check_organisation_id(request.organisation)
        digest = request_digest(asdict(request.draft)) if request.idempotency_key else ""
        for attempt in range(MAX_ATTEMPTS):
            replay = self._replay(request, digest)
            if replay is not None:
                return replay
            try:
                return self._store(request, digest)
            except IntegrityError:  # another writer took this version or this key first
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise TooMuchContention(f"organisation {request.organisation!r} is too busy; try again")

    def _replay(self, request: Append, digest: str) -> Appended | None:
        """The first answer to an earlier append with this key, if there was one."""
        key = request.idempotency_key
        if key is None:
            return None
        column = idempotency_keys.c
        with self.app.engine.connect() as conn:
            prior = conn.execute(
                select(column.request_sha256, column.response).where(
                    column.token_id == request.token_id,
                    column.organisation == request.organisation,
                    column.key == key,
                )
            ).first()
        if prior is None:
            return None
        if prior.request_sha256 != digest:
            raise IdempotencyKeyReused(key)
        return Appended(json.loads(prior.response), replayed=True)

    def _store(self, request: Append, digest: str) -> Appended:
        """Within the writers' turn: load the stream, check `If-Match`, record, save."""
        with self.turn(), self.recording([request.organisation]) as streams:
            stream = streams[request.organisation]
            if request.if_match is not None and not request.if_match.accepts(stream.version):
                raise VersionMismatch(
                    request.organisation, request.if_match.expected, stream.version
                )
            event = stream.record(request.draft, event_id=uuid4(), recorded_by=request.recorded_by)
            body = stored_event_json(event)
            records = []
            if request.idempotency_key is not None:
                records.append(
                    IdempotencyRecord(
                        token_id=request.token_id,
                        organisation=request.organisation,
                        key=request.idempotency_key,
                        request_sha256=digest,
                        response=json.dumps(body, ensure_ascii=False),
                        created_at=micros(event.timestamp),
                    )
                )
            self.save([event], records)
        return Appended(body)

    def turn(self) -> AbstractContextManager[None]:
        """The writers' turn (see `WriterTurns`)."""
        return self.app.writers_turn()

    @contextmanager
    def recording(self, organisations: Sequence[str]) -> Iterator[dict[str, Organisation]]:
        """The organisations' streams (by slug) to record on, within the writers' turn: kept
        for the next writer if the block ends normally (its events saved), forgotten if it
        raises (whatever they recorded is not stored)."""
        streams = self.app.organisations(organisations)
        try:
            yield streams
        except BaseException:
            self.app.forget(streams.values())
            raise
        self.app.keep(streams.values())

    def save(
        self, events: Sequence[OrganisationEvent], idempotency: Sequence[IdempotencyRecord] = ()
    ) -> None:
        """Store events in the order given, with their idempotency records and the read
        model's rows, in one transaction: all of them, or none."""
        if events:
            self.app.save(*events, alongside=Alongside(events, idempotency))
