"""The SQL tables of the read model, in the same database as the event log.

Times are kept as integers so both SQLite and PostgreSQL compare them with plain indexes:
days as proleptic Gregorian ordinals, recording times as microseconds since the epoch.
Every row is valid over a span of recording time [tx_from, tx_to): a correction or a
retraction closes the span of the version it amends, so a question "as known at" a time
reads the rows whose span contains it, and a question about now reads the open rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

OPEN = 2**62
"""tx_to of a row that nothing has amended yet."""

PRECISIONS = {"day": 0, "month": 1, "year": 2}
"""How `precision` is stored: an event dated to a month or a year can straddle a day."""

metadata = MetaData()

event_versions = Table(
    "tl_events",
    metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("organisation", String(64), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("sort_group", Integer, nullable=False),
    Column("sort_day", Integer, nullable=False),
    Column("last_day", Integer),
    Column("precision", Integer),
    Column("tx_from", BigInteger, nullable=False),
    Column("tx_to", BigInteger, nullable=False),
    Column("end_status", String(16)),
    Column("end_by", String(36)),
    Column("end_reason", Text),
    Column("body", Text, nullable=False),
    Index("tl_events_org_order", "organisation", "sort_group", "sort_day", "position"),
    Index("tl_events_order", "sort_group", "sort_day", "position"),
    Index("tl_events_org_last_day", "organisation", "last_day"),
    Index("tl_events_straddling", "organisation", "precision", "sort_day", "last_day"),
    Index("tl_events_event_id", "event_id", "tx_to"),
)
"""One row per version of each event: the original, and one more per correction."""

facts = Table(
    "tl_facts",
    metadata,
    Column("fact_id", Integer, primary_key=True, autoincrement=True),
    Column("organisation", String(64), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("facet", String(16), nullable=False),
    Column("key", Text, nullable=False),
    Column("subkey", Text, nullable=False),
    Column("ref", String(64)),
    Column("first_day", Integer, nullable=False),
    Column("last_day", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("tx_from", BigInteger, nullable=False),
    Column("tx_to", BigInteger, nullable=False),
    Column("value", Text, nullable=False),
    Column("ident", Text),
    Column("basis", Integer, nullable=False),
    Column("occurred_on", String(64), nullable=False),
    Column("sources", Text, nullable=False),
    Index("tl_facts_probe", "organisation", "facet", "key", "subkey", "first_day", "position"),
    Index(
        "tl_facts_basis", "organisation", "facet", "key", "subkey", "basis", "first_day", "position"
    ),
    Index("tl_facts_ref", "facet", "ref"),
    Index("tl_facts_event", "event_id", "tx_to"),
)
"""What each event version says about each part of the state (see `projections.facts`)."""

facets = Table(
    "tl_facets",
    metadata,
    Column("organisation", String(64), primary_key=True),
    Column("facet", String(16), primary_key=True),
    Column("key", Text, primary_key=True),
)
"""The primary facets each organisation has ever had: the parts of its state to probe."""

organisations = Table(
    "tl_organisations",
    metadata,
    Column("organisation", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("first_recorded", BigInteger, nullable=False),
)
"""Each organisation with events, its stream version, and when its first event was recorded."""

READ_MODEL_TABLES = (event_versions, facts, facets, organisations)

shapes = Table(
    "tl_read_model_shape",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("shape", String(64), nullable=False),
)
"""The shape (see `projections.readmodel.SHAPE`) the read model's rows were written in: a
database whose shape differs, or that has none (written by an earlier version), is rebuilt."""


def micros(moment: datetime) -> int:
    """A recording time as microseconds since the epoch."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
