"""Keeping the SQL read model up to date from the application's notification log.

The read model is written only here, and only together with its tracking position: each
batch of notifications is applied and the tracking row advanced in one transaction, so a
crash leaves either the whole batch or none of it, and catching up resumes where the last
committed batch ended. The first statement of every batch locks the tracking row, so
processes sharing a database take turns instead of applying the same events twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from eventsourcing.persistence import Notification, Tracking
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy import Connection, Engine, delete, exc, inspect, select, text, update

from events.organisation import OrganisationEvent
from projections.facts import ATTESTATION, CHANGE, FACTS_VERSION, facts_of
from projections.records import EventRecord, EventView, corrected
from projections.search import search_text
from projections.tables import (
    OPEN,
    READ_MODEL_TABLES,
    SEARCH_INDEX_DDL,
    date_shape,
    day_number,
    event_versions,
    facts,
    metadata,
    micros,
    search_documents,
    shapes,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BULK = 1000
"""After applying this many events at once, PostgreSQL's planner statistics are refreshed."""


def _shape() -> str:
    """A fingerprint of the read model's tables (columns, types, indexes) and of the facts
    written into them: any change to either makes existing rows unfit to answer from."""
    parts = [f"facts {FACTS_VERSION}", *(sql for ddl in SEARCH_INDEX_DDL.values() for sql in ddl)]
    for table in READ_MODEL_TABLES:
        parts.append(f"table {table.name}")
        parts += [f"{c.name} {c.type} {c.nullable}" for c in table.columns]
        parts += sorted(
            f"index {index.name} {[c.name for c in index.columns]}" for index in table.indexes
        )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


SHAPE = _shape()
"""The shape this version writes; a read model of another shape is rebuilt at startup."""


class NotificationSource(Protocol):
    """Where notifications come from: the application recorder, read on a given connection."""

    def notifications_on(
        self, conn: Connection, start: int, limit: int, stop: int | None = None
    ) -> list[Notification]:
        """Notifications from id `start` on (to `stop`), in recording order, read on `conn`."""
        ...  # pragma: no cover


class EventDecoder(Protocol):
    """Turns a stored notification back into a domain event (the application's mapper)."""

    def to_domain_event(self, stored_event: Any) -> Any:
        """The domain event a notification holds."""
        ...  # pragma: no cover


def record_of(event: OrganisationEvent, position: int) -> EventRecord:
    """The read side's view of a domain event at its place in the log."""
    return EventRecord(
        organisation=event.organisation,
        id=str(event.event_id),
        type=event.TYPE,
        version=event.originator_version,
        position=position,
        recorded_at=event.timestamp,
        recorded_by=event.recorded_by,
        occurred_on=event.occurred_on,
        data=event.data,
        sources=event.sources,
        note=event.note,
        basis=event.basis,
    )


def stored_event_json(event: OrganisationEvent) -> dict[str, Any]:
    """The stored event as the contract shows it, straight after it was recorded."""
    return EventView(record_of(event, 0), event.occurred_on, event.data).to_json()


def record_from_body(body: dict[str, Any], position: int) -> EventRecord:
    """An event record rebuilt from a stored event body of the read model."""
    return EventRecord(
        organisation=body["organisation"],
        id=body["id"],
        type=body["type"],
        version=body["version"],
        position=position,
        recorded_at=datetime.fromisoformat(body["recorded_at"]),
        recorded_by=body["recorded_by"],
        occurred_on=body.get("occurred_on"),
        data=body["data"],
        sources=body["sources"],
        note=body.get("note"),
        basis=body.get("basis"),
    )


class ReadModel(SQLAlchemyTrackingRecorder):
    """The read model's tables and their tracking position, in the event log's database."""

    def __init__(self, datastore: Any, *, upstream: str, tracking_table_name: str) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name)
        self.upstream = upstream
        self._stale_statistics = False
        self._statistics_deferred = False

    def create_table(self) -> None:
        """Create the read model and tracking tables, and the tracking row they lock."""
        super().create_table()
        assert self.datastore.engine is not None
        metadata.create_all(self.datastore.engine, tables=list(READ_MODEL_TABLES))
        for table in READ_MODEL_TABLES:  # create_all skips the indexes of tables that exist
            for index in table.indexes:
                index.create(self.datastore.engine, checkfirst=True)
        if self.max_tracking_id(self.upstream) is None:
            self.insert_tracking(Tracking(self.upstream, 0))

    def position(self) -> int:
        """The id of the last notification applied."""
        return self.max_tracking_id(self.upstream) or 0

    def catch_up(self, source: NotificationSource, decoder: EventDecoder) -> int:
        """Apply every notification not applied yet, in a transaction of its own; return the
        position reached."""
        with self.transaction(commit=True) as session:
            position = self.catch_up_within(session.connection(), source, decoder)
        self.refresh_statistics()
        return position

    def catch_up_within(
        self,
        conn: Connection,
        source: NotificationSource,
        decoder: EventDecoder,
        recorded: Sequence[tuple[int, OrganisationEvent]] = (),
    ) -> int:
        """Apply every notification not applied yet inside the transaction on `conn`, and
        advance the tracking position with them; return the position reached.

        `recorded` are the events the caller has just inserted in this transaction, with their
        notification ids: when nothing else is pending before them they are applied as they
        are, without reading them back from the log.
        """
        position = start = self._lock(conn)
        if recorded and not _pending_before(conn, source, position, recorded[0][0]):
            _apply(conn, recorded)
            position = recorded[-1][0]
        else:
            while notifications := source.notifications_on(conn, position + 1, BATCH_SIZE):
                _apply(conn, [(n.id, decoder.to_domain_event(n)) for n in notifications])
                position = notifications[-1].id
                if len(notifications) < BATCH_SIZE:
                    break
        self._set_position(conn, position)
        if position - start >= BULK:
            self._stale_statistics = True
        return position

    def refresh_statistics(self, vacuum: bool = False) -> None:
        """After a bulk load, let PostgreSQL's planner see the read model's new size (autovacuum
        would, but only later; until then it plans as if the tables were empty); with
        `vacuum`, also reclaim the rows a rebuild replaced (all of them dead until then)."""
        if self._statistics_deferred:
            return
        engine = self.datastore.engine
        stale, self._stale_statistics = self._stale_statistics, False
        if not stale or not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
            return
        command = "VACUUM (ANALYZE) " if vacuum else "ANALYZE "
        with engine.connect() as conn:  # VACUUM runs outside a transaction
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text(command + ", ".join(t.name for t in READ_MODEL_TABLES)))

    @contextmanager
    def statistics_deferred(self) -> Iterator[None]:
        """Refresh the planner's statistics once, after the block, instead of after each
        bulk save within it: an import's saves share one transaction, whose rows ANALYZE
        sees only once it commits (and at a million rows each ANALYZE reads its sample)."""
        self._statistics_deferred = True
        try:
            yield
        finally:
            self._statistics_deferred = False
        self.refresh_statistics()

    def rebuild(self, source: NotificationSource, decoder: EventDecoder) -> int:
        """Empty the read model and apply the whole log again, in one transaction; then, on
        PostgreSQL, vacuum it: every row the rebuild replaced is dead, and lists read
        through them until autovacuum comes by (bench/RESULTS.md, 2026-12-05)."""
        with self.transaction(commit=True) as session:
            conn = session.connection()
            self._lock(conn)
            for table in READ_MODEL_TABLES:
                conn.execute(delete(table))
            self._set_position(conn, 0)
            position = self.catch_up_within(conn, source, decoder)
        self._stale_statistics = True
        self.refresh_statistics(vacuum=True)
        return position

    def upgrade(self) -> bool:
        """Before `create_table`: bring a read model written in another shape (by an earlier
        version) to this one. Its tables are made afresh and its tracking position (if any)
        reset, so that catching up applies the whole log again. Return True if it had to."""
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        shapes.create(engine, checkfirst=True)
        with engine.begin() as conn:
            # Writing the row first takes its lock (PostgreSQL) or the write lock (SQLite): a
            # second process waits here, then finds the new shape.
            driver_execute(conn, _NEW_SHAPE, {"name": self.upstream})
            driver_execute(conn, _LOCK_SHAPE, {"name": self.upstream})
            found = conn.execute(
                select(shapes.c.shape).where(shapes.c.name == self.upstream)
            ).scalar()
            if found == SHAPE:
                return False
            if found:
                log.warning("the read model has another shape; rebuilding it from the event log")
            metadata.drop_all(conn, tables=list(READ_MODEL_TABLES))
            metadata.create_all(conn, tables=list(READ_MODEL_TABLES))
            conn.execute(update(shapes).where(shapes.c.name == self.upstream).values(shape=SHAPE))
            tables = inspect(conn)
            if tables is not None and tables.has_table(self.tracking_table_name):
                self._set_position(conn, 0)
        return True

    def _set_position(self, conn: Connection, position: int) -> None:
        sql = (
            f"UPDATE {self.tracking_table_name} SET notification_id = :position "
            "WHERE application_name = :name"
        )
        driver_execute(conn, sql, {"position": position, "name": self.upstream})

    def _lock(self, conn: Connection) -> int:
        # Writing the tracking row first takes the row lock on PostgreSQL and the write
        # lock on SQLite before anything is read, so the position read next is current.
        sql = (
            f"UPDATE {self.tracking_table_name} SET notification_id = notification_id "
            "WHERE application_name = :name RETURNING notification_id"
        )
        (position,) = driver_execute(conn, sql, {"name": self.upstream}).rows
        return int(position[0])


def _pending_before(
    conn: Connection, source: NotificationSource, position: int, first: int
) -> bool:
    """True if the log holds notifications between `position` and `first` (ids can also skip
    numbers, after a rolled-back insert, so a gap alone proves nothing)."""
    if first == position + 1:
        return False
    return bool(source.notifications_on(conn, position + 1, 1, stop=first - 1))


def _apply(conn: Connection, events: Iterable[tuple[int, OrganisationEvent]]) -> None:
    """Write the rows of these events, each at its notification id."""
    writer = _Writer(conn)
    for position, event in events:
        writer.apply(record_of(event, position))
    writer.flush()


@dataclass
class _Writer:
    """Buffers the rows of one batch; amendments flush first, as they update earlier rows."""

    conn: Connection

    def __post_init__(self) -> None:
        self.versions: list[dict[str, Any]] = []
        self.facts: list[dict[str, Any]] = []
        self.facets: set[tuple[str, str, str]] = set()
        self.streams: dict[str, tuple[int, int]] = {}
        self.search: list[dict[str, Any]] = []
        self.buffered: set[str] = set()

    def apply(self, record: EventRecord) -> None:
        """Add the rows one recorded event brings, and amend the rows it amends."""
        tx = micros(record.recorded_at)
        known = self.streams.get(record.organisation, (record.version, tx))
        self.streams[record.organisation] = (max(known[0], record.version), min(known[1], tx))
        if record.is_amendment:
            if record.data["event_id"] in self.buffered:  # its rows must be there to amend
                self.flush()
            self._amend(record, tx)
        self._add(EventView(record, record.occurred_on, record.data), tx)

    def _add(self, view: EventView, tx: int) -> None:
        record = view.record
        when = view.when
        group, day = view.sort_key()[:2]
        self.buffered.add(record.id)
        self.versions.append(
            {
                "organisation": record.organisation,
                "event_id": record.id,
                "position": record.position,
                "version": record.version,
                "type": record.type,
                "sort_group": group,
                "sort_day": day,
                "last_day": day_number(when.last_day) if when else None,
                "precision": date_shape(when) if when else None,
                "tx_from": tx,
                "tx_to": OPEN,
                "body": json.dumps(view.to_json(), ensure_ascii=False),
            }
        )
        if not record.is_amendment:  # found by their targets, which show the amended text
            self.search.append(
                {
                    **{k: self.versions[-1][k] for k in _SEARCH_KEYS},
                    "event_id": record.id,
                    "content": search_text(view),
                }
            )
        if when is None:
            return
        sources = json.dumps(record.sources, ensure_ascii=False)
        for fact in facts_of(view):
            self.facts.append(
                {
                    "organisation": record.organisation,
                    "event_id": record.id,
                    "facet": fact.facet,
                    "key": fact.key,
                    "subkey": fact.subkey,
                    "ref": fact.ref,
                    "first_day": day,
                    "last_day": day_number(when.last_day),
                    "position": record.position,
                    "tx_from": tx,
                    "tx_to": OPEN,
                    "value": json.dumps(fact.value, ensure_ascii=False),
                    "ident": fact.ident,
                    "basis": ATTESTATION if fact.attested else CHANGE,
                    "occurred_on": view.occurred_on,
                    "sources": sources,
                }
            )
            if fact.primary:
                self.facets.add((record.organisation, fact.facet, fact.key))

    def _amend(self, amendment: EventRecord, tx: int) -> None:
        target_id = amendment.data["event_id"]
        current = self.conn.execute(
            select(event_versions.c.position, event_versions.c.body)
            .where(event_versions.c.event_id == target_id, event_versions.c.tx_to == OPEN)
            .order_by(event_versions.c.tx_from)
        ).first()
        if current is None:  # the domain refuses such amendments; nothing to close
            return
        status = "retracted" if amendment.type == "retracted" else "corrected"
        self.conn.execute(
            update(event_versions)
            .where(event_versions.c.event_id == target_id, event_versions.c.tx_to == OPEN)
            .values(
                tx_to=tx,
                end_status=status,
                end_by=amendment.id,
                end_reason=amendment.data["reason"],
            )
        )
        self.conn.execute(
            update(facts)
            .where(facts.c.event_id == target_id, facts.c.tx_to == OPEN)
            .values(tx_to=tx)
        )
        self.conn.execute(delete(search_documents).where(search_documents.c.event_id == target_id))
        if amendment.type == "corrected":
            self._add(corrected(self._original(target_id, current.position), amendment), tx)

    def _original(self, event_id: str, position: int) -> EventRecord:
        body = self.conn.execute(
            select(event_versions.c.body)
            .where(event_versions.c.event_id == event_id)
            .order_by(event_versions.c.tx_from)
            .limit(1)
        ).scalar_one()
        return record_from_body(json.loads(body), position)

    def flush(self) -> None:
        """Write the buffered rows (every append passes here, so as plain driver SQL)."""
        if self.versions:
            self._run(_insert_sql(event_versions.name, self.versions[0]), self.versions)
        if self.facts:
            self._run(_insert_sql(facts.name, self.facts[0]), self.facts)
        if self.facets:
            rows = [{"organisation": o, "facet": f, "key": k} for o, f, k in sorted(self.facets)]
            self._run(_NEW_FACET, rows)
        if self.search:
            self._run(_insert_sql(search_documents.name, self.search[0]), self.search)
        if self.streams:  # one statement for all of them: an import touches thousands
            streams = sorted(self.streams.items())
            versions = [
                {"organisation": o, "version": v, "first_recorded": t} for o, (v, t) in streams
            ]
            self._run(_STREAM_VERSION, versions)
        self.versions, self.facts, self.facets, self.streams = [], [], set(), {}
        self.search = []
        self.buffered = set()

    def _run(self, sql: str, params: Any) -> Executed:
        return driver_execute(self.conn, sql, params)


_SEARCH_KEYS = (
    "organisation",
    "position",
    "type",
    "sort_group",
    "sort_day",
    "last_day",
    "precision",
)
"""The columns a search row shares with its event version's row (its filters)."""

_NEW_FACET = (
    "INSERT INTO tl_facets (organisation, facet, key) VALUES (:organisation, :facet, :key) "
    "ON CONFLICT DO NOTHING"
)
_NEW_SHAPE = (
    "INSERT INTO tl_read_model_shape (name, shape) VALUES (:name, '') ON CONFLICT DO NOTHING"
)
_LOCK_SHAPE = "UPDATE tl_read_model_shape SET shape = shape WHERE name = :name"
_STREAM_VERSION = (
    "INSERT INTO tl_organisations (organisation, version, first_recorded) "
    "VALUES (:organisation, :version, :first_recorded) "
    "ON CONFLICT (organisation) DO UPDATE SET version = excluded.version"
)


@lru_cache(maxsize=32)
def _insert_sql_for(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{column}" for column in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"


def _insert_sql(table: str, row: dict[str, Any]) -> str:
    return _insert_sql_for(table, tuple(row))


@dataclass(frozen=True)
class Executed:
    """What a statement run by `driver_execute` did: rows changed, and rows returned."""

    rowcount: int
    rows: Sequence[Any]


def driver_execute(conn: Connection, sql: str, params: Any) -> Executed:
    """Run SQL written with `:name` parameters on the connection's own driver cursor, in its
    transaction (a list of parameter sets runs it for each). This is `exec_driver_sql` without
    its result machinery, which cost 40 of every 60 microseconds on the statements each
    append runs. A driver error is raised as SQLAlchemy raises it, so transactions translate
    it as usual."""
    statement = driver_sql(sql, conn.dialect.name)
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        if isinstance(params, list):
            cursor.executemany(statement, params)
        else:
            cursor.execute(statement, params)
        return Executed(cursor.rowcount, cursor.fetchall() if cursor.description else [])
    except dbapi_error as error:
        raise exc.DBAPIError.instance(
            statement, params, error, dbapi_error, dialect=conn.dialect
        ) from error
    finally:
        cursor.close()


@lru_cache(maxsize=64)
def driver_sql(sql: str, dialect: str) -> str:
    """SQL written with `:name` parameters, in the driver's own style (psycopg: %(name)s)."""
    if dialect != "postgresql":
        return sql
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
