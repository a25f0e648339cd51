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


RANK_WINDOW = 500
"""How many matches a search ranks at once. A query with at most this many matches is ranked
whole, best first. One with more is answered a window at a time: first its newest
RANK_WINDOW matches (by when their text was recorded), ranked best first among themselves,
then the next older RANK_WINDOW, ranked, and so on, so paging goes on through every match
while no page scores more than a window's matches (scoring all of them took hundreds of ms
for a word in most of 100,000 events; bench/RESULTS.md). Narrower queries (more words, an
organisation, a type, a period) have fewer matches and are ranked over more of them."""


@dataclass(frozen=True)
class Resume:
    """Where a page of results starts: in the window of the newest matches whose `doc_id` is
    at most `ceiling` (None: the newest of all), after its first `offset` results."""

    ceiling: int | None = None
    offset: int = 0


def search(
    conn: Connection, flt: SearchFilter, start: Resume, limit: int, window: int = RANK_WINDOW
) -> tuple[list[Hit], Resume | None]:
    """Up to `limit` results from `start` on, each window of `window` matches ranked best first
    (ties in recording order), and where the next page starts (None after the last match)."""
    postgres = conn.dialect.name == "postgresql"
    q = " ".join(flt.words) if postgres else _sqlite_match(flt.words)
    ceiling, offset = start.ceiling, start.offset
    rows: list[Any] = []
    while True:
        wanted = limit - len(rows)
        floor, top, found = _window(conn, flt, q, (ceiling, window), offset, wanted + 1)
        if ceiling is None:  # the next pages keep to the matches there were at the first
            ceiling = top
        rows += found[:wanted]
        if len(found) > wanted:
            following: Resume | None = Resume(ceiling, offset + wanted)
            break
        if floor is None:  # no older match
            following = None
            break
        ceiling, offset = floor, 0  # the older matches' window: it holds at least one
        if len(rows) == limit:
            following = Resume(ceiling, 0)
            break
    if not rows:
        return [], None
    snippets = _snippets(conn, [row.doc_id for row in rows], q, postgres)
    bodies = _bodies(conn, [row.event_id for row in rows])
    return [Hit(bodies[row.event_id], snippets[row.doc_id]) for row in rows], following


def _filtered(flt: SearchFilter, ceiling: int | None, postgres: bool) -> tuple[str, dict[str, Any]]:
    """The search's filters, and the window's ceiling on `doc_id` (None: none), as SQL
    conditions on `tl_search s`. On SQLite the ceiling is put on the FTS5 table's rowid, which
    FTS5 applies while it reads its index."""
    where, params = selection("s", flt)
    if ceiling is not None:
        where.append(f"{'s.doc_id' if postgres else 'f.rowid'} <= :ceiling")
        params["ceiling"] = ceiling
    return "".join(" AND " + w for w in where), params


def _window(
    conn: Connection,
    flt: SearchFilter,
    q: str,
    window: tuple[int | None, int],
    offset: int,
    limit: int,
) -> tuple[int | None, int | None, list[Any]]:
    """In one statement that reads each matching row once: the newest `window[1]` matches at or
    below `doc_id` `window[0]` (None: the newest of all), found by walking the index newest
    first, up to `limit` of them ranked best first after the first `offset`, the `doc_id` of
    the newest older match (None when there is none) and that of the window's newest match.
    The rank is `ts_rank` (PostgreSQL: higher is better, computed for the window's rows only)
    or FTS5's `bm25` (SQLite: lower is better, computed as the walk returns each row)."""
    postgres = conn.dialect.name == "postgresql"
    ceiling, size = window
    where, params = _filtered(flt, ceiling, postgres)
    params.update(q=q, size=size, taken=size + 1, limit=limit, offset=offset)
    if postgres:
        scan = (
            "SELECT s.doc_id, s.event_id, s.position, s.tsv FROM tl_search s "
            f"WHERE s.tsv @@ plainto_tsquery('english', :q){where} "
            "ORDER BY s.doc_id DESC LIMIT :taken"
        )
        best = "ts_rank(w.tsv, plainto_tsquery('english', :q)) DESC"
    else:
        scan = (
            "SELECT f.rowid AS doc_id, s.event_id, s.position, bm25(tl_search_fts) AS score "
            "FROM tl_search_fts f JOIN tl_search s ON s.doc_id = f.rowid "
            f"WHERE tl_search_fts MATCH :q{where} ORDER BY f.rowid DESC LIMIT :taken"
        )
        best = "w.score"
    sql = (
        f"WITH w AS MATERIALIZED ({scan}), "
        "edge AS (SELECT CASE WHEN count(*) > :size THEN min(doc_id) END AS floor, "
        "max(doc_id) AS top FROM w) "
        "SELECT edge.floor, edge.top, r.doc_id, r.event_id FROM edge LEFT JOIN ("
        f"SELECT w.doc_id, w.event_id, row_number() OVER (ORDER BY {best}, w.position) AS n "
        "FROM w, edge WHERE edge.floor IS NULL OR w.doc_id > edge.floor"
        ") r ON r.n > :offset AND r.n <= :offset + :limit ORDER BY r.n"
    )
    expanding = [name for name in ("orgs", "types") if name in params]
    found = conn.execute(statement(sql, *expanding), params).all()
    floor: int | None = found[0].floor
    top: int | None = found[0].top
    return floor, top, [row for row in found if row.doc_id is not None]


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
