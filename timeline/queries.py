"""Queries: the questions people ask of the histories, with their parameters checked once.

Parameters arrive as text (from HTTP or the command line) and are checked here, so the
API and the CLI refuse the same things with the same words.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from events.dates import InvalidDate, period_end, period_start
from events.errors import EventNotFound, OrganisationNotFound, PersonNotFound
from events.organisation import OrganisationEvent
from events.validation import EVENT_TYPES, SLUG, is_slug
from projections.listing import EventFilter, SortKey, current_bodies, get_event, list_events
from projections.queries import Asked, StateQueries
from projections.readmodel import record_of
from projections.records import EventRecord, Json, resolve
from projections.search import RANK_WINDOW, Resume, SearchFilter, query_words, recent_ids, search
from projections.state import diff_states, state_at
from timeline.application import Timeline
from timeline.errors import InvalidArguments, InvalidCursor
from timeline.standbys import Reads
from timeline.timelinejs import timelinejs

T = TypeVar("T")
DEFAULT_LIMIT = 100
FEED_SIZE = 50
MAX_LIMIT = 1000


def today() -> date:
    """Today in UTC: the `at` of a question that gives none."""
    return datetime.now(UTC).date()


def parse_at(value: str | None, name: str = "at") -> tuple[date, str]:
    """The last day of a `YYYY`, `YYYY-MM` or `YYYY-MM-DD` period, and its label."""
    if value is None or value == "":
        now = today()
        return now, now.isoformat()
    try:
        return period_end(value), value
    except InvalidDate as error:
        raise InvalidArguments({name: str(error)}) from None


RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
"""RFC 3339's `date-time`: `T` and `Z` in either case, fractional seconds, an offset."""


def parse_known_at(value: str | None) -> datetime | None:
    """An RFC 3339 date-time, such as `2026-01-31T12:00:00Z`, and nothing else (no week
    dates, no basic format, no space for `T`, no date alone)."""
    if value is None or value == "":
        return None
    match = RFC3339.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        day, minutes, seconds, fraction, offset = match.groups()
        leap = seconds == "60"  # 23:59:60Z is the next day's midnight in UTC's count
        moment = datetime.fromisoformat(
            f"{day}T{minutes}:{'59' if leap else seconds}{fraction or ''}{offset.upper()}"
        )
    except ValueError:
        raise InvalidArguments(
            {"known_at": "must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T12:00:00Z"}
        ) from None
    try:
        return (moment + timedelta(seconds=leap)).astimezone(UTC)
    except OverflowError:  # 0001-01-01T01:00:00+08:00 is in year 0 in UTC
        raise InvalidArguments(
            {"known_at": "must fall between the years 1 and 9999 in UTC"}
        ) from None


def parse_limit(value: str | int | None) -> int:
    """A page size from 1 to 1000 (default 100)."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidArguments({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return value


def parse_types(value: str | None) -> list[str] | None:
    """A comma-separated list of event types."""
    if value is None or value == "":
        return None
    types = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown or not types:
        raise InvalidArguments({"type": "must be event types among: " + ", ".join(EVENT_TYPES)})
    return types


def parse_period(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """The first day of `from` and the last day of `to` (either may be absent)."""
    errors, first, last = {}, None, None
    try:
        first = period_start(start) if start else None
    except InvalidDate as error:
        errors["from"] = str(error)
    try:
        last = period_end(end) if end else None
    except InvalidDate as error:
        errors["to"] = str(error)
    if first and last and first > last:
        errors["to"] = "must not end before from begins"
    if errors:
        raise InvalidArguments(errors)
    return first, last


def parse_organisations(value: str | None) -> list[str] | None:
    """A comma-separated list of organisation ids."""
    if value is None or value == "":
        return None
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids or not all(SLUG.fullmatch(i) for i in ids):
        raise InvalidArguments({"org": "must be organisation ids separated by commas"})
    return ids


class Cursors:
    """Opaque page cursors, signed so that a cursor the service did not make is refused, and
    naming the query they belong to (endpoint, organisations, filters; not the page size), so
    that one used with another query is refused too."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def encode(self, after: SortKey, query: str) -> str:
        """A URL-safe cursor of `query` that resumes strictly after `after`."""
        payload = _b64(json.dumps([*after, self._digest(query)]).encode())
        return f"{payload}.{self._sign(payload)}"

    def decode(self, cursor: str | None, query: str) -> SortKey | None:
        """The position a cursor of `query` resumes after; InvalidCursor if it is not ours or
        belongs to another query."""
        if cursor is None or cursor == "":
            return None
        payload, _, signature = cursor.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise InvalidCursor
        try:
            group, day, position, digest = json.loads(base64.urlsafe_b64decode(payload + "=="))
        except ValueError:  # signed, but of an older form (before cursors named their query)
            raise InvalidCursor from None
        if digest != self._digest(query):
            raise InvalidCursor(
                "this cursor belongs to another query (another organisation, other filters or "
                "another endpoint); keep the query of the page that gave it, or start again"
            )
        return (int(group), int(day), int(position))

    def _digest(self, query: str) -> str:
        return _b64(hashlib.sha256(query.encode()).digest()[:12])

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest()[:18])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class Page:
    """A page of stored events and the cursor of the next page (None on the last)."""

    events: list[Json]
    next: str | None


@dataclass(frozen=True)
class SearchPage:
    """A page of search results (`{"event", "snippet"}`) and the next page's cursor."""

    results: list[Json]
    next: str | None


class Queries:
    """Every read the service offers, over the read model."""

    STATES_KEPT = 512

    def __init__(
        self,
        app: Timeline,
        cursors: Cursors,
        reads: Reads | None = None,
        rank_window: int = RANK_WINDOW,
    ) -> None:
        self.app = app
        self.cursors = cursors
        self.rank_window = rank_window
        """How many matches a search ranks at once (see `projections.search.RANK_WINDOW`)."""
        self.reads = reads or Reads(app.engine)
        """Every read of the read model connects through `reads` (a standby or the primary)."""
        self._states: OrderedDict[tuple[Any, ...], Json] = OrderedDict()
        self._states_lock = threading.Lock()

    def state(self, organisation: str, at: str | None = None, known_at: str | None = None) -> Json:
        """The organisation's state at the end of `at` (default today), as known at `known_at`.

        A state is a function of the question and of what the log holds, so recent answers are
        kept per process under the read model's position, read in the snapshot the answer is
        computed in: any new event anywhere moves it. Callers must not change the answer
        they get.
        """
        at_end, label = parse_at(at)
        asked = Asked(at_end, parse_known_at(known_at))
        if not is_slug(organisation):
            raise OrganisationNotFound(organisation)
        question = (organisation, at_end, label, known_at or None)  # echoed as sent
        with self.reads.snapshot() as snapshot:
            queries = StateQueries(snapshot)
            key = (*question, queries.log_position())
            found = self._kept(key)
            if found is None:
                found = queries.state(organisation, label, asked)
                if found is None:
                    raise OrganisationNotFound(organisation)
                if known_at:
                    found["known_at"] = known_at
                self._keep(key, found)
        return found

    def _kept(self, key: tuple[Any, ...]) -> Json | None:
        with self._states_lock:
            return self._states.get(key)

    def _keep(self, key: tuple[Any, ...], state: Json) -> None:
        with self._states_lock:
            self._states[key] = state
            while len(self._states) > self.STATES_KEPT:
                self._states.popitem(last=False)

    def diff(
        self, organisation: str, start: str | None, end: str | None, known_at: str | None = None
    ) -> Json:
        """What changed between the state at `from` and the state at `to`."""
        if not start:
            raise InvalidArguments({"from": "is required (a year, month or day such as 1998)"})
        errors = {}
        for name, value in (("from", start), ("to", end)):
            try:
                parse_at(value, name)
            except InvalidArguments as error:
                errors.update(error.errors)
        if errors:
            raise InvalidArguments(errors)
        before = self.state(organisation, start, known_at)
        after = self.state(organisation, end, known_at)
        return {
            "organisation": organisation,
            "from": before["at"],
            "to": after["at"],
            "known_at": before["known_at"],
            "changes": diff_states(before, after),
        }

    def events(
        self,
        organisation: str | None,
        *,
        start: str | None = None,
        end: str | None = None,
        types: str | None = None,
        limit: str | int | None = None,
        cursor: str | None = None,
        known_at: str | None = None,
        include_retracted: bool = False,
        organisations: str | None = None,
    ) -> Page:
        """A page of stored events in occurrence order, of one organisation or of several."""
        errors: dict[str, str] = {}

        def checked(parse: Callable[[], T], fallback: T) -> T:
            """A parameter parsed, its error kept with the others' to refuse them together."""
            try:
                return parse()
            except InvalidArguments as error:
                errors.update(error.errors)
                return fallback

        no_period: tuple[date | None, date | None] = (None, None)
        first, last = checked(lambda: parse_period(start, end), no_period)
        kinds = checked(lambda: parse_types(types), None)
        page_size = checked(lambda: parse_limit(limit), DEFAULT_LIMIT)
        moment = checked(lambda: parse_known_at(known_at), None)
        listed = checked(lambda: parse_organisations(organisations), None)
        if errors:
            raise InvalidArguments(errors)
        orgs = [organisation] if organisation is not None else listed
        flt = EventFilter(orgs, kinds, first, last, moment, include_retracted)
        # A cursor names its query: the endpoint (one organisation's list or the timeline of
        # all) and every filter, not the page size.
        query = repr((organisation is None, flt))
        after = self.cursors.decode(cursor, query)
        with self.reads.snapshot() as conn:
            if organisation is not None and not StateQueries(conn).has_history(
                organisation, flt.known_at
            ):
                raise OrganisationNotFound(organisation)
            events, next_after = list_events(conn, flt, after, page_size)
        return Page(events, self.cursors.encode(next_after, query) if next_after else None)

    def search(
        self,
        q: str | None,
        *,
        organisations: str | None = None,
        types: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: str | int | None = None,
        cursor: str | None = None,
    ) -> SearchPage:
        """A page of events whose text matches every word of `q`, ranked best first."""
        errors: dict[str, str] = {}
        words = query_words(q or "")
        if not words:
            errors["q"] = "must hold at least one word (a letter or a digit)"
        for check in (
            lambda: parse_organisations(organisations),
            lambda: parse_types(types),
            lambda: parse_period(start, end),
            lambda: parse_limit(limit),
        ):
            try:
                check()
            except InvalidArguments as error:
                errors.update(error.errors)
        if errors:
            raise InvalidArguments(errors)
        first, last = parse_period(start, end)
        flt = SearchFilter(
            words, parse_organisations(organisations), parse_types(types), first, last
        )
        # A search's cursor holds its window of matches (the newest at or below a `doc_id`,
        # 0 for the newest of all) and how many of its results came before (a rank is no
        # stable key), and names its query, as the lists' cursors do.
        query = repr(("search", flt, self.rank_window))
        after = self.cursors.decode(cursor, query)
        resume_at = Resume(after[1] or None, after[2]) if after else Resume()
        with self.reads.snapshot() as conn:
            hits, following = search(conn, flt, resume_at, parse_limit(limit), self.rank_window)
        results = [{"event": hit.event, "snippet": hit.snippet} for hit in hits]
        if following is None:
            return SearchPage(results, None)
        resume = (0, following.ceiling or 0, following.offset)
        return SearchPage(results, self.cursors.encode(resume, query))

    def recent(self, organisation: str | None, count: int = FEED_SIZE) -> list[Json]:
        """The latest `count` events recorded (of one organisation, or of all), newest first,
        as they stand now: retracted ones, retractions and corrections included."""
        if organisation is None:
            ids = self._recent_in_log(count)
        else:
            with self.reads.connect() as conn:
                ids = recent_ids(conn, organisation, count)
        with self.reads.connect() as conn:
            bodies = current_bodies(conn, ids)
        return [bodies[event_id] for event_id in ids if event_id in bodies]

    def _recent_in_log(self, count: int) -> list[str]:
        """The ids of the log's latest `count` events, newest first, read back from its end."""
        recorder = self.app.recorder
        ids: list[str] = []
        stop = recorder.max_notification_id() or 0
        while stop >= 1 and len(ids) < count:
            start = max(1, stop - count + 1)
            batch = recorder.select_notifications(start, count, stop=stop)
            events = [self.app.mapper.to_domain_event(n) for n in batch]
            ids = [str(e.event_id) for e in events if isinstance(e, OrganisationEvent)] + ids
            stop = start - 1
        return ids[::-1][:count]

    def log_position(self) -> int:
        """The position of the latest event recorded (0 before the first)."""
        return self.app.recorder.max_notification_id() or 0

    def all_events(self, organisation: str, **filters: Any) -> Iterator[Json]:
        """Every event a filtered list holds, page after page."""
        cursor = None
        while True:
            page = self.events(organisation, cursor=cursor, limit=MAX_LIMIT, **filters)
            yield from page.events
            if page.next is None:
                return
            cursor = page.next

    def event(self, organisation: str, event_id: str, known_at: str | None = None) -> Json:
        """One stored event of the organisation."""
        moment = parse_known_at(known_at)
        with self.reads.snapshot() as conn:
            found = get_event(conn, organisation, event_id.lower(), moment)
        if found is None:
            raise EventNotFound(organisation, event_id)
        return found

    def version(self, organisation: str) -> int:
        """The organisation's stream version (its ETag)."""
        with self.reads.connect() as conn:
            return StateQueries(conn).version(organisation)

    def organisations(self) -> list[Json]:
        """Every organisation with events, with its current name."""
        with self.reads.snapshot() as conn:
            return StateQueries(conn).organisations(today())

    def people(self) -> list[Json]:
        """Everyone who held an office in any organisation."""
        with self.reads.snapshot() as conn:
            return StateQueries(conn).people()

    def person(self, person: str) -> Json:
        """A person's positions across organisations, as they count today."""
        found = None
        if is_slug(person):
            with self.reads.snapshot() as conn:
                found = StateQueries(conn).positions(person, today())
        if found is None:
            raise PersonNotFound(person)
        name, positions = found
        return {"id": person, "name": name, "positions": positions}

    def timelinejs(self, organisation: str) -> Json:
        """The organisation's timeline in TimelineJS3's JSON format."""
        events = list(self.all_events(organisation))
        organisations = self.organisations()
        summary = next((o for o in organisations if o["id"] == organisation), {"id": organisation})
        names = self.state(organisation).get("names", {})
        return timelinejs(summary, events, organisations, names)

    def export(self, organisation: str | None = None) -> Iterator[Json]:
        """Every stored event in recording order, as it stands now, with what was recorded."""
        for batch in self._recorded_batches(organisation):
            with self.app.engine.connect() as conn:
                current = current_bodies(conn, [str(event.event_id) for event in batch])
            for event in batch:
                body = current[str(event.event_id)]
                # A corrected event shows its corrected fields (even once retracted): keep
                # what was first recorded beside them, for import to restore.
                if body.get("occurred_on") != event.occurred_on or body["data"] != event.data:
                    body["original"] = {"occurred_on": event.occurred_on, "data": event.data}
                # A correction changed its basis: keep the one recorded (None: sent without one).
                if body.get("basis") not in (event.basis, event.basis or "change"):
                    body.setdefault("original", {})["basis"] = event.basis
                yield body

    def _recorded_batches(self, organisation: str | None) -> Iterator[list[Any]]:
        if organisation is not None:
            if not is_slug(organisation):
                raise OrganisationNotFound(organisation)
            stream = self.app.stream(organisation)
            for start in range(0, len(stream), 500):
                yield stream[start : start + 500]
            return
        position = 0
        while notifications := self.app.recorder.select_notifications(
            start=position + 1, limit=500
        ):
            yield [self.app.mapper.to_domain_event(n) for n in notifications]
            position = notifications[-1].id

    def state_by_replay(
        self, organisation: str, at: str | None = None, known_at: str | None = None
    ) -> Json:
        """The state by reading every stream and folding it: the slow reference path."""
        at_end, label = parse_at(at)
        moment = parse_known_at(known_at)
        records: list[EventRecord] = []
        position = 0
        while notifications := self.app.recorder.select_notifications(
            start=position + 1, limit=1000
        ):
            for notification in notifications:
                event = self.app.mapper.to_domain_event(notification)
                assert isinstance(event, OrganisationEvent)
                records.append(record_of(event, notification.id))
            position = notifications[-1].id
        return state_at(resolve(records, moment), organisation, at_end, label, moment)

    def stream_state_by_replay(self, organisation: str, at: str | None = None) -> Json:
        """One organisation's state from its own stream alone, as a library user would fold it
        (`sub_organisations` needs every stream and is left empty)."""
        at_end, label = parse_at(at)
        stream = self.app.stream(organisation)
        records = [record_of(event, event.originator_version) for event in stream]
        return state_at(resolve(records), organisation, at_end, label)
