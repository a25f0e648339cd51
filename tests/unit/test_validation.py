"""What a well-formed event looks like: the envelope, each type's data, text, ids and figures."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.errors import InvalidEvent
from events.validation import (
    AMENDMENT_TYPES,
    DATA_FIELDS,
    EVENT_TYPES,
    EventDraft,
    Object,
    check_data,
    is_slug,
    parse_event,
    text_problem,
)

# No deadline (timing flakes) and no example database (tests/unit does no I/O).
FAST = settings(max_examples=200, deadline=None, database=None)
EVENT_ID = "6f1c1d0e-8a43-4f4e-9b7e-2f3a9c1b7d10"

VALID_DATA: dict[str, dict[str, Any]] = {
    "founded": {"name": "CICOPA", "acronym": "CICOPA"},
    "renamed": {"name": "CICOPA International", "acronym": "CICOPA"},
    "headquarters_moved": {"location": "Brussels, Belgium"},
    "office_holder_appointed": {
        "role": "President",
        "person": {"id": "marian-rybar", "name": "Marian Rybar"},
    },
    "office_holder_left": {"role": "President", "person_id": "marian-rybar"},
    "member_joined": {
        "member": {"id": "cecop", "name": "CECOP", "country": "Belgium"},
    },
    "member_left": {"member_id": "cecop"},
    "figures_reported": {"figures": {"member_organisations": 46, "jobs": 4.5}},
    "document_adopted": {
        "title": "World Declaration on Worker Cooperatives",
        "kind": "declaration",
        "stage": "adopted",
        "body": "General Assembly",
        "place": "Cartagena, Colombia",
    },
    "affiliated": {"parent": "ica"},
    "disaffiliated": {"parent": "ica"},
    "dissolved": {},
    "milestone": {"headline": "First world conference", "text": "Held in Paris."},
    "retracted": {"event_id": EVENT_ID, "reason": "a duplicate"},
    "corrected": {
        "event_id": EVENT_ID,
        "reason": "the source gives 1948",
        "occurred_on": "1948~",
        "data": {"name": "CICOPA"},
    },
}

HISTORICAL_TYPES = [kind for kind in EVENT_TYPES if kind not in AMENDMENT_TYPES]

# Every data field whose value is text, with a path into VALID_DATA.
TEXT_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("founded", ("name",)),
    ("founded", ("acronym",)),
    ("renamed", ("name",)),
    ("headquarters_moved", ("location",)),
    ("office_holder_appointed", ("role",)),
    ("office_holder_appointed", ("person", "name")),
    ("office_holder_left", ("role",)),
    ("member_joined", ("member", "name")),
    ("member_joined", ("member", "country")),
    ("document_adopted", ("title",)),
    ("document_adopted", ("kind",)),
    ("document_adopted", ("stage",)),
    ("document_adopted", ("body",)),
    ("document_adopted", ("place",)),
    ("milestone", ("headline",)),
    ("milestone", ("text",)),
    ("retracted", ("reason",)),
    ("corrected", ("reason",)),
]

# Every data field holding an id, with a path into VALID_DATA.
SLUG_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("office_holder_appointed", ("person", "id")),
    ("office_holder_left", ("person_id",)),
    ("member_joined", ("member", "id")),
    ("member_left", ("member_id",)),
    ("affiliated", ("parent",)),
    ("disaffiliated", ("parent",)),
]


def event(kind: str, **changes: Any) -> dict[str, Any]:
    """A valid event of `kind`, with some envelope fields replaced (None removes one)."""
    body: dict[str, Any] = {"type": kind, "data": copy.deepcopy(VALID_DATA[kind])}
    if kind not in AMENDMENT_TYPES:
        body["occurred_on"] = "1998"
    body.update(changes)
    return {name: value for name, value in body.items() if value is not None}


def with_data(kind: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A valid event of `kind` whose data field at `path` is `value`."""
    body = event(kind)
    target = body["data"]
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return body


def errors_of(body: object) -> dict[str, str]:
    """The errors parse_event reports for `body`; fails the test if it is accepted."""
    with pytest.raises(InvalidEvent) as raised:
        parse_event(body)
    return raised.value.errors


def dotted(path: tuple[str, ...]) -> str:
    return "data." + ".".join(path)


# --- valid events ------------------------------------------------------------------------------


def test_every_event_type_of_the_contract_has_a_valid_example() -> None:
    assert set(VALID_DATA) == set(DATA_FIELDS)
    assert set(AMENDMENT_TYPES) == {"retracted", "corrected"}


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_a_valid_event_of_each_type_parses_into_a_draft(kind: str) -> None:
    draft = parse_event(event(kind))

    assert isinstance(draft, EventDraft)
    assert draft.type == kind
    assert draft.occurred_on == (None if kind in AMENDMENT_TYPES else "1998")
    assert draft.data == VALID_DATA[kind]
    assert draft.sources == []
    assert draft.note is None


def test_a_full_event_keeps_its_sources_and_note() -> None:
    sources = [
        {
            "title": "What is CICOPA? (1998)",
            "file": "003_8246a2747768bb40.txt",
            "quote": "President : Mr. Marian Rybar",
        },
        {"title": "CICOPA website", "url": "https://www.cicopa.coop/about/"},
    ]
    body = event(
        "office_holder_appointed",
        occurred_on="1998?",
        sources=sources,
        note="the document gives only the year",
    )

    draft = parse_event(body)

    assert draft == EventDraft(
        type="office_holder_appointed",
        occurred_on="1998?",
        data=VALID_DATA["office_holder_appointed"],
        sources=sources,
        note="the document gives only the year",
    )


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("founded", ("acronym",)),
        ("renamed", ("acronym",)),
        ("member_joined", ("member", "country")),
        ("document_adopted", ("kind",)),
        ("document_adopted", ("stage",)),
        ("document_adopted", ("body",)),
        ("document_adopted", ("place",)),
        ("milestone", ("text",)),
        ("corrected", ("data",)),
        ("corrected", ("occurred_on",)),
    ],
)
def test_an_optional_data_field_sent_as_null_is_dropped(kind: str, path: tuple[str, ...]) -> None:
    draft = parse_event(with_data(kind, path, None))

    target = draft.data
    for name in path[:-1]:
        target = target[name]
    assert path[-1] not in target


@pytest.mark.parametrize("field", ["url", "file", "quote"])
def test_an_optional_source_field_sent_as_null_is_dropped(field: str) -> None:
    draft = parse_event(event("founded", sources=[{"title": "Minutes", field: None}]))

    assert draft.sources == [{"title": "Minutes"}]


def test_a_null_note_and_null_sources_are_left_out() -> None:
    body = event("founded")
    body["note"] = None
    body["sources"] = None

    draft = parse_event(body)

    assert draft.note is None
    assert draft.sources == []


@pytest.mark.parametrize("kind", ["dissolved", "founded"])
def test_absent_data_is_read_as_an_empty_object(kind: str) -> None:
    body = event(kind)
    del body["data"]

    if kind == "dissolved":
        assert parse_event(body).data == {}
    else:
        assert errors_of(body) == {"data.name": "is required (text)"}


def test_a_dissolution_takes_no_data_fields() -> None:
    errors = errors_of(event("dissolved", data={"reason": "merged"}))

    assert list(errors) == ["data.reason"]
    assert "its fields: none" in errors["data.reason"]


@pytest.mark.parametrize("occurred_on", ["1947", "2017-09~", "2004-02-17%", "2003?"])
def test_occurred_on_is_kept_exactly_as_given(occurred_on: str) -> None:
    assert parse_event(event("founded", occurred_on=occurred_on)).occurred_on == occurred_on


def test_an_event_id_is_stored_in_its_canonical_form() -> None:
    body = event("retracted", data={"event_id": EVENT_ID.upper(), "reason": "a duplicate"})

    assert parse_event(body).data["event_id"] == EVENT_ID


# --- data fields of each type ------------------------------------------------------------------

REQUIRED = [
    (kind, name)
    for kind, fields in DATA_FIELDS.items()
    for name, spec in fields.items()
    if spec.required
]
NESTED_REQUIRED = [
    (kind, (name, inner))
    for kind, fields in DATA_FIELDS.items()
    for name, spec in fields.items()
    if isinstance(spec, Object)
    for inner, inner_spec in spec.fields.items()
    if inner_spec.required
]


def test_the_required_fields_are_those_of_the_contract() -> None:
    assert sorted(REQUIRED) == sorted(
        [
            ("founded", "name"),
            ("renamed", "name"),
            ("headquarters_moved", "location"),
            ("office_holder_appointed", "role"),
            ("office_holder_appointed", "person"),
            ("office_holder_left", "role"),
            ("office_holder_left", "person_id"),
            ("member_joined", "member"),
            ("member_left", "member_id"),
            ("figures_reported", "figures"),
            ("document_adopted", "title"),
            ("affiliated", "parent"),
            ("disaffiliated", "parent"),
            ("milestone", "headline"),
            ("retracted", "event_id"),
            ("retracted", "reason"),
            ("corrected", "event_id"),
            ("corrected", "reason"),
        ]
    )
    assert sorted(NESTED_REQUIRED) == sorted(
        [
            ("office_holder_appointed", ("person", "id")),
            ("office_holder_appointed", ("person", "name")),
            ("member_joined", ("member", "id")),
            ("member_joined", ("member", "name")),
        ]
    )


@pytest.mark.parametrize(("kind", "name"), REQUIRED)
def test_a_missing_required_data_field_is_reported_under_its_path(kind: str, name: str) -> None:
    body = event(kind)
    del body["data"][name]

    errors = errors_of(body)

    assert list(errors) == [f"data.{name}"]
    assert errors[f"data.{name}"].startswith("is required")


@pytest.mark.parametrize(("kind", "name"), REQUIRED)
def test_a_required_data_field_sent_as_null_is_reported_as_missing(kind: str, name: str) -> None:
    errors = errors_of(with_data(kind, (name,), None))

    assert list(errors) == [f"data.{name}"]
    assert errors[f"data.{name}"].startswith("is required")


@pytest.mark.parametrize(("kind", "path"), NESTED_REQUIRED)
def test_a_missing_nested_field_is_reported_under_its_dotted_path(
    kind: str, path: tuple[str, ...]
) -> None:
    body = event(kind)
    del body["data"][path[0]][path[1]]

    errors = errors_of(body)

    assert list(errors) == [dotted(path)]
    assert errors[dotted(path)].startswith("is required")


MISTYPED = (
    [(kind, (name,)) for kind, fields in DATA_FIELDS.items() for name in fields]
    + NESTED_REQUIRED
    + [("member_joined", ("member", "country"))]
)


@pytest.mark.parametrize("value", [1947, 0, True, ["x"]])
@pytest.mark.parametrize(("kind", "path"), MISTYPED)
def test_a_mistyped_data_field_is_reported_under_its_path(
    kind: str, path: tuple[str, ...], value: object
) -> None:
    errors = errors_of(with_data(kind, path, value))

    assert list(errors) == [dotted(path)]
    assert errors[dotted(path)].startswith("must")


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_an_unknown_data_field_is_refused_by_name(kind: str) -> None:
    errors = errors_of(with_data(kind, ("colour",), "blue"))

    assert list(errors) == ["data.colour"]
    assert "is not a field" in errors["data.colour"]


@pytest.mark.parametrize(
    ("kind", "name"), [("office_holder_appointed", "person"), ("member_joined", "member")]
)
def test_an_unknown_nested_field_is_refused_by_name(kind: str, name: str) -> None:
    errors = errors_of(with_data(kind, (name, "age"), 42))

    assert list(errors) == [f"data.{name}.age"]
    assert "is not a field" in errors[f"data.{name}.age"]


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_data_that_is_not_an_object_is_refused(kind: str) -> None:
    errors = errors_of(event(kind, data=["name", "CICOPA"]))

    assert errors == {"data": "must be an object"}


@pytest.mark.parametrize("kind", [kind for kind in EVENT_TYPES if DATA_FIELDS[kind]])
def test_every_bad_data_field_is_reported_at_once(kind: str) -> None:
    data: dict[str, object] = dict.fromkeys(DATA_FIELDS[kind], 12345)
    data["colour"] = "blue"

    errors = errors_of(event(kind, data=data))

    assert set(errors) == {f"data.{name}" for name in data}


def test_bad_envelope_data_and_source_fields_are_reported_together() -> None:
    body = {
        "type": "office_holder_appointed",
        "occurred_on": "2005-02-30",
        "data": {"role": "", "person": {"id": "Bruno Roelants", "name": 7}},
        "sources": [{"url": "ftp://x"}],
        "note": "\x00",
        "version": 3,
    }

    assert set(errors_of(body)) == {
        "occurred_on",
        "data.role",
        "data.person.id",
        "data.person.name",
        "sources.0.title",
        "sources.0.url",
        "note",
        "version",
    }


# --- the envelope ------------------------------------------------------------------------------


def test_an_unknown_type_is_refused_naming_the_known_ones() -> None:
    errors = errors_of({"type": "merged", "occurred_on": "1998", "data": {}})

    assert list(errors) == ["type"]
    assert errors["type"].startswith("must be one of:")
    assert "office_holder_appointed" in errors["type"]


@pytest.mark.parametrize("kind", [None, 7, True, "", "Founded", " founded"])
def test_a_type_that_is_not_a_known_name_is_refused(kind: object) -> None:
    errors = errors_of({"type": kind, "occurred_on": "1998", "data": {}})

    assert list(errors) == ["type"]


@pytest.mark.parametrize("kind", [[], ["founded"], {}, {"founded": 1}])
def test_a_type_that_is_a_list_or_an_object_is_refused_not_crashed_on(kind: object) -> None:
    errors = errors_of({"type": kind, "occurred_on": "1998", "data": {}})

    assert list(errors) == ["type"]
    assert errors["type"].startswith("must be one of:")


def test_a_missing_type_is_required() -> None:
    errors = errors_of({"occurred_on": "1998", "data": {"name": "CICOPA"}})

    assert errors == {"type": "is required"}


@pytest.mark.parametrize("name", ["id", "organisation", "version", "Type", "occurredOn"])
def test_an_unknown_top_level_field_is_refused_under_its_name(name: str) -> None:
    body = event("founded")
    body[name] = "x"

    errors = errors_of(body)

    assert list(errors) == [name]
    assert "is not a field of an event" in errors[name]


@pytest.mark.parametrize("kind", HISTORICAL_TYPES)
def test_a_historical_event_needs_occurred_on(kind: str) -> None:
    body = event(kind)
    del body["occurred_on"]

    errors = errors_of(body)

    assert list(errors) == ["occurred_on"]
    assert errors["occurred_on"].startswith("is required")


@pytest.mark.parametrize("kind", AMENDMENT_TYPES)
@pytest.mark.parametrize("occurred_on", ["1998", "2005-02-30", 7])
def test_a_retraction_or_correction_refuses_its_own_occurred_on(
    kind: str, occurred_on: object
) -> None:
    errors = errors_of(event(kind, occurred_on=occurred_on))

    assert list(errors) == ["occurred_on"]
    assert "takes no occurred_on" in errors["occurred_on"]


@pytest.mark.parametrize(
    ("occurred_on", "fragment"),
    [
        ("2005-02-30", "Feb 2005 has 28 days"),
        ("2017-13", "no month 13"),
        ("1947 ", "is not a date of the form"),
        ("", "is not a date of the form"),
        (1947, "must be a date written as text"),
        (["1947"], "must be a date written as text"),
    ],
)
def test_a_bad_occurred_on_is_refused_with_the_reason(occurred_on: object, fragment: str) -> None:
    errors = errors_of(event("founded", occurred_on=occurred_on))

    assert list(errors) == ["occurred_on"]
    assert fragment in errors["occurred_on"]


@pytest.mark.parametrize("body", [[], [{"type": "dissolved"}], "founded", "", None, 7, 1.5, True])
def test_a_body_that_is_not_an_object_is_refused_under_body(body: object) -> None:
    assert list(errors_of(body)) == ["body"]


def test_the_error_message_names_every_bad_field() -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_event({"type": "founded", "data": {}})

    assert "occurred_on: is required" in str(raised.value)
    assert "data.name: is required" in str(raised.value)


# --- text --------------------------------------------------------------------------------------

REFUSED_CONTROLS = [
    *(chr(code) for code in range(0x20) if chr(code) not in "\t\n\r"),
    "\x7f",
    *(chr(code) for code in range(0x80, 0xA0)),
]


@pytest.mark.parametrize("char", REFUSED_CONTROLS, ids=lambda char: f"U+{ord(char):04X}")
def test_text_problem_names_a_control_character_and_its_position(char: str) -> None:
    assert text_problem(f"ab{char}c") == (
        f"contains the control character U+{ord(char):04X} at position 2"
    )


@pytest.mark.parametrize("char", ["\ud800", "\udfff", "\udc00"])
def test_text_problem_names_a_lone_surrogate(char: str) -> None:
    assert text_problem(f"x{char}") == (
        f"contains an unpaired surrogate U+{ord(char):04X} at position 1"
    )


@pytest.mark.parametrize(
    "text", ["CICOPA", "line\nbreak", "tab\there", "cr\r\n", "Coop\u00e9ratives", "\U0001f91d", ""]
)
def test_text_problem_accepts_ordinary_text(text: str) -> None:
    assert text_problem(text) is None


def text_bodies(value: str) -> list[tuple[str, dict[str, Any]]]:
    """Every text field of the contract holding `value`: (error key, event body)."""
    bodies = [(dotted(path), with_data(kind, path, value)) for kind, path in TEXT_FIELDS]
    bodies.append(("note", event("founded", note=value)))
    for field in ("title", "file", "quote"):
        source = {"title": "Minutes", field: value}
        bodies.append((f"sources.0.{field}", event("founded", sources=[source])))
    return bodies


TEXT_KEYS = [key for key, _ in text_bodies("x")]


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f", "\ud800"])
@pytest.mark.parametrize("index", range(len(TEXT_KEYS)), ids=TEXT_KEYS)
def test_a_text_field_refuses_control_characters_and_lone_surrogates(index: int, char: str) -> None:
    key, body = text_bodies(f"Marian{char}Rybar")[index]

    errors = errors_of(body)

    assert list(errors) == [key]
    assert f"U+{ord(char):04X} at position 6" in errors[key]


@pytest.mark.parametrize("index", range(len(TEXT_KEYS)), ids=TEXT_KEYS)
def test_a_text_field_accepts_tab_line_feed_and_carriage_return(index: int) -> None:
    _, body = text_bodies("first line\r\n\tsecond line")[index]

    parse_event(body)


@pytest.mark.parametrize("value", ["", " ", "\t\n\r", "\u3000"])
@pytest.mark.parametrize("index", range(len(TEXT_KEYS)), ids=TEXT_KEYS)
def test_a_text_field_refuses_empty_or_blank_text(index: int, value: str) -> None:
    key, body = text_bodies(value)[index]

    assert errors_of(body) == {key: "must not be empty"}


@pytest.mark.parametrize("index", range(len(TEXT_KEYS)), ids=TEXT_KEYS)
def test_a_text_field_refuses_a_number(index: int) -> None:
    key, body = text_bodies("x")[index]

    assert errors_of(_replace(body, key, 42)) == {key: "must be text"}


def _replace(body: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    """`body` with the field at the dotted `key` set to `value`."""
    target: Any = body
    parts = key.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[parts[-1]] = value
    return body


@pytest.mark.parametrize("char", REFUSED_CONTROLS, ids=lambda char: f"U+{ord(char):04X}")
def test_a_name_refuses_every_control_character(char: str) -> None:
    errors = errors_of(with_data("founded", ("name",), f"CIC{char}OPA"))

    assert list(errors) == ["data.name"]
    assert f"U+{ord(char):04X}" in errors["data.name"]


@pytest.mark.parametrize("char", REFUSED_CONTROLS, ids=lambda char: f"U+{ord(char):04X}")
def test_a_text_made_only_of_a_control_character_is_refused(char: str) -> None:
    errors = errors_of(with_data("founded", ("name",), char))

    assert list(errors) == ["data.name"]


# --- ids ---------------------------------------------------------------------------------------

BAD_SLUGS = [
    "Bruno-Roelants",
    "bruno roelants",
    "bruno_roelants",
    "-x",
    "x" * 65,
    "../etc",
    "",
    "bruno-roelants\n",
    "br\u00fcno",
    "\u0661",
]
GOOD_SLUGS = ["bruno-roelants", "ica", "a", "0", "x" * 64, "a-", "cicopa-2", "1998"]


@pytest.mark.parametrize("value", BAD_SLUGS)
@pytest.mark.parametrize(("kind", "path"), SLUG_FIELDS)
def test_an_id_that_is_not_a_slug_is_refused(kind: str, path: tuple[str, ...], value: str) -> None:
    errors = errors_of(with_data(kind, path, value))

    assert list(errors) == [dotted(path)]
    assert "lowercase letters, digits and hyphens" in errors[dotted(path)]


@pytest.mark.parametrize("value", GOOD_SLUGS)
@pytest.mark.parametrize(("kind", "path"), SLUG_FIELDS)
def test_an_id_that_is_a_slug_is_accepted(kind: str, path: tuple[str, ...], value: str) -> None:
    draft = parse_event(with_data(kind, path, value))

    target = draft.data
    for name in path[:-1]:
        target = target[name]
    assert target[path[-1]] == value


@pytest.mark.parametrize("value", [*BAD_SLUGS, None, 7, ["ica"]])
def test_is_slug_refuses_what_is_not_an_id(value: object) -> None:
    assert is_slug(value) is False


@pytest.mark.parametrize("value", GOOD_SLUGS)
def test_is_slug_accepts_ids(value: str) -> None:
    assert is_slug(value) is True


# --- figures -----------------------------------------------------------------------------------


def figures(value: object) -> dict[str, Any]:
    return event("figures_reported", data={"figures": value})


@pytest.mark.parametrize("number", [0, 1, 46, 4_000_000, 0.0, 2.5, 1e15, 10**15])
def test_a_non_negative_figure_is_accepted(number: float) -> None:
    draft = parse_event(figures({"jobs": number}))

    assert draft.data == {"figures": {"jobs": number}}


NOT_FIGURES = [-1, -0.5, -(10**400), 10**15 + 1, 1e300, 10**400, math.nan, math.inf, -math.inf]
NOT_NUMBERS = [True, False, "46", None, [1]]


@pytest.mark.parametrize("number", [*NOT_FIGURES, *NOT_NUMBERS])
def test_a_figure_that_is_not_a_non_negative_number_is_refused(number: object) -> None:
    errors = errors_of(figures({"jobs": 3, "countries": number}))

    assert errors == {"data.figures.countries": "must be a non-negative number up to 10^15"}


@pytest.mark.parametrize("value", [{}, [], [{"jobs": 3}], 46, "jobs"])
def test_figures_must_be_an_object_naming_at_least_one_figure(value: object) -> None:
    errors = errors_of(figures(value))

    assert list(errors) == ["data.figures"]
    assert "at least one figure" in errors["data.figures"]


@pytest.mark.parametrize(
    "name", ["member_organisations", "countries", "enterprises", "jobs", "a", "x1", "a" * 64]
)
def test_a_figure_may_have_any_name_of_lowercase_letters_digits_and_underscores(
    name: str,
) -> None:
    assert parse_event(figures({name: 1})).data == {"figures": {name: 1}}


@pytest.mark.parametrize(
    "name",
    [
        "_type_",
        "_data_",
        "_jobs",
        "1jobs",
        "Jobs",
        "job-count",
        "job count",
        "",
        "a" * 65,
        "jobs\n",
    ],
)
def test_a_figure_name_outside_the_pattern_is_refused(name: str) -> None:
    errors = errors_of(figures({"jobs": 3, name: 1}))

    assert list(errors) == [f"data.figures.{name}"]
    assert "a figure's name" in errors[f"data.figures.{name}"]


# --- sources -----------------------------------------------------------------------------------


def sources(value: object) -> dict[str, Any]:
    return event("founded", sources=value)


@pytest.mark.parametrize(
    "url",
    ["http://x", "https://www.cicopa.coop/about/", "HTTPS://EXAMPLE.ORG", "http://a.b/c?d=e#f"],
)
def test_a_source_url_may_be_http_or_https(url: str) -> None:
    draft = parse_event(sources([{"title": "Web page", "url": url}]))

    assert draft.sources == [{"title": "Web page", "url": url}]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://x",
        "//x",
        "x",
        "http://",
        "http:///path",
        "https:x",
        "mailto:a@b.c",
        "data:text/html,hi",
        " http://x",
    ],
)
def test_a_source_url_that_is_not_http_is_refused(url: str) -> None:
    errors = errors_of(sources([{"title": "Web page", "url": url}]))

    assert list(errors) == ["sources.0.url"]
    assert "http:// or https://" in errors["sources.0.url"]


def test_a_source_needs_a_title() -> None:
    errors = errors_of(sources([{"title": "Minutes"}, {"url": "https://x.org", "quote": "q"}]))

    assert list(errors) == ["sources.1.title"]
    assert errors["sources.1.title"].startswith("is required")


def test_an_unknown_source_field_is_refused_by_name() -> None:
    errors = errors_of(sources([{"title": "Minutes", "page": 4}]))

    assert list(errors) == ["sources.0.page"]
    assert "is not a field" in errors["sources.0.page"]


@pytest.mark.parametrize("value", [{"title": "Minutes"}, "Minutes", 3, True])
def test_sources_that_are_not_a_list_are_refused(value: object) -> None:
    errors = errors_of(sources(value))

    assert list(errors) == ["sources"]
    assert "must be a list" in errors["sources"]


@pytest.mark.parametrize("value", ["Minutes", 3, None, ["Minutes"]])
def test_a_source_that_is_not_an_object_is_refused_under_its_index(value: object) -> None:
    errors = errors_of(sources([{"title": "Minutes"}, value]))

    assert list(errors) == ["sources.1"]


def test_an_empty_list_of_sources_is_accepted() -> None:
    assert parse_event(sources([])).sources == []


# --- retractions and corrections ---------------------------------------------------------------


def correction(**data: Any) -> dict[str, Any]:
    return {"type": "corrected", "data": {"event_id": EVENT_ID, "reason": "typo", **data}}


@pytest.mark.parametrize(
    "data",
    [{"occurred_on": "1948"}, {"data": {"name": "CICOPA"}}, {"occurred_on": "1948", "data": {}}],
)
def test_a_correction_with_a_new_date_new_data_or_both_is_accepted(data: dict[str, Any]) -> None:
    draft = parse_event(correction(**data))

    assert draft.data == {"event_id": EVENT_ID, "reason": "typo", **data}
    assert draft.occurred_on is None


@pytest.mark.parametrize("data", [{}, {"occurred_on": None, "data": None}])
def test_a_correction_that_changes_nothing_is_refused(data: dict[str, Any]) -> None:
    errors = errors_of(correction(**data))

    assert errors == {"data": "a correction needs at least one of occurred_on, data and basis"}


@pytest.mark.parametrize(
    ("occurred_on", "fragment"),
    [
        ("2005-02-30", "Feb 2005 has 28 days"),
        ("1948-13", "no month 13"),
        ("c. 1948", "is not a date of the form"),
        (1948, "must be a date written as text"),
    ],
)
def test_a_correction_needs_a_valid_new_date(occurred_on: object, fragment: str) -> None:
    errors = errors_of(correction(occurred_on=occurred_on))

    assert list(errors) == ["data.occurred_on"]
    assert fragment in errors["data.occurred_on"]


@pytest.mark.parametrize("value", ["1948 ", ["name"], "x"])
def test_a_correction_needs_its_new_data_as_an_object(value: object) -> None:
    errors = errors_of(correction(data=value))

    assert errors == {"data.data": "must be an object"}


@pytest.mark.parametrize("kind", AMENDMENT_TYPES)
@pytest.mark.parametrize(
    "event_id", ["", "42", "not-a-uuid", EVENT_ID[:-1], EVENT_ID + "0", 42, None, [EVENT_ID]]
)
def test_a_retraction_or_correction_needs_an_event_id_that_is_a_uuid(
    kind: str, event_id: object
) -> None:
    errors = errors_of(with_data(kind, ("event_id",), event_id))

    assert list(errors) == ["data.event_id"]
    assert "UUID" in errors["data.event_id"] or "required" in errors["data.event_id"]


@pytest.mark.parametrize("kind", AMENDMENT_TYPES)
@pytest.mark.parametrize("reason", [None, "", "  ", 7])
def test_a_retraction_or_correction_needs_a_reason(kind: str, reason: object) -> None:
    errors = errors_of(with_data(kind, ("reason",), reason))

    assert list(errors) == ["data.reason"]


def test_a_retraction_with_no_data_reports_both_missing_fields() -> None:
    errors = errors_of({"type": "retracted"})

    assert set(errors) == {"data.event_id", "data.reason"}


# --- check_data --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_check_data_returns_the_clean_data_of_a_valid_event(kind: str) -> None:
    assert check_data(kind, copy.deepcopy(VALID_DATA[kind])) == VALID_DATA[kind]


def test_check_data_reports_errors_under_the_given_prefix() -> None:
    with pytest.raises(InvalidEvent) as raised:
        check_data("office_holder_appointed", {"person": {"id": "X"}}, "data.data")

    assert set(raised.value.errors) == {
        "data.data.role",
        "data.data.person.id",
        "data.data.person.name",
    }


def test_check_data_reports_data_that_is_not_an_object_under_the_prefix() -> None:
    with pytest.raises(InvalidEvent) as raised:
        check_data("founded", ["CICOPA"], "data.data")

    assert raised.value.errors == {"data.data": "must be an object"}


def test_check_data_uses_data_as_the_default_prefix() -> None:
    with pytest.raises(InvalidEvent) as raised:
        check_data("founded", {"name": "", "colour": "blue"})

    assert set(raised.value.errors) == {"data.name", "data.colour"}


def test_check_data_drops_optional_fields_sent_as_null() -> None:
    assert check_data("founded", {"name": "CICOPA", "acronym": None}) == {"name": "CICOPA"}


# --- how a fact is known, names by language, qualified figures --------------------------------

BASIS_TYPES = [
    "renamed",
    "headquarters_moved",
    "office_holder_appointed",
    "member_joined",
    "affiliated",
]


@pytest.mark.parametrize("kind", BASIS_TYPES)
@pytest.mark.parametrize("basis", ["change", "attestation"])
def test_a_basis_is_accepted_on_the_types_whose_fact_may_be_attested(kind: str, basis: str) -> None:
    assert parse_event(event(kind, basis=basis)).basis == basis


@pytest.mark.parametrize("kind", BASIS_TYPES)
def test_an_event_sent_without_a_basis_keeps_none_which_means_change(kind: str) -> None:
    assert parse_event(event(kind)).basis is None


@pytest.mark.parametrize("kind", [k for k in HISTORICAL_TYPES if k not in BASIS_TYPES])
@pytest.mark.parametrize("basis", ["change", "attestation"])
def test_a_basis_on_any_other_type_is_refused(kind: str, basis: str) -> None:
    assert "is allowed only on renamed" in errors_of(event(kind, basis=basis))["basis"]


@pytest.mark.parametrize("basis", ["seen", "", 1, ["attestation"], "Attestation"])
def test_a_basis_other_than_change_or_attestation_is_refused(basis: object) -> None:
    errors = errors_of(event("renamed", basis=basis))
    assert errors == {"basis": "must be 'change' or 'attestation'"}


def test_a_correction_may_carry_only_a_new_basis() -> None:
    draft = parse_event({**correction(), "basis": "attestation"})
    assert (draft.basis, draft.data) == ("attestation", {"event_id": EVENT_ID, "reason": "typo"})


@pytest.mark.parametrize("tag", ["en", "fr", "fr-CA", "FR", "es-419", "zh-Hant-TW", "de-CH-1996"])
def test_a_name_event_keeps_its_bcp_47_language_tag_as_sent(tag: str) -> None:
    for kind in ("founded", "renamed"):
        body = with_data(kind, ("language",), tag)
        assert parse_event(body).data["language"] == tag


@pytest.mark.parametrize("tag", ["", "f", "languages", "fr_CA", "fr-", "-fr", "fr CA", 7, "x-"])
def test_a_language_that_is_not_a_bcp_47_tag_is_refused(tag: object) -> None:
    errors = errors_of(with_data("renamed", ("language",), tag))
    assert "BCP 47" in errors["data.language"]


def test_only_name_events_take_a_language() -> None:
    errors = errors_of(with_data("headquarters_moved", ("language",), "fr"))
    assert "data.language" in errors


def test_an_appointment_may_name_the_role_it_continues() -> None:
    body = with_data("office_holder_appointed", ("replaces_role",), "Secretary")
    assert parse_event(body).data["replaces_role"] == "Secretary"


def test_an_appointment_cannot_continue_its_own_role() -> None:
    errors = errors_of(with_data("office_holder_appointed", ("replaces_role",), "President"))
    assert errors == {"data.replaces_role": "must name another role than data.role"}


@pytest.mark.parametrize("qualifier", ["about", "almost", "at least", "over", "at most", "under"])
def test_a_reported_figure_may_carry_each_qualifier_of_the_contract(qualifier: str) -> None:
    body = with_data("figures_reported", ("qualifiers",), {"jobs": qualifier})
    assert parse_event(body).data["qualifiers"] == {"jobs": qualifier}


@pytest.mark.parametrize("qualifier", ["approximately", "About", "", None, 3])
def test_a_qualifier_outside_the_contracts_list_is_refused(qualifier: object) -> None:
    errors = errors_of(with_data("figures_reported", ("qualifiers",), {"jobs": qualifier}))
    assert errors["data.qualifiers.jobs"].startswith("must be one of: about, almost")


def test_a_qualifier_for_a_figure_the_event_does_not_report_is_refused() -> None:
    errors = errors_of(with_data("figures_reported", ("qualifiers",), {"countries": "over"}))
    assert errors == {"data.qualifiers.countries": "qualifies a figure this event does not report"}


@pytest.mark.parametrize("value", [["about"], "about", 1])
def test_qualifiers_that_are_not_an_object_are_refused(value: object) -> None:
    assert "data.qualifiers" in errors_of(with_data("figures_reported", ("qualifiers",), value))


# --- arbitrary input ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
FIELD_NAMES = sorted(
    {"type", "occurred_on", "basis", "data", "sources", "note", "title", "url", "file", "quote"}
    | {name for fields in DATA_FIELDS.values() for name in fields}
    | {"id", "name", "country"}
)
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)
NEAR_VALID = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([*EVENT_TYPES, "1998", "2005-02-30", EVENT_ID, "ica", "\x00"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=12,
)


def _never_crashes(body: object) -> None:
    try:
        draft = parse_event(body)
    except InvalidEvent as error:
        assert error.errors
        assert all(isinstance(key, str) for key in error.errors)
    else:
        assert isinstance(draft, EventDraft)
        assert draft.type in EVENT_TYPES


@FAST
@given(JSON)
def test_any_json_value_is_either_an_event_or_refused(body: object) -> None:
    _never_crashes(body)


@FAST
@given(st.sampled_from(EVENT_TYPES), st.dictionaries(KEYS, NEAR_VALID, max_size=6))
def test_any_json_shaped_like_an_event_is_either_an_event_or_refused(
    kind: str, envelope: dict[str, Any]
) -> None:
    body = {"type": kind, **envelope}
    if isinstance(body.get("data"), dict) and kind == "figures_reported":
        body["data"].setdefault("figures", {"jobs": 1})
    _never_crashes(body)
