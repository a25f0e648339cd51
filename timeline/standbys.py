"""Reads from PostgreSQL hot standbys, with read-your-writes (CONTRACT §3, "Reading from
standbys").

`Reads` is where every read of the read model gets its connection: the primary, or a standby
chosen for the request in progress. A request begins its route (`begin`) with the position the
client wrote at, if it sent one; the first read of the request then picks a standby that is up
and has replayed that position, waiting for one at most `WAIT` seconds, else the primary. A
read that fails on a standby raises `StandbyFailed`, so that the request can be answered again
from the primary (`fall_back`). Writes never come here: they use the primary's engine.

Each process checks each standby every `interval` seconds, in a thread per standby: one
statement gives its replay position, whether replay is paused, and its lag, from which it is
`up`, `lagging` (more than `max_lag` seconds behind) or `down` (unreachable, not in recovery,
or no check answered for `interval` + 4 s). Positions are WAL positions (LSNs), kept as
integers and written as PostgreSQL writes them (`0/16B3748`).
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from events.errors import DomainError
from timeline.persistence import snapshot_on

UP, LAGGING, DOWN = "up", "lagging", "down"
WAIT = 5.0
"""The longest a read that sent a position waits for a standby to replay it."""
POLL = 0.005
"""Seconds between two looks at a standby's replay position while reads wait for it."""
CONNECT_TIMEOUT = 2
"""Seconds to wait for a standby's connection (libpq's least) before it counts as down."""
CHECK_TIMEOUT_MS = 2000
"""A check's statement on a standby is cancelled after this long: the standby is then down."""

log = logging.getLogger("timeline.standbys")

_POSITION = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})", re.ASCII)
_PRIMARY_POSITION = text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
_REPLAYED = text("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
_CHECK = text(
    """
SELECT pg_is_in_recovery() AS standby,
  pg_last_wal_replay_lsn() - '0/0'::pg_lsn AS replayed,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,
  extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS since_last_commit"""
)


class InvalidPosition(DomainError):
    """A `Timeline-Position` that is not a WAL position such as `0/16B3748`."""

    def __init__(self, value: str) -> None:
        super().__init__(
            f"Timeline-Position must be a position such as 0/16B3748 (as a write's response "
            f"gives it), not {value[:40]!r}"
        )


class StandbyFailed(Exception):
    """A read on a standby failed (it stopped, or cancelled the read): answer it again from
    the primary."""


def parse_position(value: str) -> int:
    """A WAL position written as PostgreSQL writes it (`0/16B3748`), as an integer."""
    match = _POSITION.fullmatch(value.strip())
    if match is None:
        raise InvalidPosition(value)
    high, low = match.groups()
    return int(high, 16) << 32 | int(low, 16)


def format_position(position: int) -> str:
    """A WAL position as PostgreSQL writes it: `0/16B3748`."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def standby_name(url: str) -> str:
    """A standby's name for /healthz and /metrics: host, port and database, no credentials."""
    made = make_url(url)
    return f"{made.host or 'localhost'}:{made.port or 5432}/{made.database or ''}"


@dataclass(frozen=True)
class StandbyStatus:
    """What a check found of one standby."""

    name: str
    state: str
    lag_seconds: float | None
    replayed: int | None


@dataclass(eq=False)
class Standby:
    """One hot standby: its engine, and what the last look at it found. A standby that no
    check has answered for `stale_after` seconds is down (a check can hang on a standby that
    stopped answering without closing its connections)."""

    name: str
    engine: Engine
    stale_after: float = 2.0 + CONNECT_TIMEOUT + CHECK_TIMEOUT_MS / 1000
    replayed: int = 0
    paused: bool = False
    lag: float | None = None
    _state: str = field(default=DOWN, repr=False)
    _answered_at: float = field(default=-math.inf, repr=False)
    _previous: Sample | None = field(default=None, repr=False)
    _behind_since: float | None = field(default=None, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _polling: bool = field(default=False, repr=False)
    _next_poll: float = field(default=0.0, repr=False)

    @property
    def state(self) -> str:
        """`up`, `lagging` or `down`, as last checked (down once the checks go unanswered)."""
        if time.monotonic() - self._answered_at > self.stale_after:
            return DOWN
        return self._state

    def status(self) -> StandbyStatus:
        """The standby's state as last seen."""
        with self._changed:
            state = self.state
            lag = None if state == DOWN else self.lag
            replayed = None if state == DOWN else self.replayed
            return StandbyStatus(self.name, state, lag, replayed)

    def check(self, primary: Sample | None, max_lag: float) -> None:
        """Look at the standby once: its replay position, and how far behind the primary
        (at `primary`, sampled just before) it is."""
        try:
            with self.engine.connect() as conn, conn.begin():
                conn.execute(text(f"SET LOCAL statement_timeout = {CHECK_TIMEOUT_MS}"))
                row = conn.execute(_CHECK).one()
        except SQLAlchemyError as error:
            self.mark_down(error)
            return
        if not row.standby or row.replayed is None:
            self.mark_down("it is not in recovery: not a standby")
            return
        replayed = int(row.replayed)
        since_commit = None if row.since_last_commit is None else float(row.since_last_commit)
        lag = self._lag(replayed, since_commit, primary)
        self._previous = primary or self._previous
        self._seen(replayed, bool(row.paused), lag, LAGGING if lag > max_lag else UP)

    def _lag(self, replayed: int, since_commit: float | None, primary: Sample | None) -> float:
        """Seconds the standby's replay is behind the primary: none once it has replayed what
        the primary had at this check; otherwise the age of the last commit it replayed, but
        no more than the time since the previous check if it has replayed what the primary
        had then (a long-idle primary's first write does not make a standby look minutes
        behind)."""
        now = time.monotonic()
        if primary is None or replayed >= primary.position:
            self._behind_since = None
            return 0.0
        if self._behind_since is None:
            self._behind_since = now
        lag = since_commit if since_commit is not None else now - self._behind_since
        previous = self._previous
        if previous is not None and replayed >= previous.position:
            lag = min(lag, now - previous.at)
        return max(0.0, lag)

    def _seen(self, replayed: int, paused: bool, lag: float, state: str) -> None:
        with self._changed:
            if state != self.state:
                log.warning("standby %s is %s (lag %.1f s)", self.name, state, lag)
            self.replayed = max(self.replayed, replayed)
            self.paused, self.lag, self._state = paused, lag, state
            self._answered_at = time.monotonic()
            self._changed.notify_all()

    def mark_down(self, reason: object) -> None:
        """The standby cannot be read: skipped until a check finds it again."""
        with self._changed:
            if self.state != DOWN:
                log.warning("standby %s is down: %s", self.name, str(reason).splitlines()[0])
            self._state = DOWN
            self._changed.notify_all()

    def replayed_by(self, position: int, deadline: float) -> bool:
        """Whether the standby replays `position` before `deadline` (a monotonic time). One
        waiting read at a time looks at the standby, at most every POLL seconds; the others
        wait for what it sees."""
        while True:
            with self._changed:
                while self._polling and self.replayed < position and self.state == UP:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._changed.wait(remaining)
                if self.replayed >= position:
                    return True
                if self.state != UP or time.monotonic() >= deadline:
                    return False
                self._polling = True
                delay = min(self._next_poll, deadline) - time.monotonic()
            try:
                if delay > 0:
                    time.sleep(delay)
                self._poll()
            finally:
                with self._changed:
                    self._polling = False
                    self._next_poll = time.monotonic() + POLL
                    self._changed.notify_all()

    def _poll(self) -> None:
        """Read the standby's replay position once."""
        try:
            with self.engine.connect() as conn:
                replayed = conn.execute(_REPLAYED).scalar()
        except SQLAlchemyError as error:
            self.mark_down(error)
            return
        if replayed is not None:
            with self._changed:
                self.replayed = max(self.replayed, int(replayed))


@dataclass(frozen=True)
class Sample:
    """The primary's WAL position at a moment (monotonic seconds)."""

    position: int
    at: float


@dataclass
class _Route:
    """How the reads of the request in progress are routed: the position its client wrote at
    (None: any standby that is up will do), and the standby chosen at its first read."""

    position: int | None
    chosen: bool = False
    standby: Standby | None = None


_route: ContextVar[_Route | None] = ContextVar("timeline_read_route", default=None)


class Reads:
    """Where reads go: the primary, or a standby chosen for the request in progress."""

    def __init__(
        self,
        primary: Engine,
        standbys: Sequence[Standby] = (),
        *,
        max_lag: float = 30.0,
        interval: float = 2.0,
    ) -> None:
        self.primary = primary
        self.standbys = list(standbys)
        self.max_lag = max_lag
        self.interval = interval
        self._primary_seen = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for standby in self.standbys:
            standby.stale_after = interval + CONNECT_TIMEOUT + CHECK_TIMEOUT_MS / 1000

    @classmethod
    def from_urls(
        cls,
        primary: Engine,
        urls: Sequence[str],
        engine_options: dict[str, Any],
        *,
        max_lag: float = 30.0,
        interval: float = 2.0,
    ) -> Reads:
        """Reads over standbys named by URLs (their engines connect lazily)."""
        options = {**engine_options, "connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
        standbys = [Standby(standby_name(url), create_engine(url, **options)) for url in urls]
        return cls(primary, standbys, max_lag=max_lag, interval=interval)

    @property
    def enabled(self) -> bool:
        """Whether there are standbys to read from."""
        return bool(self.standbys)

    # The request in progress

    def begin(self, position: int | None) -> Token[_Route | None]:
        """Route the reads of the request in progress (this thread's context) from now on;
        `position`: the client's last write, or None."""
        return _route.set(_Route(position))

    def end(self, token: Token[_Route | None]) -> None:
        """End the route `begin` started."""
        _route.reset(token)

    def fall_back(self) -> None:
        """The rest of the request in progress reads from the primary."""
        route = _route.get()
        if route is not None:
            route.chosen, route.standby = True, None

    def read_from(self) -> str | None:
        """Where the request in progress has read: a standby's name, `primary`, or None
        before its first read."""
        route = _route.get()
        if route is None or not route.chosen:
            return None
        return route.standby.name if route.standby is not None else "primary"

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads: to the standby chosen for this request, or the primary.
        A failure on a standby raises StandbyFailed (its cause the database's error)."""
        standby = self._chosen()
        if standby is None:
            with self.primary.connect() as conn:
                yield conn
            return
        try:
            with standby.engine.connect() as conn:
                yield conn
        except DBAPIError as error:
            if _unreachable(error):
                standby.mark_down(error)
            raise StandbyFailed(standby.name) from error

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read connection whose reads all see one snapshot (see `snapshot_on`)."""
        with self.connect() as conn, snapshot_on(conn) as snapshot:
            yield snapshot

    def _chosen(self) -> Standby | None:
        route = _route.get()
        if route is None or not self.standbys:
            return None
        if not route.chosen:
            route.standby = self._choose(route.position)
            route.chosen = True
        return route.standby

    def _choose(self, position: int | None) -> Standby | None:
        """A standby for a read, or None for the primary: any that is up; with a position,
        one that has replayed it, waiting for one at most WAIT seconds (none is waited for
        when the position is beyond the primary's own, or when every standby's replay is
        paused)."""
        up = [standby for standby in self.standbys if standby.state == UP]
        if position is None or not up:
            return random.choice(up) if up else None
        ready = [standby for standby in up if standby.replayed >= position]
        if ready:
            return random.choice(ready)
        if position > self._primary_reached(position):
            return None
        replaying = [standby for standby in up if not standby.paused]
        if not replaying:
            return None
        best = max(replaying, key=lambda standby: standby.replayed)
        return best if best.replayed_by(position, time.monotonic() + WAIT) else None

    def _primary_reached(self, position: int) -> int:
        """The primary's position, read again only when `position` is beyond the last seen."""
        if position > self._primary_seen:
            self.primary_position()
        return self._primary_seen

    # The primary

    def primary_position(self) -> int:
        """The primary's WAL insert position now: at or after the commit of every write that
        has returned (its commit record is inserted), so a standby that has replayed it shows
        them."""
        with self.primary.connect() as conn:
            position = int(conn.execute(_PRIMARY_POSITION).scalar_one())
        with self._lock:
            self._primary_seen = max(self._primary_seen, position)
        return position

    # Checking the standbys

    def check(self, standby: Standby) -> None:
        """Look at one standby (the primary's position first, for its lag)."""
        try:
            primary: Sample | None = Sample(self.primary_position(), time.monotonic())
        except SQLAlchemyError as error:
            log.warning("cannot read the primary's position: %s", str(error).splitlines()[0])
            primary = None
        standby.check(primary, self.max_lag)

    def statuses(self) -> list[StandbyStatus]:
        """Each standby's state as last checked."""
        return [standby.status() for standby in self.standbys]

    def start(self) -> None:
        """Check the standbys now, then each every `interval` seconds in a thread of its own,
        so that one that hangs holds up no other (once per process; nothing to do without
        standbys)."""
        with self._lock:
            if not self.standbys or self._threads:
                return
            self._threads = [
                threading.Thread(
                    target=self._watch, args=(standby,), name="timeline-standby", daemon=True
                )
                for standby in self.standbys
            ]
        for standby in self.standbys:
            self.check(standby)
        for thread in self._threads:
            thread.start()

    def _watch(self, standby: Standby) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check(standby)
            except Exception:  # the checks must go on: a failed one is tried again next time
                log.exception("checking standby %s failed", standby.name)

    def close(self) -> None:
        """Stop checking and close the standbys' connections."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.interval + 5)
        for standby in self.standbys:
            standby.engine.dispose()


def _unreachable(error: DBAPIError) -> bool:
    """Whether a failed read says the standby cannot be reached (no connection, a broken one,
    or a shutdown), not that it cancelled one read (a conflict with recovery)."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    return (
        error.connection_invalidated
        or sqlstate is None
        or sqlstate[:2] == "08"
        or (sqlstate[:3] == "57P")
    )
