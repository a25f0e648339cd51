"""The sources an organisation's events cite, each once, as CSL-JSON (Zotero, Pandoc).

A source is the same document when it names the same file, else the same URL, else the same
title. What a citation gives beyond title, URL and file is read from its title's trailing
parenthesis, as the recorded titles write it: "Title (container, 17 November 2011)".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from events.validation import link_url

Json = dict[str, Any]

_TRAILING = re.compile(r"^(?P<title>.*\S)\s*\((?P<inside>[^()]*)\)$", re.DOTALL)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_DATE = re.compile(
    r"^(?P<circa>c\.\s*)?(?:(?P<day>[0-9]{1,2})\s+)?(?:(?P<month>[A-Za-z]+)\.?\s+)?"
    r"(?P<year>[0-9]{4})$"
)
_WORD = re.compile(r"\b(?:report|review|news|newsletter)\b", re.IGNORECASE)


def source_key(source: Json) -> str:
    """What makes two cited sources the same document: its file, else its URL, else its
    title."""
    return str(source.get("file") or source.get("url") or source.get("title"))


def source_id(source: Json) -> str:
    """A stable id for the document a source names (the same on every export)."""
    digest = hashlib.sha256(source_key(source).encode("utf-8")).hexdigest()
    return f"src-{digest[:12]}"


def issued(text: str) -> Json | None:
    """A CSL date from `17 November 2011`, `18 Jan 2018`, `April 1997`, `1998` or `c. 2003`."""
    match = _DATE.match(text.strip())
    if match is None:
        return None
    parts = [int(match["year"])]
    if match["month"]:
        month = _MONTHS.get(match["month"].lower())
        if month is None:
            return None
        parts.append(month)
        if match["day"]:
            parts.append(int(match["day"]))
            try:
                datetime(*parts)  # type: ignore[arg-type]
            except ValueError:
                return None
    elif match["day"]:
        return None
    found: Json = {"date-parts": [parts]}
    if match["circa"]:
        found["circa"] = True
    return found


def _split_title(title: str) -> tuple[str, str | None, Json | None]:
    """(title, container, issued) read from a trailing "(container, date)"."""
    match = _TRAILING.match(title)
    if match is None:
        return title, None, None
    inside = match["inside"].strip()
    container, _, last = inside.rpartition(",")
    date = issued(last)
    if date is not None:
        return match["title"], (container.strip() or None), date
    date = issued(inside)
    if date is not None:
        return match["title"], None, date
    if "," not in inside and inside:
        return match["title"], inside, None
    return title, None, None


def _kind(title: str, container: str | None, url: str | None) -> str:
    if re.match(r"^(report|global report)\b", title, re.IGNORECASE):
        return "report"
    if container and _WORD.search(container):
        return "article"
    return "webpage" if url else "document"


def csl_item(source: Json) -> Json:
    """One source as a CSL-JSON item."""
    url = link_url(source.get("url"))
    title, container, date = _split_title(str(source.get("title") or ""))
    item: Json = {"id": source_id(source), "type": _kind(title, container, url), "title": title}
    if url:
        item["URL"] = url
    if container:
        item["container-title"] = container
    if date:
        item["issued"] = date
    if source.get("file"):
        item["archive_location"] = source["file"]
    return item


def csl_items(events: Iterable[Json]) -> list[Json]:
    """Every source the events cite, once each, in the order first cited; a document cited
    with and without its URL keeps the URL."""
    merged: dict[str, Json] = {}
    for event in events:
        for source in event.get("sources") or []:
            key = source_key(source)
            if key not in merged:
                merged[key] = dict(source)
            elif source.get("url") and not merged[key].get("url"):
                merged[key]["url"] = source["url"]
    return [csl_item(source) for source in merged.values()]
