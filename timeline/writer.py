"""The write path, told in one place: how an append is checked, recorded and stored.

An append goes: look its `Idempotency-Key` up (a repeat replays the first answer), wait with
the other appends of this process (a group commit: the first of them to wait leads; once
the writers' turn is its own, it takes every append waiting then, those that came while it
waited included, and stores them all), load the organisations' streams, check each `If-Match`
against its stream, let the stream record the event, then save: the library stores the
events, and our recorder stores the idempotency records and the read model's rows (with
their tracking position) in the same transaction (`TimelineRecorder.insert_events`). After
the commit the streams are kept for the next appends; if the save failed they are
forgotten. Each append is judged on its own: a refused one fails alone. An append that loses
a race for its version (or its key) to a writer that did not wait for the turn is tried
again from the start.

Appends stored together share one commit (and its fsync) and one read of what their
streams lack: with eight concurrent writers the A/B runs of bench/http.py (see
bench/RESULTS.md) favoured it on both databases, and taking the batch after the turn (not
before waiting for it) more so.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
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


class _LostRace(Exception):
    """A batch's save lost a race: each of its appends is tried again."""


@dataclass(eq=False)
class _Waiting:
    """An append waiting to be stored with others, and how it was settled: stored
    (`outcome`), refused (`error`), or, with neither, to be tried again."""

    request: Append
    digest: str
    settled: bool = False
    outcome: Appended | None = None
    error: BaseException | None = None


class Writer:
    """Every write to the event log: appends one at a time, and saves of many events."""

    def __init__(self, app: Timeline) -> None:
        self.app = app
        self._changed = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many appends wait for the one storing now to finish."""
        with self._changed:
            return len(self._waiting)

    @property
    def leading(self) -> bool:
        """Whether an append is being stored now (with the others it took)."""
        with self._changed:
            return self._leading

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
                stored = self._store_with_others(request, digest)
            except _LostRace:  # another writer took this version or this key first
                stored = None
            if stored is not None:
                return stored
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

    def _store_with_others(self, request: Append, digest: str) -> Appended | None:
        """Store the append together with the others waiting in this process now, in one
        turn and one transaction. The first to wait leads: it takes every append waiting
        and stores them (`_store_batch`), while those that arrive meanwhile wait; when it is
        done, the first of these leads the next batch. A lone append leads at once. None:
        to be tried again."""
        mine = _Waiting(request, digest)
        with self._changed:
            self._waiting.append(mine)
            while self._leading and not mine.settled:
                self._changed.wait()
            leading = not mine.settled
            if leading:
                self._leading = True
        if leading:
            batch: list[_Waiting] = []
            try:
                with self.turn():
                    batch = self._take_waiting()  # with those that came while it waited
                    self._store_batch(batch)
            except Exception as error:  # a lost race or a failed database: each caller hears
                batch = batch or self._take_waiting()  # the turn itself failed
                for waiting in batch:
                    if waiting.outcome is None and waiting.error is None:
                        waiting.error = error
            finally:
                with self._changed:
                    for waiting in batch:
                        waiting.settled = True
                    self._leading = False
                    self._changed.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.outcome

    def _take_waiting(self) -> list[_Waiting]:
        """Every append waiting now, taken to be stored by the leader."""
        with self._changed:
            batch, self._waiting = self._waiting, []
        return batch

    def _store_batch(self, batch: list[_Waiting]) -> None:
        """Within the writers' turn: load the streams, record each append (each judged on
        its own: a refusal is its own), save them all in one transaction. If the save loses
        a race, every append of the batch is left to be tried again."""
        with self.recording([w.request.organisation for w in batch]) as streams:
            keys: set[tuple[str, str, str]] = set()
            accepted: list[tuple[_Waiting, OrganisationEvent, Json]] = []
            records: list[IdempotencyRecord] = []
            for waiting in batch:
                request = waiting.request
                if request.idempotency_key is not None:
                    key = (request.token_id, request.organisation, request.idempotency_key)
                    if key in keys:
                        continue  # left to be tried again: it replays the first
                    keys.add(key)
                try:
                    event, body, record = self._record(
                        request, waiting.digest, streams[request.organisation]
                    )
                except (InvalidEvent, VersionMismatch) as error:
                    waiting.error = error
                    continue
                accepted.append((waiting, event, body))
                records.extend([record] if record else [])
            try:
                self.save([event for _, event, _ in accepted], records)
            except IntegrityError:
                raise _LostRace from None
        for waiting, _, body in accepted:
            waiting.outcome = Appended(body)

    def _record(
        self, request: Append, digest: str, stream: Organisation
    ) -> tuple[OrganisationEvent, Json, IdempotencyRecord | None]:
        """Check `If-Match` against the stream and record the event on it: the event, its
        stored form, and its idempotency record (with a key)."""
        if request.if_match is not None and not request.if_match.accepts(stream.version):
            raise VersionMismatch(request.organisation, request.if_match.expected, stream.version)
        event = stream.record(request.draft, event_id=uuid4(), recorded_by=request.recorded_by)
        body = stored_event_json(event)
        if request.idempotency_key is None:
            return event, body, None
        record = IdempotencyRecord(
            token_id=request.token_id,
            organisation=request.organisation,
            key=request.idempotency_key,
            request_sha256=digest,
            response=json.dumps(body, ensure_ascii=False),
            created_at=micros(event.timestamp),
        )
        return event, body, record

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
