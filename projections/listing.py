"""Lists of stored events from the read model, in occurrence order, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection

from projections.queries import statement
from projections.records import Json
from projections.tables import LONG_ROWS, OPEN, OPEN_START, SHORT_CLASS, micros

SortKey = tuple[int, int, int]
"""(0 for dated events and 1 for amendments, first day's ordinal, recording position)."""


@dataclass(frozen=True)
class EventFilter:
    """Which events a list holds."""

    organisations: Sequence[str] | None = None
    types: Sequence[str] | None = None
    start: date | None = None
    """Events whose range ends on or after this day (the first day of `from`), or never."""
    end: date | None = None
    """Events whose range starts on or before this day (the last day of `to`), or has no
    first day."""
    known_at: datetime | None = None
    include_retracted: bool = False


def _visible(flt: EventFilter) -> str:
    retracted = "e.end_status = 'retracted'" if flt.include_retracted else "1 = 0"
    if flt.known_at is None:
        return f"(e.tx_to = {OPEN} OR {retracted})"
    return f"(e.tx_from <= :known AND (e.tx_to > :known OR {retracted}))"


class Selection(Protocol):
    """Which organisations, types and period a list or a search holds."""

    @property
    def organisations(self) -> Sequence[str] | None: ...  # pragma: no cover
    @property
    def types(self) -> Sequence[str] | None: ...  # pragma: no cover
    @property
    def start(self) -> date | None: ...  # pragma: no cover
    @property
    def end(self) -> date | None: ...  # pragma: no cover


def selection(
    alias: str, flt: Selection, by_type_index: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions on the rows of `alias` (with the columns of `tl_events` that say where an
    event is and when it happened) for the organisations, types and period of `flt`. Without
    `by_type_index`, the types are a condition no index seeks (`type || ''`): SQLite would
    otherwise walk the type's index where another serves the query better."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if flt.organisations is not None:
        where.append(f"{alias}.organisation IN :orgs")
        params["orgs"] = list(flt.organisations)
    if flt.types is not None:
        typed = f"{alias}.type" if by_type_index else f"({alias}.type || '')"
        where.append(f"{typed} IN :types")
        params["types"] = list(flt.types)
    if flt.start is not None or flt.end is not None:
        where.append(f"{alias}.sort_group = 0")
    # A range overlaps the period when it ends on or after its first day and starts on or
    # before its last; an unbounded side overlaps everything on that side (an unbounded last
    # day is stored after every day; a range with no first day sorts by its last).
    if flt.start is not None:
        where.append(f"{alias}.last_day >= :start")
        params["start"] = flt.start.toordinal()
    if flt.end is not None:
        where.append(f"({alias}.sort_day <= :end OR {alias}.precision = {OPEN_START})")
        params["end"] = flt.end.toordinal()
    return where, params


def _conditions(
    flt: EventFilter, after: SortKey | None, by_type_index: bool = True
) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = [_visible(flt)]
    params: dict[str, Any] = {}
    if flt.known_at is not None:
        params["known"] = micros(flt.known_at)
    selected, selected_params = selection("e", flt, by_type_index)
    where += selected
    params.update(selected_params)
    if after is not None:
        # A row value, which both databases seek on the order's index (its expansion into
        # ORs they could only filter with).
        where.append("(e.sort_group, e.sort_day, e.position) > (:ag, :ad, :ap)")
        params.update(ag=after[0], ad=after[1], ap=after[2])
    return where, params


def _shown(row: Any, known_at: datetime | None) -> Json:
    """The stored event of a row, marked retracted if its retraction was recorded by then."""
    body: Json = orjson.loads(row.body)
    ended = row.tx_to != OPEN if known_at is None else row.tx_to <= micros(known_at)
    if row.end_status == "retracted" and ended:
        body["status"] = "retracted"
        body["amendment"] = {"event_id": row.end_by, "reason": row.end_reason}
    return body


_COLUMNS = (
    "e.body, e.sort_group, e.sort_day, e.position, e.tx_to, e.end_status, e.end_by, e.end_reason"
)


def list_events(
    conn: Connection, flt: EventFilter, after: SortKey | None, limit: int
) -> tuple[list[Json], SortKey | None]:
    """Up to `limit` events after `after`, and the sort key to continue from (None at the end)."""
    where, params = _conditions(flt, after)
    if flt.start is None:
        sql = (
            f"SELECT {_COLUMNS} FROM tl_events e WHERE {' AND '.join(where)} "
            "ORDER BY e.sort_group, e.sort_day, e.position LIMIT :limit"
        )
    else:
        # The short ranges seeked near `start`, merged with the long ones that begin before
        # that, walked in order on their own index (`tl_events_long_order`, not the type's):
        # each side stops at `limit` rows.
        # SQLite is told the index (`INDEXED BY`): without statistics (a database grown by
        # appends has none) it took the order's index, reading every event before the day.
        reach = 2**SHORT_CLASS
        order = "ORDER BY e.sort_group, e.sort_day, e.position LIMIT :limit"
        long, _ = _conditions(flt, after, by_type_index=False)
        told = " INDEXED BY tl_events_long_order" if conn.dialect.name == "sqlite" else ""
        sql = (
            f"SELECT * FROM (SELECT {_COLUMNS} FROM tl_events e WHERE {' AND '.join(where)} "
            f"AND e.sort_day >= :start - {reach} {order}) AS near "
            f"UNION ALL SELECT * FROM (SELECT {_COLUMNS} FROM tl_events e{told} "
            f"WHERE {' AND '.join(long)} AND e.{LONG_ROWS} AND e.sort_day < :start - {reach} "
            f"{order}) AS long ORDER BY sort_group, sort_day, position LIMIT :limit"
        )
    stmt = statement(sql, *(name for name in ("orgs", "types") if name in params))
    rows = conn.execute(stmt, {**params, "limit": limit + 1}).all()
    page = rows[:limit]
    more = len(rows) > limit
    last = page[-1] if page and more else None
    return [_shown(row, flt.known_at) for row in page], (
        (last.sort_group, last.sort_day, last.position) if last else None
    )


def get_event(
    conn: Connection, organisation: str, event_id: str, known_at: datetime | None
) -> Json | None:
    """One stored event as it stands (or stood at `known_at`), retracted ones included."""
    flt = EventFilter(organisations=[organisation], known_at=known_at, include_retracted=True)
    where, params = _conditions(flt, None)
    stmt = statement(
        f"SELECT {_COLUMNS} FROM tl_events e WHERE e.event_id = :event_id AND "
        f"{' AND '.join(where)} ORDER BY e.tx_from DESC LIMIT 1",
        "orgs",
    )
    row = conn.execute(stmt, {**params, "event_id": event_id}).first()
    return _shown(row, known_at) if row else None


def stored_ids(conn: Connection, event_ids: Sequence[str]) -> set[str]:
    """Which of these event ids are already stored, in any organisation."""
    found: set[str] = set()
    for start in range(0, len(event_ids), 500):
        chunk = list(event_ids[start : start + 500])
        stmt = statement("SELECT DISTINCT event_id FROM tl_events WHERE event_id IN :ids", "ids")
        found.update(conn.execute(stmt, {"ids": chunk}).scalars())
    return found


def current_bodies(conn: Connection, event_ids: Sequence[str]) -> dict[str, Json]:
    """The stored event as it stands now for each of these ids (retracted ones included)."""
    found: dict[str, Json] = {}
    for start in range(0, len(event_ids), 500):
        chunk = list(event_ids[start : start + 500])
        stmt = statement(
            f"SELECT e.event_id, {_COLUMNS} FROM tl_events e WHERE e.event_id IN :ids "
            f"AND (e.tx_to = {OPEN} OR e.end_status = 'retracted')",
            "ids",
        )
        for row in conn.execute(stmt, {"ids": chunk}):
            found[row.event_id] = _shown(row, None)
    return found
