"""EDTF dates reduced to the plain ISO 8601 forms (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`) that
Popolo allows, as CONTRACT.md §3 says: a start is its range's first day and an end its range's
last day, each written at the date's own precision; an unbounded side has no such date."""

from __future__ import annotations

from datetime import date

from events.dates import EDTFDate, Side


def _at_precision(day: date, side: Side) -> str:
    if side.precision == "day":
        return day.isoformat()
    if side.precision in ("month", "season"):
        return day.isoformat()[:7]
    return f"{day.year:04d}"


def start_date(occurred_on: str | None) -> str | None:
    """`201X` → `2010`, `2018-22` → `2018-06`, `1998/2003` → `1998`; None for `../2018`."""
    if not occurred_on:
        return None
    side = EDTFDate.parse(occurred_on).start
    return _at_precision(side.first, side) if side is not None else None


def end_date(occurred_on: str | None) -> str | None:
    """`201X` → `2019`, `2017-24` → `2018-02`, `../2018-02` → `2018-02`; None for `2018/..`."""
    if not occurred_on:
        return None
    side = EDTFDate.parse(occurred_on).end
    return _at_precision(side.last, side) if side is not None else None
