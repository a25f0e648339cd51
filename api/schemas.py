"""Marshmallow schemas of every request and response, kept apart: `...In`/`...Query` for what
the service accepts, `...Out` for what it returns.

The rules for events live in the domain (`events.validation`) and those for query parameters
in the application (`timeline.queries`), so that the API and the CLI refuse the same things
with the same words. Input schemas here therefore describe the accepted shapes precisely, for
the OpenAPI document, and hand the checking itself to those rules when loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from events.errors import InvalidEvent
from events.validation import (
    BASES,
    BASIS_TYPES,
    DATA_FIELDS,
    EVENT_TYPES,
    FIGURE_QUALIFIERS,
    SLUG,
    SOURCE_FIELDS,
    AnyObject,
    Date,
    Field,
    Figures,
    Language,
    Object,
    Qualifiers,
    Slug,
    Url,
    Uuid,
    parse_event,
)

EDTF_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?[?~%]?$"
PERIOD_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"


def _number(**kwargs: Any) -> fields.Raw:
    """A number passed through as stored (46 stays 46, not 46.0)."""
    return fields.Raw(metadata={"type": "number"}, **kwargs)


def _doc_field(spec: Field, name: str) -> fields.Field:
    """A marshmallow field that documents one domain field."""
    common: dict[str, Any] = {"required": spec.required}
    if isinstance(spec, Object):
        return fields.Nested(_doc_schema(spec.fields, name), **common)
    if isinstance(spec, Figures):
        return fields.Dict(keys=fields.String(), values=_number(), **common)
    if isinstance(spec, AnyObject):
        return fields.Dict(
            metadata={"description": "replacement data for the target's type"}, **common
        )
    if isinstance(spec, Qualifiers):
        return fields.Dict(
            keys=fields.String(),
            values=fields.String(validate=validate.OneOf(FIGURE_QUALIFIERS)),
            metadata={"description": "How exact each figure is; an absent figure is exact."},
            **common,
        )
    if isinstance(spec, Language):
        return fields.String(
            metadata={
                "description": "A BCP 47 language tag (default en), kept as sent; the "
                "language is its primary subtag, lower-cased.",
                "example": "fr-CA",
            },
            **common,
        )
    if isinstance(spec, Uuid):
        return fields.UUID(**common)
    if isinstance(spec, Slug):
        return fields.String(validate=validate.Regexp(SLUG.pattern), **common)
    if isinstance(spec, Date):
        return fields.String(validate=validate.Regexp(EDTF_PATTERN), **common)
    if isinstance(spec, Url):
        return fields.String(metadata={"format": "uri"}, **common)
    return fields.String(validate=validate.Length(min=1), **common)


def _doc_schema(specs: Mapping[str, Field], name: str) -> type[Schema]:
    camel = "".join(part.capitalize() for part in name.split("_"))
    return Schema.from_dict({k: _doc_field(v, k) for k, v in specs.items()}, name=camel)


DATA_SCHEMAS = {kind: _doc_schema(specs, f"{kind}_data") for kind, specs in DATA_FIELDS.items()}
"""One documented `data` schema per event type, generated from the domain's definitions."""


class SourceSchema(Schema):
    """Where a fact comes from."""

    title = fields.String(required=True, metadata={"example": "What is CICOPA? (1998)"})
    url = fields.String(metadata={"format": "uri"})
    file = fields.String(metadata={"example": "003_8246a2747768bb40.txt"})
    quote = fields.String()


assert set(SourceSchema._declared_fields) == set(SOURCE_FIELDS)


BASIS_DESCRIPTION = (
    "How the event knows its fact: `change` (the default: the fact began on occurred_on) or "
    "`attestation` (a source shows it held on occurred_on, and says nothing of when it "
    "began). Allowed on " + ", ".join(BASIS_TYPES) + "; a corrected event's basis replaces "
    "its target's."
)


class EventIn(Schema):
    """An event to append. `data` takes the fields of its type (see the `...Data` schemas)."""

    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    occurred_on = fields.String(
        validate=validate.Regexp(EDTF_PATTERN),
        metadata={
            "description": "When it happened: an EDTF date (YYYY, YYYY-MM or YYYY-MM-DD, "
            "optionally followed by ?, ~ or %). Required for every type but retracted and "
            "corrected, which must not have one.",
            "example": "2004-02-17",
        },
    )
    basis = fields.String(
        validate=validate.OneOf(BASES),
        metadata={"description": BASIS_DESCRIPTION},
    )
    data = fields.Dict(
        metadata={
            "description": "The event's fields, by type: " + ", ".join(EVENT_TYPES),
            "oneOf": [
                {"$ref": f"#/components/schemas/{s.__name__}"} for s in DATA_SCHEMAS.values()
            ],
        }
    )
    sources = fields.List(fields.Nested(SourceSchema))
    note = fields.String()

    def load(self, data: Any, **_: Any) -> Any:  # type: ignore[override]
        """Check the event by the domain's rules; every bad field is named."""
        try:
            return parse_event(data)
        except InvalidEvent as error:
            raise ValidationError(error.errors) from None


class _Documented(Schema):
    """Query parameters: described here, checked by the application (`timeline.queries`)."""

    def load(self, data: Any, **_: Any) -> Any:  # type: ignore[override]
        """The parameters that were given, as text."""
        given = {}
        for name, field in self.fields.items():
            key = field.data_key or name
            if key in data:
                given[name] = data[key]
        return given


def _period(description: str, data_key: str | None = None) -> fields.String:
    return fields.String(
        validate=validate.Regexp(PERIOD_PATTERN),
        data_key=data_key,
        metadata={"description": description},
    )


KNOWN_AT = fields.String(
    metadata={
        "format": "date-time",
        "description": "RFC 3339 recording time: answer from what was recorded by then.",
    }
)


class StateQuery(_Documented):
    """When to look."""

    at = _period("YYYY, YYYY-MM or YYYY-MM-DD: as of the end of that period (default: today).")
    known_at = KNOWN_AT


class EventsQuery(_Documented):
    """Which events, and which page."""

    start = _period("Events whose date range ends on or after the start of this period.", "from")
    end = _period("Events whose date range starts on or before the end of this period.", "to")
    type = fields.String(metadata={"description": "Comma-separated event types."})
    limit = fields.Integer(validate=validate.Range(1, 1000), metadata={"default": 100})
    cursor = fields.String(metadata={"description": "The `next` of the previous page."})
    known_at = KNOWN_AT
    include_retracted = fields.Boolean(metadata={"default": False})


class TimelineQuery(EventsQuery):
    """Events of every organisation, or of some."""

    org = fields.String(metadata={"description": "Comma-separated organisation ids."})


class DiffQuery(_Documented):
    """The two dates to compare."""

    start = _period("The earlier date (required).", "from")
    end = _period("The later date (default: today).", "to")
    known_at = KNOWN_AT


class AmendmentOut(Schema):
    """The retraction or correction that gave an event its status."""

    event_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class StoredEventOut(Schema):
    """An event as stored: as sent, plus where and when it was recorded, and its status."""

    id = fields.UUID(required=True)
    organisation = fields.String(required=True)
    version = fields.Integer(required=True)
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    occurred_on = fields.String(metadata={"description": "Absent on retractions and corrections."})
    basis = fields.String(
        validate=validate.OneOf(BASES),
        metadata={
            "description": BASIS_DESCRIPTION + " Shown on every event of those types (as "
            "corrected; `change` when none was sent) and on corrections that set one."
        },
    )
    data = fields.Dict(required=True)
    sources = fields.List(fields.Nested(SourceSchema), required=True)
    note = fields.String()
    recorded_at = fields.String(required=True, metadata={"format": "date-time"})
    recorded_by = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(["active", "retracted", "corrected"])
    )
    amendment = fields.Nested(AmendmentOut, metadata={"description": "Set when not active."})


class PersonRefOut(Schema):
    """A person named in a state."""

    id = fields.String(required=True)
    name = fields.String(required=True)


class _Cited(Schema):
    event_id = fields.String(required=True)
    sources = fields.List(fields.Nested(SourceSchema), required=True)


class AttestedOut(Schema):
    """The attestations of a value that count at the date, since it began."""

    first = fields.String(required=True, metadata={"description": "occurred_on of the first"})
    last = fields.String(required=True, metadata={"description": "occurred_on of the last"})
    count = fields.Integer(required=True)


class KnownOut(_Cited):
    """How a value is known; `event_id` and `sources` are those of the latest event, in
    occurrence order, that set or attested it."""

    since = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "occurred_on of the change that began it; null when only "
            "attestations show it"
        },
    )
    attested = fields.Nested(AttestedOut, required=True, allow_none=True)


class ProvenanceOut(Schema):
    """How each of name, acronym, headquarters and parent is known (those with a value)."""

    name = fields.Nested(KnownOut)
    acronym = fields.Nested(KnownOut)
    headquarters = fields.Nested(KnownOut)
    parent = fields.Nested(KnownOut)


class NameOut(Schema):
    """The organisation's name and acronym in one language."""

    name = fields.String(required=True)
    acronym = fields.String(required=True, allow_none=True)


class OfficeHolderOut(KnownOut):
    """Who holds a role, and how that is known."""

    role = fields.String(required=True)
    person = fields.Nested(PersonRefOut, required=True)


class RoleWithoutKnownHolderOut(Schema):
    """A role its holder left with no later appointment or attestation: the record does not
    say who held it next, which is not the same as nobody."""

    role = fields.String(required=True)
    since = fields.String(required=True, metadata={"description": "occurred_on of the leaving"})
    last_holder = fields.Nested(PersonRefOut, required=True)


class MemberOut(KnownOut):
    """A member organisation, and how its membership is known."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    country = fields.String(allow_none=True)


class ReportOut(_Cited):
    """One report of a figure."""

    value = _number(required=True)
    qualifier = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(FIGURE_QUALIFIERS),
        metadata={"description": "null when the figure is exact"},
    )
    reported_on = fields.String(required=True)


class FigureOut(ReportOut):
    """A figure's latest report, with every report of an overlapping date (conflicts too)."""

    reports = fields.List(fields.Nested(ReportOut), required=True)


class DocumentOut(_Cited):
    """A document at one stage of its adoption."""

    title = fields.String(required=True)
    stage = fields.String(allow_none=True)
    kind = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    place = fields.String(allow_none=True)
    occurred_on = fields.String(required=True)


class SubOrganisationOut(Schema):
    """An organisation whose parent is this one."""

    id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)


class StateOut(Schema):
    """An organisation at a date, as known at a recording time."""

    organisation = fields.String(required=True)
    at = fields.String(required=True)
    known_at = fields.String(required=True, allow_none=True)
    exists = fields.Boolean(required=True)
    name = fields.String(required=True, allow_none=True)
    acronym = fields.String(required=True, allow_none=True)
    headquarters = fields.String(required=True, allow_none=True)
    parent = fields.String(required=True, allow_none=True)
    names = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(NameOut),
        required=True,
        metadata={"description": "By language (a BCP 47 primary subtag, lower-cased)."},
    )
    provenance = fields.Nested(ProvenanceOut, required=True)
    office_holders = fields.List(fields.Nested(OfficeHolderOut), required=True)
    roles_without_known_holder = fields.List(
        fields.Nested(RoleWithoutKnownHolderOut), required=True
    )
    members = fields.List(fields.Nested(MemberOut), required=True)
    figures = fields.Dict(keys=fields.String(), values=fields.Nested(FigureOut), required=True)
    documents = fields.List(fields.Nested(DocumentOut), required=True)
    sub_organisations = fields.List(fields.Nested(SubOrganisationOut), required=True)
    uncertain = fields.List(fields.Nested(StoredEventOut), required=True)


class EventsPageOut(Schema):
    """A page of events in occurrence order."""

    events = fields.List(fields.Nested(StoredEventOut), required=True)
    next = fields.String(required=True, allow_none=True)


class ValueChangeOut(Schema):
    """A single value before and after."""

    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


class ListChangeOut(Schema):
    """Items that appeared and disappeared."""

    added = fields.List(fields.Dict(), required=True)
    removed = fields.List(fields.Dict(), required=True)


class FigureChangeOut(Schema):
    """A figure's value and qualifier (null when exact) before and after."""

    before = _number(required=True, allow_none=True)
    after = _number(required=True, allow_none=True)
    before_qualifier = fields.String(required=True, allow_none=True)
    after_qualifier = fields.String(required=True, allow_none=True)


class NameChangeOut(Schema):
    """A language's name and acronym before and after (null where it had none)."""

    before = fields.Nested(NameOut, required=True, allow_none=True)
    after = fields.Nested(NameOut, required=True, allow_none=True)


class ChangesOut(Schema):
    """Only the fields that changed."""

    exists = fields.Nested(ValueChangeOut)
    name = fields.Nested(ValueChangeOut)
    acronym = fields.Nested(ValueChangeOut)
    headquarters = fields.Nested(ValueChangeOut)
    parent = fields.Nested(ValueChangeOut)
    names = fields.Dict(keys=fields.String(), values=fields.Nested(NameChangeOut))
    office_holders = fields.Nested(ListChangeOut)
    members = fields.Nested(ListChangeOut)
    documents = fields.Nested(ListChangeOut)
    sub_organisations = fields.Nested(ListChangeOut)
    figures = fields.Dict(keys=fields.String(), values=fields.Nested(FigureChangeOut))


class DiffOut(Schema):
    """What changed between two dates."""

    organisation = fields.String(required=True)
    start = fields.String(required=True, data_key="from", attribute="from")
    end = fields.String(required=True, data_key="to", attribute="to")
    known_at = fields.String(required=True, allow_none=True)
    changes = fields.Nested(ChangesOut, required=True)


class PositionOut(Schema):
    """A role held in an organisation, from (null when only attestations show it) and to
    (null while held; `../<date>` when an attested successor ended it on or before then)."""

    organisation = fields.String(required=True)
    role = fields.String(required=True)
    start = fields.String(required=True, allow_none=True, data_key="from", attribute="from")
    end = fields.String(required=True, allow_none=True, data_key="to", attribute="to")
    attested = fields.Nested(AttestedOut, required=True, allow_none=True)


class PersonOut(Schema):
    """A person's positions across organisations."""

    id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    positions = fields.List(fields.Nested(PositionOut), required=True)


class OrganisationSummaryOut(Schema):
    """An organisation with events."""

    id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    acronym = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True)


class OrganisationsOut(Schema):
    """Every organisation with events."""

    organisations = fields.List(fields.Nested(OrganisationSummaryOut), required=True)


class TimelineDateOut(Schema):
    """A TimelineJS date at its precision."""

    year = fields.Integer(required=True)
    month = fields.Integer()
    day = fields.Integer()
    display_date = fields.String()


class TimelineTextOut(Schema):
    """TimelineJS text (HTML, escaped)."""

    headline = fields.String()
    text = fields.String()


class TimelineMediaOut(Schema):
    """TimelineJS media: here, the credits of an event's sources."""

    url = fields.String(required=True)
    credit = fields.String()
    link = fields.String()


class TimelineSlideOut(Schema):
    """One TimelineJS slide."""

    unique_id = fields.String()
    start_date = fields.Nested(TimelineDateOut, required=True)
    text = fields.Nested(TimelineTextOut)
    group = fields.String()
    media = fields.Nested(TimelineMediaOut)


class TimelineTitleOut(Schema):
    """The TimelineJS title slide."""

    text = fields.Nested(TimelineTextOut)


class TimelineJSOut(Schema):
    """An organisation's timeline in Knight Lab TimelineJS3's JSON format."""

    title = fields.Nested(TimelineTitleOut)
    events = fields.List(fields.Nested(TimelineSlideOut), required=True)


class ProblemOut(Schema):
    """An error, as RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "For 422: each bad field or parameter, and what is wrong."},
    )
    instance = fields.String()
