"""An organisation's timeline in Knight Lab TimelineJS3's JSON format.

TimelineJS puts `headline`, `text` and `credit` into the page as HTML, so every piece of
text taken from an event is escaped here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import escape

from events.dates import EDTFDate
from timeline.presentation import TYPE_LABELS, language_name, sentence

Json = dict[str, Any]


def known_names(events: Iterable[Json], organisations: Iterable[Json]) -> dict[str, str | None]:
    """Names for the ids events mention: organisations, and people from their appointments."""
    names: dict[str, str | None] = {o["id"]: o.get("name") for o in organisations}
    for event in events:
        if event["type"] == "office_holder_appointed":
            names[event["data"]["person"]["id"]] = event["data"]["person"]["name"]
        elif event["type"] == "member_joined":
            names[event["data"]["member"]["id"]] = event["data"]["member"]["name"]
    return names


def _date(occurred_on: str) -> Json:
    parsed = EDTFDate.parse(occurred_on)
    date: Json = {"year": parsed.year}
    if parsed.month is not None:
        date["month"] = parsed.month
    if parsed.day is not None:
        date["day"] = parsed.day
    date["display_date"] = parsed.display()
    return date


def _text(event: Json) -> str:
    parts = []
    if event.get("status") == "corrected" and event.get("amendment"):
        parts.append(f"<p><em>Corrected: {escape(event['amendment']['reason'])}</em></p>")
    detail = event["data"].get("text") or event["data"].get("body")
    if detail:
        parts.append(f"<p>{escape(detail)}</p>")
    if event.get("note"):
        parts.append(f"<p>{escape(event['note'])}</p>")
    sources = [
        f"<li>{escape(s['title'])}"
        + (f": “{escape(s['quote'])}”" if s.get("quote") else "")
        + "</li>"
        for s in event.get("sources", [])
    ]
    if sources:
        parts.append(f"<ol>{''.join(sources)}</ol>")
    return "".join(parts)


def slide(event: Json, names: Mapping[str, str | None]) -> Json:
    """One TimelineJS slide for a dated event."""
    result: Json = {
        "unique_id": event["id"],
        "start_date": _date(event["occurred_on"]),
        "text": {"headline": str(escape(sentence(event, names))), "text": _text(event)},
        "group": TYPE_LABELS[event["type"]],
    }
    sources = event.get("sources", [])
    if sources:
        credit = "; ".join(str(escape(s["title"])) for s in sources)
        linked = next((s["url"] for s in sources if s.get("url")), None)
        result["media"] = {"url": "", "credit": credit}
        if linked:
            result["media"]["link"] = linked
    return result


def _names_by_language(names_by_language: Mapping[str, Json]) -> str:
    """The organisation's names in every language, as an HTML list (empty with one name)."""
    if len(names_by_language) < 2:
        return ""
    items = "".join(
        f"<li>{escape(language_name(language))}: {escape(named['name'])}"
        + (f" ({escape(named['acronym'])})" if named.get("acronym") else "")
        + "</li>"
        for language, named in sorted(names_by_language.items())
    )
    return f"<ul>{items}</ul>"


def timelinejs(
    organisation: Json,
    events: Iterable[Json],
    organisations: Iterable[Json],
    names_by_language: Mapping[str, Json] | None = None,
) -> Json:
    """The TimelineJS document: a title slide (with the organisation's names in each language)
    and a slide per dated event, in order."""
    dated = [e for e in events if e.get("occurred_on")]
    names = known_names(dated, organisations)
    title = organisation.get("name") or organisation["id"]
    return {
        "title": {
            "text": {
                "headline": str(escape(title)),
                "text": f"<p>{len(dated)} events, each with its sources.</p>"
                + _names_by_language(names_by_language or {}),
            }
        },
        "events": [slide(event, names) for event in dated],
    }
