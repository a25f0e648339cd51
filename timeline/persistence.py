"""The event store's infrastructure: one SQLAlchemy engine, pooled, for SQLite and PostgreSQL.

Events are written by the library's SQLAlchemy recorder, extended through its public
`insert_events` so that the same transaction also stores the appends' idempotency records
and brings the read model up to date with its tracking position (`TimelineRecorder`).
Writers take turns across processes (`WriterTurns`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Connection, Engine, event, insert
from sqlalchemy.orm import Session

from events.organisation import OrganisationEvent
from projections.readmodel import EventDecoder, ReadModel, driver_execute
from timeline.config import Config
from timeline.tables import idempotency_keys


def engine_options(config: Config) -> dict[str, Any]:
    """How the engine connects and pools: a busy timeout for SQLite, a sized pool otherwise
    (TimelineFactory also maps each SQLite connection's file: see `_map_sqlite`).

    psycopg prepares no statements here (`prepare_threshold=None`): it drops every prepared
    statement of a connection when a transaction on it rolls back (each read does), so
    they were prepared afresh again and again, and dropped with a `DEALLOCATE ALL` round
    trip on the connection's next use."""
    if config.is_sqlite:
        return {"connect_args": {"timeout": config.sqlite_busy_timeout}}
    return {
        "connect_args": {"prepare_threshold": None},
        "pool_size": config.pool_size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.pool_timeout,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
    }


LOCKER_IDLE = 300.0
"""Seconds after which the connection kept for the writers' advisory lock is renewed before
its next use: the pool pings connections at checkout only, and this one stays checked out."""


def _advisory_key(name: str) -> int:
    """An advisory lock key: 64 bits of a hash of `name`."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def sqlite_file(engine: Engine | None) -> str | None:
    """The file of an SQLite engine's database, as its URL names it (None for another
    database, or an in-memory one)."""
    if engine is None or engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    return path if path and path != ":memory:" else None


class WriterTurns:
    """Writers take turns, within a process and across processes, so that a writer loads the
    streams it appends to after the last commit and loses no race it could have waited for.

    There is one turn for every writer of the event log, whatever organisations it writes to
    (every insert locks the whole event table until it commits anyway, as the library's
    recorder does so that log positions are taken in commit order). On an SQLite file it is
    an flock on a file beside the database: the kernel hands it on at once, where SQLite's
    own busy handler sleeps and polls. On PostgreSQL it is a session advisory lock, held on a
    connection this process keeps for it (in autocommit). Turns nest within a thread; on an
    in-memory database the turn is this process's alone.
    """

    def __init__(self, engine: Engine | None, name: str = "events") -> None:
        self.engine = engine
        self.sqlite_path = sqlite_file(engine)
        self.postgres = engine is not None and engine.dialect.name == "postgresql"
        self._key = _advisory_key(f"timeline writers of {name}")
        self._lock = threading.RLock()
        self._held = 0
        self._file: int | None = None
        self._locker: Connection | None = None
        self._locker_used = 0.0

    @property
    def across_processes(self) -> bool:
        """Whether the turn is taken across processes (an SQLite file or PostgreSQL): then
        the log's positions are taken in the order of the turns."""
        return self.sqlite_path is not None or self.postgres

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the writers' turn: wait for every other writer's to end, in any process."""
        if not self.across_processes:
            # An in-memory database: this process is the only writer; the library's own
            # lock on its one connection orders the transactions.
            with self._lock:
                yield
            return
        with self._lock:
            if self._held == 0:
                self._take()
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
                if self._held == 0:
                    self._hand_on()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection to read on outside a transaction: while this thread holds the turn on
        PostgreSQL, the one its lock is held on (no checkout, no ping: one round trip a
        statement), else one from the pool (in autocommit on PostgreSQL; SQLite's driver
        begins no transaction for a read)."""
        if self._lock.acquire(blocking=False):  # held by this thread, or by none
            try:
                if self._held and self._locker is not None:
                    yield self._locker
                    return
            finally:
                self._lock.release()
        assert self.engine is not None
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT") if self.postgres else conn

    def _take(self) -> None:
        """Wait for the turn: the flock, or the advisory lock."""
        if self.sqlite_path is not None:
            if self._file is None:
                self._file = os.open(
                    f"{self.sqlite_path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o644
                )
            fcntl.flock(self._file, fcntl.LOCK_EX)
            return
        for attempt in (1, 2):
            try:
                self._lock_advisory()
                return
            except Exception as error:
                self._drop_locker()  # never kept half-broken
                broken = isinstance(error, sqlalchemy.exc.DBAPIError) and (
                    error.connection_invalidated
                )
                if attempt == 2 or not broken:
                    raise
                # The kept connection had broken (a restart): once more, on a new one.

    def _lock_advisory(self) -> None:
        locker = self._locker
        idle = time.monotonic() - self._locker_used
        if locker is not None and (locker.invalidated or locker.closed or idle > LOCKER_IDLE):
            self._drop_locker()  # not pinged by the pool while kept: renewed when idle long
            locker = None
        if locker is None:
            assert self.engine is not None
            locker = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._locker = locker
        # Through SQLAlchemy's error handling, which tells a broken connection.
        locker.exec_driver_sql("SELECT pg_advisory_lock(%(key)s)", {"key": self._key})
        self._locker_used = time.monotonic()

    def _hand_on(self) -> None:
        """Let the next writer take the turn. Should the advisory lock's connection have
        failed, closing it ends its session, and with it the lock."""
        if self.sqlite_path is not None:
            assert self._file is not None
            fcntl.flock(self._file, fcntl.LOCK_UN)
            return
        assert self._locker is not None
        try:
            self._locker.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)", {"key": self._key})
        except Exception:
            self._drop_locker()
        else:
            self._locker_used = time.monotonic()

    def _drop_locker(self) -> None:
        """Close the advisory lock's connection for good (not back to the pool)."""
        if self._locker is not None:
            locker, self._locker = self._locker, None
            with suppress(Exception):  # already broken, perhaps: it goes all the same
                locker.invalidate()
                locker.close()

    def close(self) -> None:
        """Close the advisory lock's connection (if any)."""
        with self._lock:
            self._drop_locker()


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first answer to an append made with an `Idempotency-Key`: a row of
    `tl_idempotency`, stored in the append's transaction."""

    token_id: str
    organisation: str
    key: str
    request_sha256: str
    response: str
    created_at: int
    status: int = 201


@dataclass(frozen=True)
class Alongside:
    """What a save stores beside its events, in their transaction: the domain events the
    rows were made from (in the order saved; the read model is written from them) and
    the idempotency records of the appends. `Application.save(..., alongside=...)` hands it
    to `TimelineRecorder.insert_events`."""

    events: Sequence[OrganisationEvent] = ()
    idempotency: Sequence[IdempotencyRecord] = ()


class TimelineRecorder(SQLAlchemyApplicationRecorder):
    """The library's recorder; in the transaction that inserts the events, it also stores
    their idempotency records and brings the read model up to date with its tracking
    position. An append therefore commits once: a crash can leave neither an event without
    its idempotency record nor a read model that applied an event the log does not hold."""

    read_model: ReadModel | None = None
    decoder: EventDecoder | None = None
    _turns_made = threading.Lock()

    @property
    def turns(self) -> WriterTurns:
        """The writers' turns on this recorder's database."""
        if "_turns" not in self.__dict__:
            with self._turns_made:  # one WriterTurns per recorder, even if threads race here
                if "_turns" not in self.__dict__:
                    engine = self.datastore.engine
                    engine = engine if isinstance(engine, Engine) else None
                    self._turns = WriterTurns(engine, self.events_table_name)
        return self._turns

    def follow_with(self, read_model: ReadModel, decoder: EventDecoder) -> None:
        """Keep `read_model` up to date inside every transaction that stores events."""
        self.read_model = read_model
        self.decoder = decoder

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        session: Session | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Insert the events as the library does and, in the same transaction, what is
        `alongside` them (see `Alongside`) and the read model's rows; return the events'
        notification ids."""
        alongside = kwargs.get("alongside")
        if not isinstance(alongside, Alongside):
            alongside = Alongside()
        with self.transaction(commit=True) as transaction:
            notification_ids = super().insert_events(stored_events, session=transaction)
            assert notification_ids is not None
            conn = transaction.connection()
            if alongside.idempotency:
                rows = [asdict(record) for record in alongside.idempotency]
                conn.execute(insert(idempotency_keys), rows)
            if self.read_model is not None and self.decoder is not None:
                events = list(alongside.events)
                if not _same_events(events, stored_events):
                    events = [self.decoder.to_domain_event(stored) for stored in stored_events]
                recorded = list(zip(notification_ids, events, strict=True))
                self.read_model.catch_up_within(conn, self, self.decoder, recorded)
        if self.read_model is not None:
            self.read_model.refresh_statistics()
        return notification_ids

    def events_from(
        self, conn: Connection, versions: Mapping[UUID, int]
    ) -> dict[UUID, list[StoredEvent]]:
        """The stored events of each stream from the version given for it on, in order, read
        on `conn` in one statement on the driver's cursor (the library's `select_events`
        reads one stream a call, through the ORM). psycopg binds and reads stream ids as
        UUIDs itself; on SQLite they go through the column's own type (16 bytes)."""
        if not versions:
            return {}
        dialect = conn.dialect

        def same(value: Any) -> Any:
            return value

        to_driver, from_driver = same, same
        if dialect.name != "postgresql":
            kind = sqlalchemy.inspect(self.events_record_cls).local_table.c.originator_id.type
            to_driver = kind.bind_processor(dialect) or same
            from_driver = kind.result_processor(dialect, None) or same
        params: dict[str, Any] = {}
        wanted = []
        for n, (stream, version) in enumerate(versions.items()):
            params[f"id{n}"], params[f"v{n}"] = to_driver(stream), version
            wanted.append(f"(originator_id = :id{n} AND originator_version >= :v{n})")
        # The table's name is the configured one; every value is bound.
        columns = "originator_id, originator_version, topic, state"
        sql = (
            f"SELECT {columns} FROM {self.events_table_name} "  # noqa: S608
            f"WHERE {' OR '.join(wanted)} ORDER BY originator_id, originator_version"
        )
        found: dict[UUID, list[StoredEvent]] = {}
        for raw_id, version, topic, raw_state in driver_execute(conn, sql, params).rows:
            stream = from_driver(raw_id)
            state = bytes(raw_state) if isinstance(raw_state, memoryview) else raw_state
            found.setdefault(stream, []).append(StoredEvent(stream, version, topic, state))
        return found

    def notifications_on(
        self, conn: Connection, start: int, limit: int, stop: int | None = None
    ) -> list[Notification]:
        """Up to `limit` notifications from id `start` on (to `stop`), in log order, read in
        the transaction open on `conn` (the library's query takes the transaction open in
        this context, so it sees the rows this transaction has inserted)."""
        del conn  # the library's query runs in the same transaction
        return self.select_notifications(start, limit, stop)


def _same_events(events: Sequence[OrganisationEvent], stored: Sequence[StoredEvent]) -> bool:
    """Whether `events` are the domain events of the rows `stored`, in the same order."""
    return len(events) == len(stored) and all(
        event.originator_id == row.originator_id
        and event.originator_version == row.originator_version
        for event, row in zip(events, stored, strict=True)
    )


class TimelineFactory(SQLAlchemyFactory):
    """The library's SQLAlchemy factory, with the engine's pool configured from `Config`."""

    application_recorder_class = TimelineRecorder

    def __init__(self, env: Environment, config: Config) -> None:
        super().__init__(env)
        # The parent's datastore has an engine with default options (it connects lazily, so
        # it is dropped unused); ours has the configured pool.
        self.datastore = SQLAlchemyDatastore(url=config.database_url, **engine_options(config))
        if config.is_sqlite:
            event.listen(self.engine, "connect", _map_sqlite(config.sqlite_mmap_size))

    @property
    def engine(self) -> Engine:
        """The one engine (and pool) every part of the service shares."""
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        return engine

    def close(self) -> None:
        """Close the pool's connections."""
        self.engine.dispose()


def _map_sqlite(size: int) -> Callable[[Any, Any], None]:
    """A connect hook that has SQLite read the database file through a memory map of up to
    `size` bytes (0: through its page cache only; SQLite caps it at its build's maximum).

    A connection's page cache is emptied whenever another process has written to the
    database, so with two or more server processes every batch of appends read its pages
    afresh, each with a system call and a copy, and more of them as the file grew; through
    the map a page is read where it lies (pages still in the WAL are read from there). See
    bench/RESULTS.md, 2026-12-02, for A/B runs. The probes' one-row reads are not mapped.
    With a map, an I/O error on the file ends the process (SIGBUS) instead of failing one
    statement."""

    def map_file(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA mmap_size={int(size)}")
        finally:
            cursor.close()

    return map_file


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one snapshot, so a state is never half an append."""
    with engine.connect() as conn, snapshot_on(conn) as snapshot:
        yield snapshot


@contextmanager
def snapshot_on(conn: Connection) -> Iterator[Connection]:
    """Reads on `conn` (no transaction of its own begun) that all see one snapshot.

    PostgreSQL: a REPEATABLE READ transaction. SQLite: an explicit BEGIN, because its driver
    starts transactions only for writes and would read each statement afresh.
    """
    if conn.dialect.name == "postgresql":
        snapshot = conn.execution_options(isolation_level="REPEATABLE READ")
        with snapshot.begin():
            yield snapshot
    else:
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()
