"""The state of an organisation year by year, as CSV: one row per year, as of its 31 December.

Columns (CONTRACT.md §3): year, exists, name, acronym, headquarters, parent, office_holders,
members, then one per figure name (sorted). Written by the `csv` module, so commas, quotes and
new lines in names are quoted as spreadsheets expect.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from timeline.errors import InvalidArguments

Json = dict[str, Any]
MAX_YEARS = 500
COLUMNS = (
    "year",
    "exists",
    "name",
    "acronym",
    "headquarters",
    "parent",
    "office_holders",
    "members",
)
_YEAR = re.compile(r"[0-9]{4}")


def years(start: str | None, end: str | None) -> range:
    """The years from `from` to `to` (both `YYYY`, both required, at most 500 of them)."""
    errors: dict[str, str] = {}
    for name, value in (("from", start), ("to", end)):
        if not value:
            errors[name] = "is required: a year such as 1998"
        elif not _YEAR.fullmatch(value) or value == "0000":
            errors[name] = f"{value!r} is not a year: use YYYY, from 0001 to 9999"
    if errors:
        raise InvalidArguments(errors)
    first, last = int(str(start)), int(str(end))
    if first > last:
        raise InvalidArguments({"to": "must not be before from"})
    if last - first + 1 > MAX_YEARS:
        raise InvalidArguments({"to": f"at most {MAX_YEARS} years at a time"})
    return range(first, last + 1)


def number(value: Any) -> str:
    """A figure as a bare number: 65000, 9.46."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def row(state: Json, year: int, figures: Sequence[str]) -> list[str]:
    """One year's row of a state."""
    holders = "; ".join(f"{h['role']}: {h['person']['name']}" for h in state["office_holders"])
    members = "; ".join(m["name"] for m in state["members"])
    values = [
        str(year),
        "true" if state["exists"] else "false",
        state.get("name") or "",
        state.get("acronym") or "",
        state.get("headquarters") or "",
        state.get("parent") or "",
        holders,
        members,
    ]
    found = state["figures"]
    values.extend(number(found[name]["value"]) if name in found else "" for name in figures)
    return values


def states_csv(states: Sequence[tuple[int, Json]]) -> str:
    """The CSV text of (year, state) pairs, with a header row."""
    figures = sorted({name for _, state in states for name in state["figures"]})
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF line ends, fields quoted where needed
    writer.writerow([*COLUMNS, *figures])
    for year, state in states:
        writer.writerow(row(state, year, figures))
    return out.getvalue()
