"""How events read to a person: a sentence for each, dates at their precision, type labels.

Pure functions over stored events (the contract's JSON), shared by the HTML pages and the
TimelineJS export. They return plain text; whoever puts it in HTML escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.dates import EDTFDate

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
    """ "1947", "Feb 2004", "c. 2019", "2003?", "2010s", "spring 2018", "by Feb 2018",
    "between 1998 and 2003" (see `EDTFDate.display`); "undated" for amendments."""
    return EDTFDate.parse(occurred_on).display() if occurred_on else "undated"


def figure_label(name: str) -> str:
    """`member_organisations` → "member organisations"."""
    return name.replace("_", " ")


def format_number(value: float) -> str:
    """Numbers as a reader writes them: 65,000 and 4,000,000; 9.46 stays 9.46."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,}"
    return f"{int(value):,}"


def _org(names: Mapping[str, str | None], org: str) -> str:
    return names.get(org) or org


def sentence(event: Json, names: Mapping[str, str | None] | None = None) -> str:
    """A plain-language sentence for an event: "Manuel Mariscal appointed President".

    `names` maps organisation and person ids to names, for events that give only an id.
    """
    names = names or {}
    data, kind = event.get("data", {}), event["type"]
    if kind == "founded":
        acronym = f" ({data['acronym']})" if data.get("acronym") else ""
        return f"Founded as {data['name']}{acronym}"
    if kind == "renamed":
        acronym = f" ({data['acronym']})" if data.get("acronym") else ""
        return f"Renamed {data['name']}{acronym}"
    if kind == "headquarters_moved":
        return f"Headquarters moved to {data['location']}"
    if kind == "office_holder_appointed":
        return f"{data['person']['name']} appointed {data['role']}"
    if kind == "office_holder_left":
        return f"{_org(names, data['person_id'])} left the post of {data['role']}"
    if kind == "member_joined":
        country = f" ({data['member']['country']})" if data["member"].get("country") else ""
        return f"{data['member']['name']}{country} joined as a member"
    if kind == "member_left":
        return f"{_org(names, data['member_id'])} left the membership"
    if kind == "figures_reported":
        figures = ", ".join(
            f"{format_number(value)} {figure_label(name)}"
            for name, value in data["figures"].items()
        )
        return f"Reported: {figures}"
    if kind == "document_adopted":
        stage = f": {data['stage']}" if data.get("stage") else " adopted"
        return f"{data['title']}{stage}"
    return _other_sentence(kind, data, names)


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
