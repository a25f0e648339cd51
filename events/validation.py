"""What a well-formed event looks like: the envelope and the data of each event type.

Every path into the event store (HTTP, import, seed) passes through `parse_event`, so these
rules are written once. Errors are collected, not raised one at a time, so a caller learns
about every bad field at once; keys are dotted paths such as `data.person.id`.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events.dates import EDTFDate, InvalidDate
from events.errors import InvalidEvent

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
FIGURE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ALLOWED_CONTROLS = frozenset("\t\n\r")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)

Errors = dict[str, str]

FIGURE_QUALIFIERS = ("about", "almost", "at least", "over", "at most", "under")
"""How a source may qualify a figure; a figure without one is exact."""
BASES = ("change", "attestation")
"""How an event knows its fact: it began then (`change`), or a source shows it held then."""
BASIS_TYPES = (
    "renamed",
    "headquarters_moved",
    "office_holder_appointed",
    "member_joined",
    "affiliated",
)
"""The event types whose fact may be only attested."""


def text_problem(value: str) -> str | None:
    """Why a string may not be stored (a control character or a lone surrogate), or None."""
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cc" and char not in _ALLOWED_CONTROLS:
            return f"contains the control character U+{ord(char):04X} at position {position}"
        if category == "Cs":
            return f"contains an unpaired surrogate U+{ord(char):04X} at position {position}"
    return None


def is_slug(value: object) -> bool:
    """True for ids of the form `cicopa` or `bruno-roelants`."""
    return isinstance(value, str) and SLUG.fullmatch(value) is not None


class Field:
    """One field of an event: how to check it and whether it must be there."""

    description = "a value"

    def __init__(self, *, required: bool = True) -> None:
        self.required = required

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        """Return the value to store, or record what is wrong under `path`."""
        raise NotImplementedError


class Text(Field):
    """A non-empty string without control characters."""

    description = "text"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, str):
            errors[path] = "must be text"
        elif problem := text_problem(value):
            errors[path] = problem
        elif not value.strip():
            errors[path] = "must not be empty"
        return value


class Url(Text):
    """An absolute http or https address."""

    description = "an http(s) URL"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        super().check(value, path, errors)
        if path not in errors and not _URL.fullmatch(value):
            errors[path] = "must be an absolute http:// or https:// address without spaces"
        return value


class Slug(Field):
    """An id such as `cicopa` or `bruno-roelants`."""

    description = "an id of lowercase letters, digits and hyphens"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if not is_slug(value):
            errors[path] = (
                "must be an id of 1 to 64 lowercase letters, digits and hyphens, "
                "starting with a letter or digit (such as 'bruno-roelants')"
            )
        return value


class Uuid(Field):
    """The id of a stored event."""

    description = "an event id (a UUID)"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if isinstance(value, str) and _UUID.fullmatch(value):
            return str(uuid.UUID(value))
        errors[path] = "must be the id (a UUID) of a stored event"
        return value


class Date(Field):
    """An EDTF date such as `1947`, `2004-02~` or `2004-02-17`."""

    description = "an EDTF date"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        try:
            return str(EDTFDate.parse(value))
        except InvalidDate as error:
            errors[path] = str(error)
            return value


class Figures(Field):
    """Named non-negative numbers: `{"member_organisations": 46, "countries": 30}`."""

    description = "an object of figure names to non-negative numbers"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, dict) or not value:
            errors[path] = "must be an object naming at least one figure, such as {'jobs': 4000000}"
            return value
        for name, number in value.items():
            if not FIGURE_NAME.fullmatch(name):
                errors[f"{path}.{name}"] = (
                    "a figure's name must be lowercase letters, digits and underscores, "
                    "starting with a letter (such as 'member_organisations')"
                )
            elif not _is_figure(number):
                errors[f"{path}.{name}"] = "must be a non-negative number up to 10^15"
        return value


# RFC 5646's langtag: language (2-3 letters with up to three extended subtags, or 5-8
# letters), script, region, variants, extensions and a private-use part.
_LANGUAGE_TAG = re.compile(
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{5,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"
)


class Language(Field):
    """A BCP 47 language tag such as `en`, `fr` or `fr-CA`, kept as sent."""

    description = "a BCP 47 language tag such as 'en', 'fr' or 'fr-CA'"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, str) or not _LANGUAGE_TAG.fullmatch(value):
            errors[path] = "must be a BCP 47 language tag such as 'en', 'fr' or 'fr-CA'"
        return value


class Qualifiers(Field):
    """How exact each reported figure is: `{"jobs": "about"}`; an absent figure is exact."""

    description = "an object of figure names to " + ", ".join(repr(q) for q in FIGURE_QUALIFIERS)

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, dict):
            errors[path] = "must be an object of figure names to qualifiers ({'jobs': 'about'})"
            return value
        for name, qualifier in value.items():
            if not isinstance(qualifier, str) or qualifier not in FIGURE_QUALIFIERS:
                errors[f"{path}.{name}"] = "must be one of: " + ", ".join(FIGURE_QUALIFIERS)
        return value


class Object(Field):
    """A JSON object with known fields."""

    description = "an object"

    def __init__(self, fields: Mapping[str, Field], *, required: bool = True) -> None:
        super().__init__(required=required)
        self.fields = dict(fields)

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, dict):
            errors[path] = "must be an object"
            return value
        return check_fields(self.fields, value, f"{path}.", errors)


class AnyObject(Field):
    """A JSON object whose fields are checked elsewhere (a correction's replacement data)."""

    description = "an object"

    def check(self, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, dict):
            errors[path] = "must be an object"
        return value


MAX_FIGURE = 10**15
"""No organisation counts a quadrillion of anything; larger numbers are typing mistakes."""


def _is_figure(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # Compare ints as ints: math.isfinite would overflow on one too large for a float.
    return (isinstance(value, int) or math.isfinite(value)) and 0 <= value <= MAX_FIGURE


def check_fields(
    fields: Mapping[str, Field], value: Mapping[str, Any], prefix: str, errors: Errors
) -> dict[str, Any]:
    """Check an object against its fields; unknown fields are refused, absent optional ones and
    optional ones sent as null are left out."""
    clean: dict[str, Any] = {}
    for name in value:
        if name not in fields:
            known = ", ".join(fields) or "none"
            errors[f"{prefix}{name}"] = f"is not a field of this object (its fields: {known})"
    for name, spec in fields.items():
        if value.get(name) is None:
            if spec.required:
                errors[f"{prefix}{name}"] = f"is required ({spec.description})"
            continue
        clean[name] = spec.check(value[name], f"{prefix}{name}", errors)
    return clean


_OPTIONAL_TEXT = Text(required=False)
_NAMED: dict[str, Field] = {
    "name": Text(),
    "acronym": _OPTIONAL_TEXT,
    "language": Language(required=False),
}

DATA_FIELDS: dict[str, dict[str, Field]] = {
    "founded": _NAMED,
    "renamed": _NAMED,
    "headquarters_moved": {"location": Text()},
    "office_holder_appointed": {
        "role": Text(),
        "person": Object({"id": Slug(), "name": Text()}),
        "replaces_role": _OPTIONAL_TEXT,
    },
    "office_holder_left": {"role": Text(), "person_id": Slug()},
    "member_joined": {
        "member": Object({"id": Slug(), "name": Text(), "country": _OPTIONAL_TEXT}),
    },
    "member_left": {"member_id": Slug()},
    "figures_reported": {"figures": Figures(), "qualifiers": Qualifiers(required=False)},
    "document_adopted": {
        "title": Text(),
        "kind": _OPTIONAL_TEXT,
        "stage": _OPTIONAL_TEXT,
        "body": _OPTIONAL_TEXT,
        "place": _OPTIONAL_TEXT,
    },
    "affiliated": {"parent": Slug()},
    "disaffiliated": {"parent": Slug()},
    "dissolved": {},
    "milestone": {"headline": Text(), "text": _OPTIONAL_TEXT},
    "retracted": {"event_id": Uuid(), "reason": Text()},
    "corrected": {
        "event_id": Uuid(),
        "reason": Text(),
        "occurred_on": Date(required=False),
        "data": AnyObject(required=False),
    },
}
"""The fields of `data` for each event type of the contract."""

EVENT_TYPES = tuple(DATA_FIELDS)
AMENDMENT_TYPES = ("retracted", "corrected")
"""Events about other events: they take no `occurred_on` of their own."""

SOURCE_FIELDS: dict[str, Field] = {
    "title": Text(),
    "url": Url(required=False),
    "file": _OPTIONAL_TEXT,
    "quote": _OPTIONAL_TEXT,
}
ENVELOPE_FIELDS = ("type", "occurred_on", "basis", "data", "sources", "note")


@dataclass(frozen=True)
class EventDraft:
    """An event as a writer proposes it, already checked against the contract's rules."""

    type: str
    occurred_on: str | None
    data: dict[str, Any]
    sources: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    basis: str | None = None
    """`change`, `attestation`, or None when not sent (which means change)."""


def parse_event(payload: object) -> EventDraft:
    """Check a proposed event as a whole; raise InvalidEvent naming every bad field."""
    if not isinstance(payload, dict):
        raise InvalidEvent({"body": "must be a JSON object describing one event"})
    errors: Errors = {}
    for name in payload:
        if name not in ENVELOPE_FIELDS:
            errors[name] = f"is not a field of an event (its fields: {', '.join(ENVELOPE_FIELDS)})"
    kind = payload.get("type")
    # `not isinstance` first: a list or an object as the type is unhashable.
    if not isinstance(kind, str) or kind not in DATA_FIELDS:
        errors["type"] = (
            "is required" if kind is None else "must be one of: " + ", ".join(EVENT_TYPES)
        )
    occurred_on = _check_occurred_on(kind, payload.get("occurred_on"), errors)
    data = _check_data(kind, payload.get("data"), errors)
    basis = _check_basis(kind, payload.get("basis"), errors)
    if kind == "corrected" and not {"occurred_on", "data"} & set(data) and basis is None:
        errors.setdefault("data", "a correction needs at least one of occurred_on, data and basis")
    sources = _check_sources(payload.get("sources"), errors)
    note = payload.get("note")
    if note is not None:
        Text().check(note, "note", errors)
    if errors:
        raise InvalidEvent(errors)
    assert isinstance(kind, str)
    return EventDraft(kind, occurred_on, data, sources, note, basis)


def check_data(kind: str, data: object, prefix: str = "data") -> dict[str, Any]:
    """Check `data` for an event of type `kind` on its own; raise InvalidEvent if it is bad."""
    errors: Errors = {}
    clean = _check_data(kind, data, errors, prefix)
    if errors:
        raise InvalidEvent(errors)
    return clean


def _check_occurred_on(kind: object, value: object, errors: Errors) -> str | None:
    if kind in AMENDMENT_TYPES:
        if value is not None:
            errors["occurred_on"] = (
                f"a {kind} event takes no occurred_on; a correction's new date goes in "
                "data.occurred_on"
            )
        return None
    if value is None:
        errors["occurred_on"] = "is required (an EDTF date such as 1947 or 2004-02-17)"
        return None
    date = Date().check(value, "occurred_on", errors)
    return date if isinstance(date, str) else None


def _check_data(kind: object, data: object, errors: Errors, prefix: str = "data") -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors[prefix] = "must be an object"
        return {}
    if not isinstance(kind, str) or kind not in DATA_FIELDS:
        return dict(data)
    clean = check_fields(DATA_FIELDS[kind], data, f"{prefix}.", errors)
    if kind == "figures_reported":
        _check_qualified_figures(clean, prefix, errors)
    replaces = clean.get("replaces_role")
    if kind == "office_holder_appointed" and replaces is not None and replaces == clean.get("role"):
        errors.setdefault(f"{prefix}.replaces_role", "must name another role than data.role")
    return clean


def _check_qualified_figures(clean: dict[str, Any], prefix: str, errors: Errors) -> None:
    qualifiers, figures = clean.get("qualifiers"), clean.get("figures")
    if not isinstance(qualifiers, dict) or not isinstance(figures, dict):
        return
    for name in qualifiers:
        if name not in figures:
            errors.setdefault(
                f"{prefix}.qualifiers.{name}", "qualifies a figure this event does not report"
            )


def _check_basis(kind: object, value: object, errors: Errors) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in BASES:
        errors["basis"] = "must be 'change' or 'attestation'"
    elif kind not in BASIS_TYPES and kind != "corrected":
        errors["basis"] = "is allowed only on " + ", ".join(BASIS_TYPES) + " and corrected events"
    else:
        return value
    return None


def _check_sources(value: object, errors: Errors) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors["sources"] = "must be a list of sources, each with at least a title"
        return []
    sources = []
    for index, source in enumerate(value):
        if not isinstance(source, dict):
            errors[f"sources.{index}"] = "must be an object with at least a title"
            continue
        sources.append(check_fields(SOURCE_FIELDS, source, f"sources.{index}.", errors))
    return sources
