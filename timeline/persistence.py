"""The event store's infrastructure: one SQLAlchemy engine, pooled, for SQLite and PostgreSQL.

Events are written by the library's SQLAlchemy recorder, extended so that the same
transaction also stores the request's idempotency record (if any) and brings the read
model up to date with its tracking position. An append therefore commits once, and a
crash can leave neither an event without its idempotency record nor a read model that
has applied an event the log does not hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
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
        with self.transaction(commit=True) as txn:
            idempotency = kwargs.get("idempotency")
            if idempotency is not None:
                txn.execute(insert(idempotency_keys).values(**idempotency))
            notification_ids = self._insert_stored_events(txn, stored_events)
            if self.read_model is not None and self.decoder is not None:
                self.read_model.catch_up_within(txn, self, self.decoder)
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
