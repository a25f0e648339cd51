"""Commands: the ways a history grows. Get the organisation, call one aggregate method, save."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError
from sqlalchemy import select

from events.errors import InvalidEvent, VersionMismatch
from events.organisation import Organisation, OrganisationEvent
from events.validation import SLUG, EventDraft, parse_event
from projections.listing import stored_ids
from projections.readmodel import stored_event_json
from projections.tables import micros
from timeline.application import Timeline
from timeline.errors import IdempotencyKeyReused, ImportRejected, TooMuchContention
from timeline.persistence import LateAppends
from timeline.tables import idempotency_keys

Json = dict[str, Any]
MAX_ATTEMPTS = 60
CLI_WRITER = "cli"
STORED_FIELDS = ("id", "organisation", "version", "recorded_at", "recorded_by", "status")
"""Fields of an exported event that import ignores (or, for `id`, keeps aside)."""
EXPORT_EXTRAS = ("amendment", "original")


@dataclass(frozen=True)
class Appended:
    """The stored event an append produced, and whether it is a replay of an earlier one."""

    event: Json
    replayed: bool = False


@dataclass(frozen=True)
class ImportReport:
    """How many events an import stored, and how many it skipped as already stored."""

    imported: int
    skipped: int


@dataclass(eq=False)
class PendingAppend:
    """One append on its way through a `GroupCommit`, and how it was settled."""

    organisation: str
    draft: EventDraft
    recorded_by: str
    expected_version: int | None
    token_id: str
    idempotency_key: str | None
    digest: str
    taken: bool = False
    done: bool = False
    body: Json = field(default_factory=dict)
    record: Json | None = None
    outcome: Appended | None = None
    error: BaseException | None = None


class GroupCommit:
    """Appends that arrive together in one process are stored together.

    The first waiting thread leads: it takes every append waiting (up to `limit`), stores them
    with `store` in one writers' turn and one transaction, settles each, and hands the lead to
    the next. A lone append leads at once, so it waits for no one; under load, appends that
    queue behind a commit share the next one, and its fsync. The appends that arrive while
    the leader waits for its turn (another process is storing), or while it stores, can still
    `join` its batch.
    """

    def __init__(self, store: Callable[[list[PendingAppend]], None], limit: int = 64) -> None:
        self._store = store
        self._limit = limit
        self._changed = threading.Condition()
        self._waiting: list[PendingAppend] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many appends wait for a leader to take them."""
        with self._changed:
            return len(self._waiting)

    @property
    def leading(self) -> bool:
        """Whether a thread is storing a batch now."""
        with self._changed:
            return self._leading

    def submit(self, request: PendingAppend) -> None:
        """Return once `request` is done: stored (`outcome`), refused (`error`), or, with
        neither, to be tried again (it lost a race)."""
        with self._changed:
            self._waiting.append(request)
        while True:
            with self._changed:
                while not request.done and (request.taken or self._leading):
                    self._changed.wait()
                if request.done:
                    return
                self._leading = True
                batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
                for taken in batch:
                    taken.taken = True
            try:
                self._store(batch)  # may grow: see join()
            except Exception as error:  # the database failed them all: each caller hears why
                for failed in batch:
                    if failed.outcome is None and failed.error is None:
                        failed.error = error
            finally:
                with self._changed:
                    for settled in batch:
                        settled.done = True
                    self._leading = False
                    self._changed.notify_all()

    def join(self, batch: list[PendingAppend]) -> None:
        """Add to the leader's `batch` the appends waiting now, in arrival order, up to the
        limit; they are settled with it."""
        with self._changed:
            room = self._limit - len(batch)
            if room > 0 and self._waiting:
                batch.extend(self._waiting[:room])
                for joining in self._waiting[:room]:
                    joining.taken = True
                del self._waiting[:room]


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


class Commands:
    """Appending events, importing and seeding histories."""

    def __init__(self, app: Timeline) -> None:
        self.app = app
        self.group = GroupCommit(self._store)

    def append(
        self,
        organisation: str,
        payload: EventDraft | object,
        *,
        recorded_by: str,
        token_id: str = CLI_WRITER,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Appended:
        """Append one event (checked already, or a payload to check); with a key, a repeat of
        the same event replays the first answer.

        Appends waiting in this process at the same moment are stored together, in one turn
        and one transaction (`GroupCommit`); each is judged on its own and fails on its own.
        Without `expected_version`, an append that loses a race for the next version is
        retried on the new version, so concurrent writers all succeed.
        """
        check_organisation_id(organisation)
        draft = payload if isinstance(payload, EventDraft) else parse_event(payload)
        # Only an idempotency key needs the request's fingerprint.
        digest = request_digest(asdict(draft)) if idempotency_key is not None else ""
        for attempt in range(MAX_ATTEMPTS):
            if idempotency_key is not None:
                prior = self._prior_response(token_id, organisation, idempotency_key)
                if prior is not None:
                    if prior["request_sha256"] != digest:
                        raise IdempotencyKeyReused(idempotency_key)
                    return Appended(json.loads(prior["response"]), replayed=True)
            request = PendingAppend(
                organisation,
                draft,
                recorded_by,
                expected_version,
                token_id,
                idempotency_key,
                digest,
            )
            self.group.submit(request)
            if request.error is not None:
                raise request.error
            if request.outcome is not None:
                return request.outcome
            # Another writer took this version (or this idempotency key) first.
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise TooMuchContention(f"organisation {organisation!r} is too busy; try again")

    def _store(self, batch: list[PendingAppend]) -> None:
        """Store a batch of appends in one turn and one transaction; settle each. Appends
        that arrived while the turn was awaited join the batch, and so do those that arrive
        while it is stored, up to its commit (see `_store_in_turn`)."""
        with self.app.writers_turn():
            self.group.join(batch)
            self._store_in_turn(batch, join_late=True)

    def _store_in_turn(self, batch: list[PendingAppend], *, join_late: bool = False) -> None:
        """Store appends in one transaction, within the writers' turn.

        With `join_late`, appends that arrive while the transaction is open join it before it
        commits: they are added to `batch`, and settled with it."""
        streams = self.app.organisations(dict.fromkeys(request.organisation for request in batch))
        keys: set[tuple[str, str, str]] = set()
        accepted = self._record(batch, streams, keys)
        if not accepted:
            return

        def late() -> LateAppends:
            """The appends that arrived meanwhile, recorded on the batch's streams (and on
            those of organisations new to it, as they stood when the turn was taken)."""
            joining = len(batch)
            if join_late:
                self.group.join(batch)
            new = dict.fromkeys(
                r.organisation for r in batch[joining:] if r.organisation not in streams
            )
            if new:
                streams.update(self.app.organisations(new, follow_log=False))
            joined = self._record(batch[joining:], streams, keys)
            accepted.extend(joined)
            return LateAppends(
                stored=[self.app.mapper.to_stored_event(event) for _, event in joined],
                events=[event for _, event in joined],
                idempotency=[request.record for request, _ in joined if request.record],
            )

        try:
            self.app.save(
                *(event for _, event in accepted),
                idempotency=[request.record for request, _ in accepted if request.record],
                late=late,
            )
        except IntegrityError:
            # One of them lost a race (for a version or a key): store each on its own;
            # one alone that loses is left unsettled, and its caller tries it again.
            if len(accepted) > 1:
                for request, _ in accepted:
                    self._store_in_turn([request])
            else:  # read it afresh from the log when it is tried again
                self.app.forget(request.organisation for request, _ in accepted)
            return
        for request, _ in accepted:
            request.outcome = Appended(request.body)
        self.app.keep(
            streams[organisation] for organisation in {r.organisation for r, _ in accepted}
        )

    def _record(
        self,
        batch: list[PendingAppend],
        streams: dict[str, Organisation],
        keys: set[tuple[str, str, str]],
    ) -> list[tuple[PendingAppend, OrganisationEvent]]:
        """Record each append on its organisation's stream (in `streams`), in arrival order;
        an append that is refused gets its error and leaves the others be. `keys` are the
        idempotency keys recorded in this transaction so far."""
        accepted = []
        for request in batch:
            key = request.idempotency_key
            if key is not None:
                if (request.token_id, request.organisation, key) in keys:
                    continue  # unsettled: tried again after the first, it replays it
                keys.add((request.token_id, request.organisation, key))
            stream = streams[request.organisation]
            expected = request.expected_version
            if expected is not None and stream.version != expected:
                request.error = VersionMismatch(request.organisation, expected, stream.version)
                continue
            try:
                event = stream.record(
                    request.draft, event_id=uuid4(), recorded_by=request.recorded_by
                )
            except InvalidEvent as error:
                request.error = error
                continue
            request.body = stored_event_json(event)
            if key is not None:
                request.record = {
                    "token_id": request.token_id,
                    "organisation": request.organisation,
                    "key": key,
                    "request_sha256": request.digest,
                    "status": 201,
                    "response": json.dumps(request.body, ensure_ascii=False),
                    "created_at": micros(event.timestamp),
                }
            accepted.append((request, event))
        return accepted

    def _prior_response(self, token_id: str, organisation: str, key: str) -> Json | None:
        column = idempotency_keys.c
        with self.app.engine.connect() as conn:
            row = conn.execute(
                select(column.request_sha256, column.response).where(
                    column.token_id == token_id,
                    column.organisation == organisation,
                    column.key == key,
                )
            ).first()
        return dict(row._mapping) if row else None

    def import_lines(
        self, lines: Iterable[str], *, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import JSON Lines of events, all or nothing; events whose id is stored are skipped."""
        items = list(_read_import(lines, progress))
        with self.app.engine.connect() as conn:
            already = stored_ids(conn, [event_id for _, _, event_id, _ in items])
        wanted = dict.fromkeys(org for _, org, event_id, _ in items if event_id not in already)
        streams = self.app.organisations(wanted)
        recorded = []
        for line, organisation, event_id, payload in items:
            if event_id in already:
                continue
            already.add(event_id)
            stream = streams[organisation]
            try:
                draft = parse_event(payload)
                recorded.append(
                    stream.record(draft, event_id=UUID(event_id), recorded_by=CLI_WRITER)
                )
            except InvalidEvent as error:
                raise ImportRejected(line, str(error)) from None
        if recorded:
            # Saving the events themselves, not the streams, keeps the file's recording order
            # across organisations; one save is one transaction, so all or nothing is stored.
            try:
                self.app.save(*recorded)
            except IntegrityError:
                raise ImportRejected(
                    0, "another writer appended to one of these organisations meanwhile"
                ) from None
        return ImportReport(len(recorded), len(items) - len(recorded))

    def seed(self) -> ImportReport:
        """Load the CICOPA history shipped with the service (a second run adds nothing)."""
        return self.import_lines(seed_lines())


def seed_lines() -> list[str]:
    """The lines of the shipped CICOPA history."""
    text = resources.files("timeline").joinpath("data/cicopa.jsonl").read_text("utf-8")
    return text.splitlines()


def _read_import(
    lines: Iterable[str], progress: Callable[[int], None] | None
) -> Iterator[tuple[int, str, str, Json]]:
    """(line number, organisation, event id, event payload) for each non-blank line."""
    for number, line in enumerate(lines, start=1):
        if progress is not None:
            progress(1)
        if not line.strip():
            continue
        try:
            stored = json.loads(line, parse_constant=_reject_constant)
        except ValueError as error:
            raise ImportRejected(number, f"not a JSON object ({error})") from None
        yield (number, *_import_item(number, stored))


def _import_item(number: int, stored: object) -> tuple[str, str, Json]:
    if not isinstance(stored, dict):
        raise ImportRejected(number, "not a JSON object")
    organisation = stored.get("organisation")
    if not isinstance(organisation, str) or not SLUG.fullmatch(organisation):
        raise ImportRejected(number, "organisation: must be an organisation id such as 'cicopa'")
    raw_id = stored.get("id", str(uuid4()))
    try:
        event_id = str(UUID(raw_id)) if isinstance(raw_id, str) else ""
    except ValueError:
        event_id = ""
    if not event_id:
        raise ImportRejected(number, "id: must be an event id (a UUID)")
    payload = {k: v for k, v in stored.items() if k not in STORED_FIELDS + EXPORT_EXTRAS}
    original = stored.get("original")
    if isinstance(original, dict):
        # An exported corrected event shows its corrected fields; import what was recorded.
        payload.update({k: v for k, v in original.items() if k in ("occurred_on", "data")})
        if "basis" in original:  # None: the event was recorded without one
            payload.pop("basis", None)
            if original["basis"] is not None:
                payload["basis"] = original["basis"]
    return organisation, event_id, payload


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
