"""The event store's infrastructure: one SQLAlchemy engine, pooled, for SQLite and PostgreSQL.

Events are written by the library's SQLAlchemy recorder, extended so that the same
transaction also stores the request's idempotency record (if any) and brings the read
model up to date with its tracking position. An append therefore commits once, and a
crash can leave neither an event without its idempotency record nor a read model that
has applied an event the log does not hold.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Notification, StoredEvent
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Connection, Engine, insert
from sqlalchemy.orm import Session

from projections.readmodel import EventDecoder, ReadModel
from timeline.config import Config
from timeline.tables import idempotency_keys


def engine_options(config: Config) -> dict[str, Any]:
    """How the engine connects and pools: a busy timeout for SQLite, a sized pool otherwise."""
    if config.is_sqlite:
        return {"connect_args": {"timeout": config.sqlite_busy_timeout}}
    return {
        "pool_size": config.pool_size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.pool_timeout,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
    }


class TimelineRecorder(SQLAlchemyApplicationRecorder):
    """Stores events; in the same transaction, the idempotency record and the read model."""

    read_model: ReadModel | None = None
    decoder: EventDecoder | None = None
    _turn = threading.Lock()
    _lock_file: int | None = None

    @contextmanager
    def _writers_turn(self) -> Iterator[None]:
        """On an SQLite file, writers of every process take turns through an flock on a file
        beside the database: the kernel hands the lock on at once, where SQLite's own busy
        handler sleeps and polls."""
        engine = self.datastore.engine
        path = (
            engine.url.database if engine is not None and engine.dialect.name == "sqlite" else None
        )
        if not path or path == ":memory:":
            yield
            return
        with self._turn:
            if self._lock_file is None:
                self._lock_file = os.open(f"{path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

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
        """Insert the events, the idempotency record and the read model rows, atomically."""
        assert session is None, "events are stored in a transaction of their own"
        with self._writers_turn(), self.transaction(commit=True) as txn:
            idempotency = kwargs.get("idempotency")
            if idempotency is not None:
                txn.execute(insert(idempotency_keys).values(**idempotency))
            notification_ids = self._insert_stored_events(txn, stored_events)
            if self.read_model is not None and self.decoder is not None:
                recorded = [
                    Notification(
                        id=notification_id,
                        originator_id=stored.originator_id,
                        originator_version=stored.originator_version,
                        topic=stored.topic,
                        state=stored.state,
                    )
                    for notification_id, stored in zip(notification_ids, stored_events, strict=True)
                ]
                self.read_model.catch_up_within(txn, self, self.decoder, recorded)
        if self.read_model is not None:
            self.read_model.refresh_statistics()
        return notification_ids


class TimelineFactory(SQLAlchemyFactory):
    """The library's SQLAlchemy factory, with the engine's pool configured from `Config`."""

    application_recorder_class = TimelineRecorder

    def __init__(self, env: Environment, config: Config) -> None:
        # The parent's constructor builds an engine with default options only; build ours.
        InfrastructureFactory.__init__(self, env)
        self._schema_name = None
        self.datastore = SQLAlchemyDatastore(url=config.database_url, **engine_options(config))

    @property
    def engine(self) -> Engine:
        """The one engine (and pool) every part of the service shares."""
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        return engine

    def close(self) -> None:
        """Close the pool's connections."""
        self.engine.dispose()


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one snapshot, so a state is never half an append.

    PostgreSQL: a REPEATABLE READ transaction. SQLite: an explicit BEGIN, because its driver
    starts transactions only for writes and would read each statement afresh.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            snapshot = conn.execution_options(isolation_level="REPEATABLE READ")
            with snapshot.begin():
                yield snapshot
        else:
            conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()
