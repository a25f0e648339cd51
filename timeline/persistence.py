"""The event store's infrastructure: one SQLAlchemy engine, pooled, for SQLite and PostgreSQL.

Events are written by the library's SQLAlchemy recorder, extended so that the same
transaction also stores the request's idempotency record (if any) and brings the read
model up to date with its tracking position. An append therefore commits once, and a
crash can leave neither an event without its idempotency record nor a read model that
has applied an event the log does not hold.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing import persistence as library
from eventsourcing.persistence import InfrastructureFactory, Notification, StoredEvent
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore, transactions
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Connection, Engine, event, insert
from sqlalchemy.orm import Session

from events.organisation import OrganisationEvent
from projections.readmodel import EventDecoder, ReadModel, driver_execute, driver_sql
from timeline.config import Config
from timeline.tables import idempotency_keys


def engine_options(config: Config) -> dict[str, Any]:
    """How the engine connects and pools: a busy timeout for SQLite, a sized pool otherwise
    (TimelineFactory also maps each SQLite connection's file: see `_map_sqlite`)."""
    if config.is_sqlite:
        return {"connect_args": {"timeout": config.sqlite_busy_timeout}}
    return {
        "pool_size": config.pool_size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.pool_timeout,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
    }


def _in_transaction() -> bool:
    """Whether this context is inside one of the library's transactions."""
    try:
        transactions.get()
    except LookupError:
        return False
    return True


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


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _stream_key(uuid: UUID, dialect: str) -> UUID | bytes:
    """A stream id as the event table holds it: UUID on PostgreSQL, BINARY(16) on SQLite."""
    return uuid if dialect == "postgresql" else uuid.bytes


def _stream_id(key: UUID | bytes) -> UUID:
    """A stream id as the event table gives it back (see `_stream_key`)."""
    return key if isinstance(key, UUID) else UUID(bytes=bytes(key))


def _state(state: bytes | memoryview) -> bytes:
    """An event's stored state as bytes (psycopg gives a memoryview)."""
    return bytes(state) if isinstance(state, memoryview) else state


def _notifications(rows: Sequence[Any]) -> list[Notification]:
    """Notifications from rows of (id, originator_id, originator_version, topic, state)."""
    return [
        Notification(
            id=int(notification_id),
            originator_id=_stream_id(stream),
            originator_version=version,
            topic=topic,
            state=_state(state),
        )
        for notification_id, stream, version, topic, state in rows
    ]


class WriterTurns:
    """Writers take turns across processes, so that none loses a race it could have waited for.

    There is one turn for every writer of the event log, whatever organisations it writes to.
    On an SQLite file it is an flock on a file beside the database: the kernel hands it on at
    once, where SQLite's own busy handler sleeps and polls. On PostgreSQL it is a session
    advisory lock, held on a pooled connection this process keeps for it (in autocommit).
    Every insert locks the whole event table until it commits anyway (as the library's
    recorder does, so that log positions are taken in commit order), so a turn per
    organisation let no two commits overlap: it only added an advisory lock per organisation
    and a query per kept stream (see `Timeline.organisations`). Appends to eight
    organisations over HTTP ran at 156-179/s with turns per organisation, 269-286/s with this
    one (bench/http.py, PostgreSQL, two runs each). Turns nest within a thread; an in-memory
    database has none.
    """

    def __init__(self, engine: Engine | None, name: str = "events") -> None:
        self.engine = engine
        self.sqlite_path = sqlite_file(engine)
        self.postgres = engine is not None and engine.dialect.name == "postgresql"
        self._key = _advisory_key(f"timeline writers of {name}")
        self._lock = threading.RLock()
        self._held = 0
        self._owner: int | None = None
        self._file: int | None = None
        self._locker: Connection | None = None
        self._locker_used = 0.0
        self._connection: Connection | None = None

    @property
    def across_processes(self) -> bool:
        """Whether the turn is taken across processes (an SQLite file or PostgreSQL): then
        the log's positions are taken in the order of the turns."""
        return self.sqlite_path is not None or self.postgres

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the writers' turn: wait for every other writer's to end, in any process."""
        if not self.across_processes:
            # An in-memory database: this process is the only writer, and its appends go
            # through one GroupCommit at a time.
            yield
            return
        with self._lock:
            if self._held == 0:
                self._take()
                self._owner = threading.get_ident()
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
                if self._held == 0:
                    self._owner = None
                    self._hand_on()

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

    def writer_connection(self) -> Connection | None:
        """On an SQLite file, the one connection this process writes with, to the thread that
        holds the turn (None to any other thread, and on other databases: on PostgreSQL the
        turn's reads and its transaction take pooled connections).

        Only the turn's holder uses it, so it needs no pool checkout per batch: the writers'
        turn hands it on with the file's write lock. A connection that broke is replaced."""
        if self.sqlite_path is None or self._owner != threading.get_ident():
            return None
        conn = self._connection
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                conn.close()
            conn = self._connection = self.engine.connect()
        return conn

    def close(self) -> None:
        """Give the writer connection back (the engine's pool closes it when disposed), and
        close the advisory lock's."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._drop_locker()


class _Probe(sqlite3.Connection):
    """A driver connection that a WeakSet can hold (sqlite3's own cannot be referred to
    weakly), with the lock its thread holds while it reads: closing a connection that
    another thread is reading on crashes the process (seen on Python 3.11 with SQLite 3.40)."""

    in_use: threading.Lock


class SQLiteProbes:
    """On an SQLite file, each thread's own driver connection for one-statement reads outside
    the pool, such as the read model's position that a kept state is looked for under.

    Through the pool such a read costs a checkout, SQLAlchemy's result machinery and the
    rollback at checkin: 119 us, against 10 us on a driver connection kept by the thread
    (measured by timeit on this machine). Outside a transaction, as these connections always
    are, each statement reads the newest commit. A thread's connection closes when the thread
    ends, or when `close()` is called; elsewhere than on an SQLite file there are none.
    """

    def __init__(self, engine: Engine | None, timeout: float) -> None:
        path = sqlite_file(engine)
        # Absolute, as SQLAlchemy's own connections open it, whatever the working folder
        # (a `file:` URI is left to the pool).
        self.path = os.path.abspath(path) if path and not path.startswith("file:") else None
        self.timeout = timeout
        self._local = threading.local()
        self._open: weakref.WeakSet[_Probe] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of `sql` (a read), or `NotImplemented` where
        there are no probes (not an SQLite file, closed) or the probe failed: ask through the
        pool then, which raises as the service's other reads do."""
        conn: _Probe | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.path is None or self._closed:
                return NotImplemented
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self.timeout,
                    isolation_level=None,
                    check_same_thread=False,  # so that close() may close it from another thread
                    factory=_Probe,
                )
            except sqlite3.Error:  # cannot be opened now: the pool will say why
                return NotImplemented
            conn.in_use = threading.Lock()
            with self._lock:
                if self._closed:
                    conn.close()
                    return NotImplemented
                self._open.add(conn)
            self._local.conn = conn
        try:
            with conn.in_use:
                row = conn.execute(sql).fetchone()
        except sqlite3.Error:  # closed by close() meanwhile, or broken: the pool will say
            self._local.conn = None
            with self._lock:
                self._open.discard(conn)
            conn.close()
            return NotImplemented
        return None if row is None else row[0]

    def close(self) -> None:
        """Close every thread's probe; later reads go through the pool."""
        with self._lock:
            self._closed = True
            for conn in list(self._open):
                with conn.in_use:  # not while its thread reads on it
                    conn.close()
            self._open.clear()


@dataclass(frozen=True)
class LateAppends:
    """Events recorded while a transaction storing others was open, to store in it too:
    as rows, as the domain events they were made from, and their idempotency records."""

    stored: Sequence[StoredEvent]
    events: Sequence[OrganisationEvent]
    idempotency: Sequence[dict[str, Any]]


class TimelineRecorder(SQLAlchemyApplicationRecorder):
    """Stores events; in the same transaction, the idempotency record and the read model."""

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
                    self._turns = WriterTurns(engine, self._table())
        return self._turns

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """The library's query for a stream's events, as driver SQL on a pooled connection
        (its ORM query cost 0.8 ms of each append, in the repository's fast-forward)."""
        engine = self.datastore.engine
        if engine is None or _in_transaction():
            return super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        uuid = _uuid(originator_id)
        params: dict[str, Any] = {"id": _stream_key(uuid, engine.dialect.name)}
        sql = f"SELECT originator_version, topic, state FROM {self._table()}"  # noqa: S608
        sql += " WHERE originator_id = :id"
        if gt is not None:
            sql += " AND originator_version > :gt"
            params["gt"] = gt
        if lte is not None:
            sql += " AND originator_version <= :lte"
            params["lte"] = lte
        sql += " ORDER BY originator_version" + (" DESC" if desc else "")
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [
            StoredEvent(
                originator_id=uuid,
                originator_version=version,
                topic=topic,
                state=_state(state),
            )
            for version, topic, state in self._select(sql, params)
        ]

    def select_after(self, position: int, limit: int) -> list[Notification]:
        """Up to `limit` events stored after log position `position`, in log order."""
        sql = f"{self._notification_columns()} WHERE id > :after ORDER BY id LIMIT :limit"
        return _notifications(self._select(sql, {"after": position, "limit": limit}))

    def _select(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        """The rows of a query written with `:name` parameters, as driver SQL: on the writer
        connection within this thread's turn (SQLite), else on a pooled connection."""
        writer = self.turns.writer_connection()
        if writer is not None:
            return driver_execute(writer, sql, params).rows
        engine = self.datastore.engine
        assert engine is not None
        with engine.connect() as conn:
            return conn.exec_driver_sql(driver_sql(sql, engine.dialect.name), params).all()

    def notifications_on(
        self, conn: Connection, start: int, limit: int, stop: int | None = None
    ) -> list[Notification]:
        """Up to `limit` notifications from id `start` on (to `stop`, inclusive), in log
        order, read on `conn`: inside a transaction that stores events, its own rows too."""
        sql = f"{self._notification_columns()} WHERE id >= :start"
        params: dict[str, Any] = {"start": start, "limit": limit}
        if stop is not None:
            sql += " AND id <= :stop"
            params["stop"] = stop
        sql += " ORDER BY id LIMIT :limit"
        return _notifications(driver_execute(conn, sql, params).rows)

    def _notification_columns(self) -> str:
        """The start of a query for notifications, up to its WHERE clause."""
        return f"SELECT id, originator_id, originator_version, topic, state FROM {self._table()}"  # noqa: S608

    def _insert_stored_events(
        self, conn: Connection, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        """The library's insert, as driver SQL on the transaction's connection: one
        INSERT ... RETURNING per event, in order (the ORM flush cost a millisecond per append,
        a Core insert of the rows with sorted RETURNING 0.4 ms; this about 0.03 ms)."""
        postgres = conn.dialect.name == "postgresql"
        if postgres:  # as the library does: ids are taken in commit order
            driver_execute(conn, f"LOCK TABLE {self._table()} IN EXCLUSIVE MODE", {})
        sql = (
            f"INSERT INTO {self._table()} (originator_id, originator_version, topic, state) "  # noqa: S608
            "VALUES (:id, :version, :topic, :state) RETURNING id"
        )
        notification_ids = []
        for stored in stored_events:
            row = {
                "id": _stream_key(_uuid(stored.originator_id), conn.dialect.name),
                "version": stored.originator_version,
                "topic": stored.topic,
                "state": stored.state,
            }
            ((notification_id,),) = driver_execute(conn, sql, row).rows
            notification_ids.append(int(notification_id))
        if postgres:  # the library's live subscriptions listen on this channel
            driver_execute(conn, f"NOTIFY {self.channel_name}", {})
        return notification_ids

    def _table(self) -> str:
        """The event table's name (ours, from TimelineFactory: never a user's input)."""
        table = self.events_table_name
        return table if self.schema_name is None else f"{self.schema_name}.{table}"

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
        """Insert the events, their idempotency records (a list, as `idempotency=`) and the
        read model rows, atomically, in one writers' turn.

        `recorded_events` (given by `Timeline.save`, in the order of `stored_events`) are the
        events the rows were made from: the read model is written from them, not from the
        rows decoded again. `late`, if given, is asked once before the commit for more
        events to store in the same transaction (`LateAppends`); the ids returned are those
        of `stored_events` alone."""
        assert session is None, "events are stored in a transaction of their own"
        with self.turns.turn(), self._write_transaction() as conn:
            events: Sequence[OrganisationEvent] | None = kwargs.get("recorded_events")
            notification_ids = self._insert_with_read_model(
                conn, stored_events, events, kwargs.get("idempotency")
            )
            late: Callable[[], LateAppends] | None = kwargs.get("late")
            more = late() if late is not None else None
            if more is not None and more.stored:
                self._insert_with_read_model(conn, more.stored, more.events, more.idempotency)
        if self.read_model is not None:
            self.read_model.refresh_statistics()
        return notification_ids

    def _insert_with_read_model(
        self,
        conn: Connection,
        stored_events: Sequence[StoredEvent],
        events: Sequence[OrganisationEvent] | None,
        idempotency: Sequence[dict[str, Any]] | None,
    ) -> list[int]:
        """Insert events and their idempotency records, and apply them to the read model,
        in the transaction on `conn`; return their notification ids."""
        if idempotency:
            conn.execute(insert(idempotency_keys), list(idempotency))
        notification_ids = list(self._insert_stored_events(conn, stored_events))
        if self.read_model is not None and self.decoder is not None:
            if not events:
                events = [self.decoder.to_domain_event(stored) for stored in stored_events]
            recorded = list(zip(notification_ids, events, strict=True))
            self.read_model.catch_up_within(conn, self, self.decoder, recorded)
        return notification_ids

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        """A transaction on a Core connection, committed at the end, with SQLAlchemy's errors
        raised as the library's (an `IntegrityError` is a lost race the commands retry).

        On an SQLite file it is the writer connection of the turn (see `WriterTurns`); on
        PostgreSQL a pooled connection; on an in-memory database the library's own transaction,
        which holds the lock on the one connection that every thread shares."""
        try:
            writer = self.turns.writer_connection()
            if writer is not None:
                with writer.begin():
                    yield writer
            elif not self.turns.postgres:  # in memory: the writer connection is for files
                with self.transaction(commit=True) as session:
                    yield session.connection()
            else:
                engine = self.datastore.engine
                assert isinstance(engine, Engine)
                with engine.begin() as conn:
                    yield conn
        except sqlalchemy.exc.SQLAlchemyError as error:
            raise _library_error(error) from error


def _library_error(error: sqlalchemy.exc.SQLAlchemyError) -> library.PersistenceError:
    """The library's exception for an SQLAlchemy one, as its own transactions translate it."""
    for theirs, ours in (
        (sqlalchemy.exc.InterfaceError, library.InterfaceError),
        (sqlalchemy.exc.DataError, library.DataError),
        (sqlalchemy.exc.OperationalError, library.OperationalError),
        (sqlalchemy.exc.IntegrityError, library.IntegrityError),
        (sqlalchemy.exc.InternalError, library.InternalError),
        (sqlalchemy.exc.ProgrammingError, library.ProgrammingError),
        (sqlalchemy.exc.NotSupportedError, library.NotSupportedError),
        (sqlalchemy.exc.DatabaseError, library.DatabaseError),
    ):
        if isinstance(error, theirs):
            return ours(error)
    return library.PersistenceError(error)


class TimelineFactory(SQLAlchemyFactory):
    """The library's SQLAlchemy factory, with the engine's pool configured from `Config`."""

    application_recorder_class = TimelineRecorder

    def __init__(self, env: Environment, config: Config) -> None:
        # The parent's constructor builds an engine with default options only; build ours.
        InfrastructureFactory.__init__(self, env)
        self._schema_name = None
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
