"""Reading the shipped history as amended, and checking its lines against CONTRACT.md §1-2.

The history is amended the way users amend theirs: new lines append `corrected` and `retracted`
events, facts only seen in a source carry `basis: "attestation"`, names carry `data.language`,
figures `data.qualifiers`, and dates may be EDTF intervals (`../2002`). The service's own
validation learns these words on other branches; until then `contract_problems` holds every line
to the contract as written, and `needs` says which of those words a line uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from events.dates import EDTFDate, InvalidDate
from events.errors import InvalidEvent
from events.validation import EVENT_TYPES, check_data, is_slug

AMENDMENTS = ("retracted", "corrected")
BASES = ("change", "attestation")
BASIS_TYPES = (
    "renamed",
    "headquarters_moved",
    "office_holder_appointed",
    "member_joined",
    "affiliated",
)
QUALIFIERS = ("about", "almost", "at least", "over", "at most", "under")
LINE_FIELDS = {"id", "organisation", "type", "occurred_on", "basis", "data", "sources", "note"}
# The contract's additions to `data`, by event type, and the branch that teaches them to the service.
NEW_DATA_FIELDS = {
    "founded": ("language",),
    "renamed": ("language",),
    "office_holder_appointed": ("replaces_role",),
    "figures_reported": ("qualifiers",),
}
# BCP 47 as the contract uses it: a primary language subtag, then optional subtags.
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
AT_THE_LATEST = re.compile(
    r"at the latest|the latest (year|month|day|date)|by this date|no later than", re.IGNORECASE
)


def says_at_the_latest(text: str) -> bool:
    """True when a note explains a date as an upper bound ("2002 at the latest")."""
    return AT_THE_LATEST.search(text) is not None


@dataclass(frozen=True)
class DateRange:
    """The first and last day an EDTF date (a plain date or an interval) can mean; None where
    an interval's side is open (`..`) or unknown (empty)."""

    first: date | None
    last: date | None
    interval: bool
    qualifiers: str


def date_range(text: object) -> DateRange:
    """Read a date of §1: a level-0/1 date (as events.dates reads it) or an interval `A/B`."""
    if not isinstance(text, str):
        raise InvalidDate(f"{text!r} is not a date")
    if "/" not in text:
        single = EDTFDate.parse(text)
        return DateRange(single.first_day, single.last_day, False, single.qualifier)
    start, end = text.split("/")
    sides = [None if side in ("", "..") else EDTFDate.parse(side) for side in (start, end)]
    if sides[0] is None and sides[1] is None:
        raise InvalidDate(f"{text!r}: an interval needs at least one date")
    first = sides[0].first_day if sides[0] else None
    last = sides[1].last_day if sides[1] else None
    if first is not None and last is not None and first > last:
        raise InvalidDate(f"{text!r}: the interval starts after it ends")
    qualifiers = "".join(side.qualifier for side in sides if side)
    return DateRange(first, last, True, qualifiers)


def needs(line: Mapping[str, Any]) -> set[str]:
    """Which parallel branches must be merged before the service accepts this line:
    `h-history` for basis, language, replaces_role and qualifiers, `h-edtf` for intervals."""
    wanted = set()
    data = line.get("data") or {}
    replacement = data.get("data") if line.get("type") == "corrected" else data
    if "basis" in line or any(
        name in (replacement or {}) for names in NEW_DATA_FIELDS.values() for name in names
    ):
        wanted.add("h-history")
    dates = [
        line.get("occurred_on"),
        data.get("occurred_on") if line["type"] == "corrected" else None,
    ]
    if any(isinstance(value, str) and "/" in value for value in dates):
        wanted.add("h-edtf")
    return wanted


def data_problems(kind: str, data: object) -> list[str]:
    """What is wrong with `data` for an event of type `kind`, by the contract's table."""
    if not isinstance(data, dict):
        return ["data must be an object"]
    additions = NEW_DATA_FIELDS.get(kind, ())
    problems = []
    try:
        check_data(kind, {name: value for name, value in data.items() if name not in additions})
    except InvalidEvent as error:
        problems += [f"data: {error.errors}"]
    language = data.get("language")
    if "language" in data and not (isinstance(language, str) and LANGUAGE_TAG.fullmatch(language)):
        problems.append(f"data.language {language!r} is not a BCP 47 tag")
    if "replaces_role" in data:
        replaced = data["replaces_role"]
        if not isinstance(replaced, str) or not replaced.strip() or replaced == data.get("role"):
            problems.append("data.replaces_role must name another role")
    if "qualifiers" in data:
        qualifiers, figures = data["qualifiers"], data.get("figures") or {}
        if not isinstance(qualifiers, dict) or not qualifiers:
            problems.append("data.qualifiers must be an object of figure names to qualifiers")
        else:
            for name, qualifier in qualifiers.items():
                if name not in figures:
                    problems.append(f"data.qualifiers.{name} qualifies a figure not reported")
                if qualifier not in QUALIFIERS:
                    problems.append(f"data.qualifiers.{name} {qualifier!r} is not a qualifier")
    return problems


def _date_problems(value: object, where: str) -> list[str]:
    try:
        date_range(value)
    except InvalidDate as error:
        return [f"{where}: {error}"]
    return []


def contract_problems(lines: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every way the lines, read in order, break CONTRACT.md §1-2 (an empty list if none)."""
    problems: list[str] = []
    seen: dict[str, Mapping[str, Any]] = {}
    retracted: set[str] = set()
    for line in lines:
        name = f"{line.get('id')}"
        problems += [f"{name}: {field} is not a field" for field in set(line) - LINE_FIELDS]
        kind = line.get("type")
        if kind not in EVENT_TYPES:
            problems.append(f"{name}: unknown type {kind!r}")
            continue
        if not is_slug(line.get("organisation")):
            problems.append(f"{name}: organisation must be a slug")
        if "basis" in line and (
            line["basis"] not in BASES or kind not in (*BASIS_TYPES, "corrected")
        ):
            problems.append(f"{name}: basis {line['basis']!r} is not allowed on {kind}")
        data = line.get("data") or {}
        if kind in AMENDMENTS:
            problems += _amendment_problems(name, line, data, seen, retracted)
        else:
            if "occurred_on" not in line:
                problems.append(f"{name}: occurred_on is required")
            problems += _date_problems(line.get("occurred_on"), f"{name}: occurred_on")
            problems += [f"{name}: {problem}" for problem in data_problems(kind, data)]
        seen[name] = line
    return problems


def _amendment_problems(
    name: str,
    line: Mapping[str, Any],
    data: Mapping[str, Any],
    seen: Mapping[str, Mapping[str, Any]],
    retracted: set[str],
) -> list[str]:
    problems = []
    if "occurred_on" in line:
        problems.append(f"{name}: a {line['type']} event takes no occurred_on")
    if not str(data.get("reason", "")).strip():
        problems.append(f"{name}: a {line['type']} event needs a reason")
    target = seen.get(str(data.get("event_id")))
    if target is None or target["organisation"] != line["organisation"]:
        return [*problems, f"{name}: targets no earlier event of {line['organisation']}"]
    if target["type"] in AMENDMENTS or target["id"] in retracted:
        return [*problems, f"{name}: targets an amendment or a retracted event"]
    if line["type"] == "retracted":
        retracted.add(target["id"])
        return problems
    extra = set(data) - {"event_id", "reason", "occurred_on", "data"}
    problems += [f"{name}: data.{field} is not a field of a correction" for field in extra]
    if not {"occurred_on", "data"} & set(data) and "basis" not in line:
        problems.append(f"{name}: a correction needs occurred_on, data or basis")
    if "occurred_on" in data:
        problems += _date_problems(data["occurred_on"], f"{name}: data.occurred_on")
    if "data" in data:
        problems += [f"{name}: {p}" for p in data_problems(target["type"], data["data"])]
    if "basis" in line and target["type"] not in BASIS_TYPES:
        problems.append(f"{name}: a {target['type']} event takes no basis")
    return problems


def amended(lines: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The events as they count after every retraction and correction, in the file's order;
    amendments themselves left out. A corrected event takes the correction's `occurred_on`,
    `data` (whole) and `basis`; its `reasons` list the corrections' reasons."""
    kept: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line["type"] == "retracted":
            kept.pop(line["data"]["event_id"], None)
        elif line["type"] == "corrected":
            target = kept[line["data"]["event_id"]]
            correction = line["data"]
            if "occurred_on" in correction:
                target["occurred_on"] = correction["occurred_on"]
            if "data" in correction:
                target["data"] = correction["data"]
            if "basis" in line:
                target["basis"] = line["basis"]
            target["reasons"] = [*target.get("reasons", []), correction["reason"]]
        else:
            kept[line["id"]] = dict(line)
    return tuple(kept.values())


def basis(event: Mapping[str, Any]) -> str:
    return str(event.get("basis", "change"))
