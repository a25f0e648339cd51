"""The SQL tables of the read model, in the same database as the event log.

Times are kept as integers so both SQLite and PostgreSQL compare them with plain indexes:
days as proleptic Gregorian ordinals, recording times as microseconds since the epoch.
Every row is valid over a span of recording time [tx_from, tx_to): a correction or a
retraction closes the span of the version it amends, so a question "as known at" a time
reads the rows whose span contains it, and a question about now reads the open rows.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    text,
)

from events.dates import EDTFDate

OPEN = 2**62
"""tx_to of a row that nothing has amended yet."""

PRECISIONS = {"day": 0, "month": 1, "year": 2}
"""How `precision` is stored for a range that is one day, one calendar month or one calendar
year (`2017-XX` and `2017-01/2017-12` too): the range straddling a day, if any, starts on the
first of that day's month or year."""

OPEN_END = 3
"""`precision` of a range with no last day (`2018-02/..`): it straddles every day from its
first on."""

OPEN_START = 4
"""`precision` of a range with no first day (`../2018-02`; it sorts by its last day): it
straddles every day before its last."""

LONG_SPANS = 10
"""`precision` of any other range (a season, `201X`, an interval) is LONG_SPANS plus the bit
length of its number of days: a range of class k is shorter than 2**k days, so one straddling
a day starts fewer than 2**k days before it."""

LONGEST_SPAN_CLASS = ((date.max - date.min).days + 1).bit_length()
"""The class of the longest range the years 0001-9999 allow."""

SHORT_CLASS = 9
"""Ranges of span class 9 or less (a day, a month, a year, a season: shorter than 2**9 days)
are short: a list from a day walks them in order from 2**9 days before it. The others
(decades, intervals over years, open ends: few) are long (`LONG_ROWS`)."""

_LONG_CLASSES = range(LONG_SPANS + SHORT_CLASS + 1, LONG_SPANS + LONGEST_SPAN_CLASS + 1)
LONG_ROWS = f"precision IN ({', '.join(map(str, [OPEN_END, *_LONG_CLASSES]))})"
"""The rows of long ranges (a condition on `tl_events`): those that may straddle a day more
than 2**SHORT_CLASS days after their first; `tl_events_long_order` holds them alone."""

UNBOUNDED_DAY = date.max.toordinal() + 1
"""The `last_day` stored for a range with no last day: after every day."""


def date_shape(when: EDTFDate) -> int:
    """The `precision` stored for a date: which seek finds it when it straddles a day."""
    first, last = when.first_day, when.last_day
    if last is None:
        return OPEN_END
    if first is None:
        return OPEN_START
    if first == last:
        return PRECISIONS["day"]
    whole_months = first.day == 1 and last.day == calendar.monthrange(last.year, last.month)[1]
    if whole_months and (first.year, first.month) == (last.year, last.month):
        return PRECISIONS["month"]
    if whole_months and first.year == last.year and (first.month, last.month) == (1, 12):
        return PRECISIONS["year"]
    return LONG_SPANS + ((last - first).days + 1).bit_length()


def day_number(day: date | None) -> int:
    """A last day as the read model stores it (UNBOUNDED_DAY for none)."""
    return day.toordinal() if day is not None else UNBOUNDED_DAY


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
    Index("tl_events_org_recorded", "organisation", "position"),
    Index("tl_events_type_order", "type", "sort_group", "sort_day", "position"),
    Index(
        "tl_events_long_order",
        "sort_group",
        "sort_day",
        "position",
        "last_day",
        postgresql_where=text(LONG_ROWS),
        sqlite_where=text(LONG_ROWS),
    ),
)
"""One row per version of each event: the original, and one more per correction. `sort_day`
is the day the event sorts by (the first day of its range, or the last when the range has
none), `last_day` the last day of its range (UNBOUNDED_DAY when it has none; NULL for
amendments), `precision` its shape for the straddling seeks (see `date_shape`)."""

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
    Index("tl_facts_ends", "organisation", "facet", "key", "subkey", "last_day"),
    Index("tl_facts_ref", "facet", "ref"),
    Index("tl_facts_event", "event_id", "tx_to"),
)
"""What each event version says about each part of the state (see `projections.facts`).
`first_day` is the day the event sorts by (the first day of its range, or the last when the
range has none) and `last_day` the last day of its range (UNBOUNDED_DAY when it has none)."""

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

search_documents = Table(
    "tl_search",
    metadata,
    Column("doc_id", Integer, primary_key=True, autoincrement=True),
    Column("organisation", String(64), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("type", String(32), nullable=False),
    Column("sort_group", Integer, nullable=False),
    Column("sort_day", Integer, nullable=False),
    Column("last_day", Integer),
    Column("precision", Integer),
    Column("content", Text, nullable=False),
    Index("tl_search_event_id", "event_id"),
)
"""The text of each event as it counts now (see `projections.search`): one row per event that
is not retracted, holding its corrected text once corrected. The full-text index over
`content` is the database's own, made with the table (`SEARCH_INDEX_DDL`)."""

SEARCH_INDEX_DDL = {
    "sqlite": (
        "DROP TABLE IF EXISTS tl_search_fts",
        "CREATE VIRTUAL TABLE tl_search_fts USING fts5(content, content='tl_search', "
        "content_rowid='doc_id', tokenize='porter unicode61')",
        "CREATE TRIGGER tl_search_added AFTER INSERT ON tl_search BEGIN "
        "INSERT INTO tl_search_fts(rowid, content) VALUES (new.doc_id, new.content); END",
        "CREATE TRIGGER tl_search_removed AFTER DELETE ON tl_search BEGIN "
        "INSERT INTO tl_search_fts(tl_search_fts, rowid, content) "
        "VALUES ('delete', old.doc_id, old.content); END",
    ),
    "postgresql": (
        "ALTER TABLE tl_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english'::regconfig, translate(content, '<>', '  '))) STORED",
        "CREATE INDEX tl_search_tsv ON tl_search USING gin (tsv)",
    ),
}
"""The full-text index of `tl_search`, made with it: an FTS5 table with the porter stemmer
kept by triggers (SQLite), a stored `tsvector` in the english configuration with a GIN index
(PostgreSQL; its parser would take `<word>` for a tag and leave the word out). Part of the
read model's shape."""


def _index_search(_table: Table, conn: Connection, **_: Any) -> None:
    """Make the full-text index of `tl_search`, just made (SQLAlchemy's after_create)."""
    for sql in SEARCH_INDEX_DDL.get(conn.dialect.name, ()):
        conn.exec_driver_sql(sql)


def _drop_search_index(_table: Table, conn: Connection, **_: Any) -> None:
    """Drop the FTS5 table of `tl_search`, just dropped (SQLAlchemy's after_drop)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TABLE IF EXISTS tl_search_fts")


event.listen(search_documents, "after_create", _index_search)
event.listen(search_documents, "after_drop", _drop_search_index)

READ_MODEL_TABLES = (event_versions, facts, facets, organisations, search_documents)

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
