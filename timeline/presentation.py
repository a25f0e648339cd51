"""How events read to a person: a sentence for each, dates at their precision, type labels.

Pure functions over stored events (the contract's JSON), shared by the HTML pages and the
TimelineJS export. They return plain text; whoever puts it in HTML escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.dates import EDTFDate
from projections.state import language_of

Json = dict[str, Any]

TYPE_LABELS = {
    "founded": "Founding",
    "renamed": "Names",
    "headquarters_moved": "Headquarters",
    "office_holder_appointed": "Offices",
    "office_holder_left": "Offices",
    "member_joined": "Members",
    "member_left": "Members",
    "figures_reported": "Figures",
    "document_adopted": "Documents",
    "affiliated": "Affiliation",
    "disaffiliated": "Affiliation",
    "dissolved": "Founding",
    "milestone": "Milestones",
    "retracted": "Amendments",
    "corrected": "Amendments",
}
"""A reader's name for each event type's group."""

TYPE_NAMES = {
    "founded": "Founding",
    "renamed": "Renaming",
    "headquarters_moved": "Headquarters moved",
    "office_holder_appointed": "Appointment",
    "office_holder_left": "Departure from office",
    "member_joined": "Member joined",
    "member_left": "Member left",
    "figures_reported": "Figures reported",
    "document_adopted": "Document adopted",
    "affiliated": "Affiliation",
    "disaffiliated": "Disaffiliation",
    "dissolved": "Dissolution",
    "milestone": "Milestone",
    "retracted": "Retraction",
    "corrected": "Correction",
}
"""A reader's name for each event type, for filters."""


def display_date(occurred_on: str | None) -> str:
    """ "1947", "Feb 2004", "17 Feb 2004", "c. 2019", "2003?"; "undated" for amendments."""
    return EDTFDate.parse(occurred_on).display() if occurred_on else "undated"


def readable_date(occurred_on: str | None) -> str:
    """`display_date`, or the text as stored for a form this version cannot read (a page
    must not fail over how one date is written)."""
    try:
        return display_date(occurred_on)
    except ValueError:
        return str(occurred_on)


def figure_label(name: str) -> str:
    """`member_organisations` → "member organisations"."""
    return name.replace("_", " ")


def format_number(value: float) -> str:
    """Numbers as a reader writes them: 65,000 and 4,000,000; 9.46 stays 9.46."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,}"
    return f"{int(value):,}"


LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ru": "Russian",
    "ar": "Arabic",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
}
"""Names for the languages a reader meets most; others are shown by their subtag."""


def language_name(language: str) -> str:
    """`fr` → "French"; a language not listed reads as its subtag."""
    return LANGUAGE_NAMES.get(language, language)


def qualified_number(value: float, qualifier: str | None) -> str:
    """A figure as reported: "about 4,000,000", "65"."""
    number = format_number(value)
    return f"{qualifier} {number}" if qualifier else number


def _year(occurred_on: str) -> int | None:
    try:
        return EDTFDate.parse(occurred_on.rsplit("/", 1)[-1]).year
    except ValueError:
        return None


def how_known(known: Json | None, at_year: int | None = None) -> str:
    """How a value of the state is known, for a reader: "since 1998", "attested 1998",
    "attested 1998-2017, 3 times", "since 1998, attested 2005"; a value only attested, and
    last before `at_year`, is marked "last seen in 2005"."""
    if not known:
        return ""
    since, attested = known.get("since"), known.get("attested")
    parts = [f"since {readable_date(since)}"] if since else []
    if attested:
        first, last, count = attested["first"], attested["last"], attested["count"]
        if count == 1:
            parts.append(f"attested {readable_date(last)}")
        else:
            parts.append(f"attested {readable_date(first)}-{readable_date(last)}, {count} times")
        last_year = _year(last)
        if not since and at_year is not None and last_year is not None and last_year < at_year:
            parts.append(f"last seen in {last_year}")
    return "; ".join(parts)


def _org(names: Mapping[str, str | None], org: str) -> str:
    return names.get(org) or org


def sentence(event: Json, names: Mapping[str, str | None] | None = None) -> str:
    """A plain-language sentence for an event: "Manuel Mariscal appointed President".

    `names` maps organisation and person ids to names, for events that give only an id.
    """
    names = names or {}
    data, kind = event.get("data", {}), event["type"]
    if event.get("basis") == "attestation" and kind in _ATTESTED:
        return _ATTESTED[kind](data, names)
    if kind in ("founded", "renamed"):
        acronym = f" ({data['acronym']})" if data.get("acronym") else ""
        language = language_of(data)
        in_language = f", in {language_name(language)}" if language != "en" else ""
        verb = "Founded as" if kind == "founded" else "Renamed"
        return f"{verb} {data['name']}{acronym}{in_language}"
    if kind == "headquarters_moved":
        return f"Headquarters moved to {data['location']}"
    if kind == "office_holder_appointed":
        continuing = f" (continuing {data['replaces_role']})" if data.get("replaces_role") else ""
        return f"{data['person']['name']} appointed {data['role']}{continuing}"
    if kind == "office_holder_left":
        return f"{_org(names, data['person_id'])} left the post of {data['role']}"
    if kind == "member_joined":
        return f"{_member(data)} joined as a member"
    if kind == "member_left":
        return f"{_org(names, data['member_id'])} left the membership"
    if kind == "figures_reported":
        qualifiers = data.get("qualifiers", {})
        figures = ", ".join(
            f"{qualified_number(value, qualifiers.get(name))} {figure_label(name)}"
            for name, value in data["figures"].items()
        )
        return f"Reported: {figures}"
    if kind == "document_adopted":
        stage = f": {data['stage']}" if data.get("stage") else " adopted"
        return f"{data['title']}{stage}"
    return _other_sentence(kind, data, names)


def _member(data: Json) -> str:
    country = f" ({data['member']['country']})" if data["member"].get("country") else ""
    return f"{data['member']['name']}{country}"


def _attested_name(data: Json, names: Mapping[str, str | None]) -> str:
    acronym = f" ({data['acronym']})" if data.get("acronym") else ""
    language = language_of(data)
    in_language = f" in {language_name(language)}" if language != "en" else ""
    return f"Seen named{in_language} {data['name']}{acronym}"


_ATTESTED: dict[str, Any] = {
    "renamed": _attested_name,
    "headquarters_moved": lambda data, names: f"Seen with headquarters in {data['location']}",
    "office_holder_appointed": lambda data, names: (
        f"{data['person']['name']} seen as {data['role']}"
    ),
    "member_joined": lambda data, names: f"{_member(data)} seen as a member",
    "affiliated": lambda data, names: f"Seen as part of {_org(names, data['parent'])}",
}
"""Sentences for attestations: a source shows the fact held then, not that it began."""


def _other_sentence(kind: str, data: Json, names: Mapping[str, str | None]) -> str:
    if kind == "affiliated":
        return f"Became part of {_org(names, data['parent'])}"
    if kind == "disaffiliated":
        return f"Ceased to be part of {_org(names, data['parent'])}"
    if kind == "dissolved":
        return "Dissolved"
    if kind == "milestone":
        return str(data["headline"])
    if kind == "retracted":
        return f"Retracted an earlier event: {data['reason']}"
    if kind == "corrected":
        return f"Corrected an earlier event: {data['reason']}"
    return kind
