"""Full-text search over the events as they count now, in the read model's `tl_search`.

Each event that is not retracted has one row there, written with its read-model rows in the
append's transaction (`projections.readmodel`), holding the words a reader would search for:
names, headlines, texts, titles, notes, and its sources' titles and quotes. A correction
replaces the row with the corrected text; a retraction deletes it. The index over it is the
database's own (see `projections.tables.SEARCH_INDEX_DDL`): FTS5 with the porter stemmer on
SQLite, a `tsvector` in the english configuration with a GIN index on PostgreSQL, so that
`adopted` finds `adopt` and `adoption` on both.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection

from projections.listing import selection
from projections.queries import statement
from projections.records import EventView, Json
from projections.tables import OPEN

MARK_START, MARK_END = "\x02", "\x03"
"""What the databases put around matched words in a snippet: control characters no stored
text holds (they are taken out of the indexed text), so the snippet can be escaped whole and
then marked up."""

SKIPPED_KEYS = frozenset(
    ("id", "event_id", "person_id", "member_id", "parent", "language", "qualifiers")
)
"""Data fields that hold identifiers or codes, not words a reader searches for."""

WORD = re.compile(r"[^\W_]+")
"""A word of a query: letters and digits (the tokenizers split on everything else)."""


def _strings(value: Any) -> Iterator[str]:
    """Every text in a data value, depth first, skipping identifier fields."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in SKIPPED_KEYS:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def search_text(view: EventView) -> str:
    """The searchable text of an event as it counts: its data's texts (names, headlines,
    titles, places, roles), its note, and its sources' titles and quotes, one a line."""
    parts = list(_strings(view.data))
    if view.record.note:
        parts.append(view.record.note)
    for source in view.record.sources:
        parts += [source[key] for key in ("title", "quote") if isinstance(source.get(key), str)]
    text = "\n".join(part for part in parts if part.strip())
    return text.replace(MARK_START, " ").replace(MARK_END, " ")


def query_words(q: str) -> list[str]:
    """The words of a query (empty when it has no letter or digit)."""
    return WORD.findall(q)


@dataclass(frozen=True)
class SearchFilter:
    """What a search asks: its words, and which events it may return."""

    words: Sequence[str]
    organisations: Sequence[str] | None = None
    types: Sequence[str] | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Hit:
    """A search result: the stored event and its snippet (HTML: escaped, matches marked)."""

    event: Json
    snippet: str


def _sqlite_match(words: Sequence[str]) -> str:
    """An FTS5 query that asks for every word (each quoted, so none is read as syntax)."""
    return " ".join(f'"{word}"' for word in words)


def search(conn: Connection, flt: SearchFilter, offset: int, limit: int) -> tuple[list[Hit], bool]:
    """Up to `limit` results ranked best first (ties in recording order) after the first
    `offset`, and whether more follow."""
    postgres = conn.dialect.name == "postgresql"
    where, params = selection("s", flt)
    params.update(limit=limit + 1, offset=offset)
    if postgres:
        params["q"] = " ".join(flt.words)
        sql = (
            "SELECT s.doc_id, s.event_id FROM tl_search s, "
            "plainto_tsquery('english', :q) AS query WHERE s.tsv @@ query "
            f"{''.join(' AND ' + w for w in where)} "
            "ORDER BY ts_rank(s.tsv, query) DESC, s.position LIMIT :limit OFFSET :offset"
        )
    else:
        params["q"] = _sqlite_match(flt.words)
        sql = (
            "SELECT s.doc_id, s.event_id FROM tl_search_fts f "
            "JOIN tl_search s ON s.doc_id = f.rowid WHERE tl_search_fts MATCH :q "
            f"{''.join(' AND ' + w for w in where)} "
            "ORDER BY f.rank, s.position LIMIT :limit OFFSET :offset"
        )
    expanding = [name for name in ("orgs", "types") if name in params]
    rows = conn.execute(statement(sql, *expanding), params).all()
    page = rows[:limit]
    if not page:
        return [], False
    snippets = _snippets(conn, [row.doc_id for row in page], params["q"], postgres)
    bodies = _bodies(conn, [row.event_id for row in page])
    hits = [Hit(bodies[row.event_id], snippets[row.doc_id]) for row in page]
    return hits, len(rows) > limit


_PG_HEADLINE = f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords=30, MinWords=15'
"""One window of words around the best match (the fragment mode cuts short texts after their
first match). PostgreSQL's parser takes `<b>`-like runs for tags and leaves them out."""


def _snippets(conn: Connection, doc_ids: list[int], q: str, postgres: bool) -> dict[int, str]:
    """The highlighted snippet of each of these rows (made for the page's rows only)."""
    if postgres:
        sql = (
            "SELECT s.doc_id, ts_headline('english', s.content, "
            "plainto_tsquery('english', :q), :options) FROM tl_search s WHERE s.doc_id IN :ids"
        )
    else:
        sql = (
            f"SELECT f.rowid, snippet(tl_search_fts, 0, '{MARK_START}', '{MARK_END}', '…', 24) "
            "FROM tl_search_fts f WHERE tl_search_fts MATCH :q AND f.rowid IN :ids"
        )
    params = {"q": q, "ids": doc_ids, "options": _PG_HEADLINE}
    return {row[0]: marked(row[1]) for row in conn.execute(statement(sql, "ids"), params)}


def marked(snippet: str) -> str:
    """A snippet as HTML: every character escaped, then the matched words in `<mark>`."""
    escaped = html.escape(snippet, quote=True).replace("\n", " · ")
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def _bodies(conn: Connection, event_ids: list[str]) -> dict[str, Json]:
    """The stored events, as they stand now, of these (unretracted) event ids."""
    sql = f"SELECT event_id, body FROM tl_events WHERE event_id IN :ids AND tx_to = {OPEN}"
    rows = conn.execute(statement(sql, "ids"), {"ids": event_ids})
    return {row.event_id: orjson.loads(row.body) for row in rows}


def recent_ids(conn: Connection, organisation: str, count: int) -> list[str]:
    """The ids of the organisation's latest `count` events in recording order, newest first
    (retracted ones, retractions and corrections included)."""
    sql = (
        "SELECT event_id FROM tl_events WHERE organisation = :org "
        "GROUP BY event_id, position ORDER BY position DESC LIMIT :count"
    )
    return list(conn.execute(statement(sql), {"org": organisation, "count": count}).scalars())
