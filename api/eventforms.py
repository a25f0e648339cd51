"""The event forms, generated from the domain's field definitions (`DATA_FIELDS`), which are
the ones that validate every event the API receives, so a form and the API cannot disagree.

Pure functions, no Flask: `controls` lays a type's fields out as form controls, `payload`
reads a submitted form back into the event the API would take, `values_of` fills a form
from a stored event (for corrections), and `place_errors` puts each of the domain's errors
(keyed by dotted paths such as `data.person.id`) beside the control it belongs to. A form
field's name is the dotted path the domain uses for it, so the two line up by construction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from events.validation import (
    BASIS_TYPES,
    DATA_FIELDS,
    FIGURE_QUALIFIERS,
    SOURCE_FIELDS,
    Date,
    Field,
    Figures,
    Language,
    Object,
    Qualifiers,
    Slug,
    Url,
)

Json = dict[str, Any]
Form = Mapping[str, str]
"""A submitted form: each control's name and the text typed in it."""

FORM_TYPES = tuple(t for t in DATA_FIELDS if t not in ("retracted", "corrected"))
"""The types a new-event form records (amendments have forms of their own)."""

LONG_TEXT = frozenset(("text", "quote", "note", "reason"))
"""Fields given a multi-line box."""

LABELS = {
    "person": "Person",
    "person_id": "Person (id)",
    "member": "Member organisation",
    "member_id": "Member organisation (id)",
    "parent": "Parent organisation (id)",
    "replaces_role": "Continues the role",
    "language": "Language",
    "acronym": "Acronym",
    "headline": "Headline",
    "text": "Text",
    "kind": "Kind of document",
    "stage": "Stage",
    "body": "Adopted by",
    "place": "Place",
    "location": "Location",
    "country": "Country",
    "id": "Id",
    "title": "Title",
    "url": "URL",
    "file": "Seed file",
    "quote": "Quote",
}

HINTS = {
    "language": "A BCP 47 tag such as en, fr or fr-CA; English when left empty.",
    "replaces_role": "The earlier name of this role, if it continues one.",
    "location": "Free text, such as “Brussels, Belgium”.",
    "person_id": "The id of a person recorded in this role.",
    "member_id": "The id of a member organisation.",
    "parent": "An organisation id such as ica; it need not have a history yet.",
    "id": "Lowercase letters, digits and hyphens; made from the name when left empty.",
    "url": "An http:// or https:// address.",
}

LISTS = {"person_id": "people", "member_id": "members", "parent": "organisations"}
"""Slug fields offered the ids already recorded (a `datalist`: typing another id works too)."""

PICKERS = {"person": "people", "member": "members"}
"""Objects that may be picked from those already recorded, or entered as new."""

NEW = "new"
"""The picker's value for an entity typed in by hand."""

SOURCE_ROWS = 2
FIGURE_ROWS = 4
SHIPPED_FIGURES = ("member_organisations", "countries", "enterprises", "jobs")


@dataclass
class Control:
    """One input: its name (the domain's dotted path), label, kind and help."""

    name: str
    label: str
    kind: str
    """text, textarea, slug, date, url, language, number, select or radios."""
    required: bool = False
    hint: str = ""
    choices: Sequence[tuple[str, str]] = ()
    datalist: str | None = None


@dataclass
class Group:
    """A fieldset: an object's fields (with an optional picker), or a figures table."""

    name: str
    legend: str
    controls: list[Control] = field(default_factory=list)
    picker: str | None = None
    """For objects: which list of known entities its picker offers."""
    rows: list[list[Control]] = field(default_factory=list)
    """For figures: one row of controls per figure."""


Item = Control | Group


def label_of(name: str) -> str:
    """A reader's label for a field name."""
    return LABELS.get(name, name.replace("_", " ").capitalize())


def _control(spec: Field, name: str, path: str) -> Control:
    kind = "text"
    if name in LONG_TEXT:
        kind = "textarea"
    elif isinstance(spec, Date):
        kind = "date"
    elif isinstance(spec, Url):
        kind = "url"
    elif isinstance(spec, Language):
        kind = "language"
    elif isinstance(spec, Slug):
        kind = "slug"
    return Control(
        path,
        label_of(name),
        kind,
        required=spec.required,
        hint=HINTS.get(name, ""),
        datalist=LISTS.get(name),
    )


def figure_row(index: int) -> list[Control]:
    """The controls of one figure: its name, its number and how exact it is."""
    prefix = f"data.figures.{index}"
    qualifiers = [("", "exactly"), *((q, q) for q in FIGURE_QUALIFIERS)]
    return [
        Control(f"{prefix}.name", "Figure", "text", datalist="figures"),
        Control(f"{prefix}.value", "Number", "number"),
        Control(f"{prefix}.qualifier", "How exact", "select", choices=qualifiers),
    ]


def _items(fields: Mapping[str, Field], prefix: str, figure_rows: int) -> list[Item]:
    items: list[Item] = []
    for name, spec in fields.items():
        path = f"{prefix}{name}"
        if isinstance(spec, Object):
            controls = [c for c in _items(spec.fields, f"{path}.", 0) if isinstance(c, Control)]
            picker = PICKERS.get(name)
            if picker:  # the id is made from the name when left empty: the name comes first
                controls.sort(key=lambda c: not c.name.endswith(".name"))
                for control in controls:
                    control.required = control.required and not control.name.endswith(".id")
            items.append(Group(path, label_of(name), controls, picker=picker))
        elif isinstance(spec, Figures):
            rows = [figure_row(i) for i in range(figure_rows)]
            items.append(Group(path, "Figures", rows=rows))
        elif not isinstance(spec, Qualifiers):  # qualifiers sit in the figures' rows
            items.append(_control(spec, name, path))
    return items


def controls(kind: str, figure_rows: int = FIGURE_ROWS) -> list[Item]:
    """The controls of `data` for an event type, in the order the domain defines them."""
    return _items(DATA_FIELDS[kind], "data.", figure_rows)


def takes_basis(kind: str) -> bool:
    """Whether the type's fact may be only attested."""
    return kind in BASIS_TYPES


def source_rows(count: int) -> list[list[Control]]:
    """The controls of `count` sources, from the domain's source fields."""
    return [
        [_control(spec, name, f"sources.{index}.{name}") for name, spec in SOURCE_FIELDS.items()]
        for index in range(count)
    ]


def rows_in(form: Form, prefix: str, minimum: int) -> int:
    """How many numbered rows (`sources.3.title`) a form holds, at least `minimum`."""
    numbers = [
        int(match[1])
        for name in form
        if (match := re.match(rf"{re.escape(prefix)}\.([0-9]{{1,3}})\.", name))
    ]
    return max(minimum, max(numbers, default=-1) + 1)


def slug_of(name: str) -> str:
    """An id made from a name: `Bruno Roelants` → `bruno-roelants`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:64].strip("-")


def _text(form: Form, name: str) -> str | None:
    value = form.get(name, "")
    return value.strip() or None


def _number(text: str) -> object:
    """A figure as a number (46 stays an int); text that is none is left for the domain to
    refuse in its own words."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _figures(form: Form, errors: dict[str, str]) -> tuple[Json, Json]:
    figures: Json = {}
    qualifiers: Json = {}
    for index in range(rows_in(form, "data.figures", 0)):
        prefix = f"data.figures.{index}"
        name, value = _text(form, f"{prefix}.name"), _text(form, f"{prefix}.value")
        qualifier = _text(form, f"{prefix}.qualifier")
        if name is None and value is None:
            continue
        if name is None:
            errors[f"{prefix}.name"] = "name the figure this number counts"
        elif value is None:
            errors[f"{prefix}.value"] = "give the number reported"
        elif name in figures:
            errors[f"{prefix}.name"] = "this figure is reported in another row already"
        else:
            figures[name] = _number(value)
            if qualifier:
                qualifiers[name] = qualifier
    return figures, qualifiers


def _picked(group: Group, form: Form, known: Mapping[str, Mapping[str, str]]) -> Json:
    """An object's fields: the entity picked from those recorded, or the one typed in."""
    value: Json = {}
    for control in group.controls:
        text = _text(form, control.name)
        if text is not None:
            value[control.name.rsplit(".", 1)[1]] = text
    pick = _text(form, f"pick.{group.name}")
    if group.picker and pick and pick != NEW and pick != value.get("id"):
        found = known.get(group.picker, {})
        value = {**value, "id": pick, "name": found.get(pick) or value.get("name")}
    elif pick and pick == value.get("id") and not value.get("name"):
        value["name"] = known.get(group.picker or "", {}).get(pick)
    elif "id" not in value and value.get("name"):
        value["id"] = slug_of(value["name"])
    return value


def data_of(
    kind: str, form: Form, known: Mapping[str, Mapping[str, str]], errors: dict[str, str]
) -> Json:
    """The `data` of a type read from a submitted form; blank fields are left out."""
    data: Json = {}
    for item in controls(kind, 0):
        key = item.name.split(".", 1)[1]
        if key == "figures":
            figures, qualifiers = _figures(form, errors)
            data["figures"] = figures or None
            if qualifiers:
                data["qualifiers"] = qualifiers
        elif isinstance(item, Group):
            picked = _picked(item, form, known)
            data[key] = picked or None
        else:
            data[key] = _text(form, item.name)
    return {k: v for k, v in data.items() if v is not None}


def sources_of(form: Form) -> list[Json]:
    """The sources typed in, rows left blank skipped."""
    sources = []
    for index in range(rows_in(form, "sources", 0)):
        source = {
            name: text
            for name in SOURCE_FIELDS
            if (text := _text(form, f"sources.{index}.{name}")) is not None
        }
        if source:
            sources.append(source)
    return sources


def _envelope(form: Form, payload: Json) -> Json:
    sources = sources_of(form)
    if sources:
        payload["sources"] = sources
    note = _text(form, "note")
    if note is not None:
        payload["note"] = note
    return payload


def payload(form: Form, known: Mapping[str, Mapping[str, str]]) -> tuple[Json, dict[str, str]]:
    """The event a new-event form describes, as the API would receive it, and the mistakes
    the form itself can see (a figure without a name); the domain checks the rest."""
    kind = form.get("type", "")
    errors: dict[str, str] = {}
    event: Json = {"type": kind, "occurred_on": _text(form, "occurred_on")}
    if kind in DATA_FIELDS:
        event["data"] = data_of(kind, form, known, errors)
    if takes_basis(kind) and form.get("basis") == "attestation":
        event["basis"] = "attestation"
    return _envelope(form, {k: v for k, v in event.items() if v is not None}), errors


def correction(
    target: Json, form: Form, known: Mapping[str, Mapping[str, str]]
) -> tuple[Json, dict[str, str]]:
    """The `corrected` event a correction form describes: only what differs from the target
    as it stands (its date, its data, its basis), with the reason."""
    errors: dict[str, str] = {}
    data: Json = {"event_id": target["id"], "reason": _text(form, "reason")}
    occurred_on = _text(form, "occurred_on")
    if occurred_on != target.get("occurred_on"):
        data["occurred_on"] = occurred_on or ""
    new_data = data_of(target["type"], form, known, errors)
    if new_data != target.get("data", {}):
        data["data"] = new_data
    event: Json = {"type": "corrected"}
    if takes_basis(target["type"]):
        basis = "attestation" if form.get("basis") == "attestation" else "change"
        if basis != (target.get("basis") or "change"):
            event["basis"] = basis
    if not ({"occurred_on", "data"} & set(data) or "basis" in event):
        errors["correction"] = "change at least one of the date, the fields and the basis"
    event["data"] = {k: v for k, v in data.items() if v is not None}
    return _envelope(form, event), errors


def retraction(target: Json, form: Form) -> Json:
    """The `retracted` event a retraction form describes."""
    data = {"event_id": target["id"], "reason": _text(form, "reason")}
    return _envelope(form, {"type": "retracted", "data": {k: v for k, v in data.items() if v}})


def values_of(event: Json) -> dict[str, str]:
    """A stored event's current values as the form's fields (to correct it)."""
    values = {"type": event["type"], "occurred_on": event.get("occurred_on") or ""}
    if event.get("basis"):
        values["basis"] = event["basis"]
    data = event.get("data", {})
    for key, value in data.items():
        if isinstance(value, dict) and key == "figures":
            qualifiers = data.get("qualifiers", {})
            for index, (name, number) in enumerate(value.items()):
                values[f"data.figures.{index}.name"] = name
                values[f"data.figures.{index}.value"] = str(number)
                values[f"data.figures.{index}.qualifier"] = qualifiers.get(name, "")
        elif isinstance(value, dict) and key != "qualifiers":
            for inner, text in value.items():
                values[f"data.{key}.{inner}"] = str(text)
        elif not isinstance(value, dict):
            values[f"data.{key}"] = str(value)
    return values


AMENDMENT_PATHS = (
    ("data.data.", "data."),
    ("data.occurred_on", "occurred_on"),
    ("data.reason", "reason"),
)
"""Where an amendment's errors point in its form: the target's fields are shown as the
target's own (`data.data.role` is the form's `data.role`)."""


def place_errors(
    errors: Mapping[str, str], form: Form, names: set[str], *, amendment: bool = False
) -> dict[str, str]:
    """Each error under the name of the control it belongs to (unplaceable ones keep their
    key, for the summary): a figure's error goes to its row, found by the figure's name."""
    placed: dict[str, str] = {}
    for key, message in errors.items():
        target = key
        if amendment:
            for before, after in AMENDMENT_PATHS:
                if target.startswith(before):
                    target = after + target[len(before) :]
        target = _figure_control(target, form) or target
        if target not in names and f"{target}.title" in names:
            target = f"{target}.title"  # a source as a whole: its first field
        placed.setdefault(target, message)
    return placed


def _figure_control(key: str, form: Form) -> str | None:
    """`data.figures.jobs` → the value of the row naming jobs; `data.qualifiers.jobs` → its
    qualifier."""
    match = re.fullmatch(r"data\.(figures|qualifiers)\.(.+)", key)
    if match is None:
        return None
    part = "value" if match[1] == "figures" else "qualifier"
    for index in range(rows_in(form, "data.figures", 0)):
        if _text(form, f"data.figures.{index}.name") == match[2]:
            return f"data.figures.{index}.{part}"
    return None


ENVELOPE_LABELS = {
    "type": "Kind of event",
    "occurred_on": "Date",
    "basis": "How the source knows it",
    "note": "Note",
    "reason": "Reason",
    "form": "This form",
    "correction": "Correction",
}

ALREADY_SENT = (
    "this form was sent already, with other values, and recorded an event then; send it "
    "again to record this one as well"
)


def control_id(name: str) -> str:
    """The HTML id of a control (`data.person.id` → `f-data-person-id`)."""
    return "f-" + name.replace(".", "-")


def labels_of(items: Sequence[Item], sources: Sequence[Sequence[Control]]) -> dict[str, str]:
    """Every control a form shows, by name, with the label the summary of problems uses."""
    labels = dict(ENVELOPE_LABELS)
    for item in items:
        if isinstance(item, Group):
            labels[item.name] = item.legend
            labels.update({c.name: f"{item.legend}: {c.label}" for c in item.controls})
            for number, row in enumerate(item.rows, start=1):
                labels.update({c.name: f"Figure {number}: {c.label}" for c in row})
        else:
            labels[item.name] = item.label
    for number, fields in enumerate(sources, start=1):
        labels.update({c.name: f"Source {number}: {c.label}" for c in fields})
    return labels
