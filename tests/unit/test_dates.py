"""EDTF dates: what they accept, the days they can mean, and how they read."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.dates import (
    ALLOWED,
    OCCURRED_ON_PATTERN,
    EDTFDate,
    InvalidDate,
    period_end,
    period_start,
)

QUALIFIERS = ["", "?", "~", "%"]
# No deadline (timing flakes) and no example database (tests/unit does no I/O).
FAST = settings(max_examples=200, deadline=None, database=None)
PeriodBound = Callable[[object], date]


# --- valid forms -------------------------------------------------------------------------------

VALID = [
    # text without qualifier, precision, first day, last day
    ("1947", "year", date(1947, 1, 1), date(1947, 12, 31)),
    ("2003", "year", date(2003, 1, 1), date(2003, 12, 31)),
    ("0001", "year", date(1, 1, 1), date(1, 12, 31)),
    ("9999", "year", date(9999, 1, 1), date(9999, 12, 31)),
    ("2017-09", "month", date(2017, 9, 1), date(2017, 9, 30)),
    ("2004-02", "month", date(2004, 2, 1), date(2004, 2, 29)),
    ("1900-02", "month", date(1900, 2, 1), date(1900, 2, 28)),
    ("2000-02", "month", date(2000, 2, 1), date(2000, 2, 29)),
    ("2019-12", "month", date(2019, 12, 1), date(2019, 12, 31)),
    ("2004-02-17", "day", date(2004, 2, 17), date(2004, 2, 17)),
    ("2004-02-29", "day", date(2004, 2, 29), date(2004, 2, 29)),
    ("2000-02-29", "day", date(2000, 2, 29), date(2000, 2, 29)),
    ("1999-12-31", "day", date(1999, 12, 31), date(1999, 12, 31)),
]


@pytest.mark.parametrize("qualifier", QUALIFIERS)
@pytest.mark.parametrize(("text", "precision", "first", "last"), VALID)
def test_a_valid_date_is_read_with_its_precision_and_range(
    text: str, precision: str, first: date, last: date, qualifier: str
) -> None:
    parsed = EDTFDate.parse(text + qualifier)

    assert parsed.precision == precision
    assert parsed.first_day == first
    assert parsed.last_day == last
    assert parsed.qualifier == qualifier


@pytest.mark.parametrize("qualifier", QUALIFIERS)
@pytest.mark.parametrize("text", [row[0] for row in VALID])
def test_a_valid_date_renders_back_exactly_as_it_was_given(text: str, qualifier: str) -> None:
    assert str(EDTFDate.parse(text + qualifier)) == text + qualifier


@pytest.mark.parametrize(
    ("qualifier", "uncertain", "approximate"),
    [("", False, False), ("?", True, False), ("~", False, True), ("%", True, True)],
)
@pytest.mark.parametrize("text", ["1947", "2017-09", "2004-02-17", "201X", "2018-21"])
def test_the_qualifier_sets_the_uncertain_and_approximate_flags_of_the_side(
    text: str, qualifier: str, uncertain: bool, approximate: bool
) -> None:
    side = EDTFDate.parse(text + qualifier).known_side

    assert side.uncertain is uncertain
    assert side.approximate is approximate


def test_a_plain_date_is_both_of_its_sides() -> None:
    parsed = EDTFDate.parse("2004-02-17~")

    assert parsed.start is parsed.end
    assert parsed.interval is False
    assert parsed.sides == (parsed.start, parsed.start)
    assert (parsed.known_side.year, parsed.known_side.month, parsed.known_side.day) == (2004, 2, 17)


# --- rejected forms ----------------------------------------------------------------------------

REJECTED = [
    # text, a fragment of the message naming the problem
    ("2005-02-30", "Feb 2005 has 28 days"),
    ("2019-04-31", "Apr 2019 has 30 days"),
    ("1900-02-29", "Feb 1900 has 28 days"),
    ("2004-02-00", "Feb 2004 has 29 days"),
    ("2005-02-30?", "Feb 2005 has 28 days"),
    ("2017-13", "no month 13"),
    ("1990-00", "no month 00"),
    ("2017-13-01", "no month 13"),
    ("0000", "years run from 0001 to 9999"),
    ("0000~", "years run from 0001 to 9999"),
    ("abc", "is not a date of a form the service accepts"),
    ("", "is not a date of a form"),
    (" 1947", "is not a date of a form"),
    ("1947 ", "is not a date of a form"),
    ("1947\n", "is not a date of a form"),
    ("1947-1", "is not a date of a form"),
    ("1947-01-1", "is not a date of a form"),
    ("47", "is not a date of a form"),
    ("19470", "is not a date of a form"),
    ("-1947", "is not a date of a form"),
    ("1947??", "is not a date of a form"),
    ("1947?~", "is not a date of a form"),
    ("?1947", "is not a date of a form"),
    ("1947-02-17T10:00", "is not a date of a form"),
    ("1947-02-17 10:00", "is not a date of a form"),
    ("\u0661\u0669\u0664\u0667", "is not a date of a form"),  # Arabic-Indic digits
    ("\uff11\uff19\uff14\uff17", "is not a date of a form"),  # fullwidth digits
]


@pytest.mark.parametrize(("text", "fragment"), REJECTED)
def test_a_date_that_is_not_of_the_contract_is_rejected_with_a_reason(
    text: str, fragment: str
) -> None:
    with pytest.raises(InvalidDate) as raised:
        EDTFDate.parse(text)

    assert fragment in str(raised.value)


@pytest.mark.parametrize("value", [None, 1947, 19.5, [], {}, True, b"1947"])
def test_a_date_that_is_not_text_is_rejected(value: object) -> None:
    with pytest.raises(InvalidDate, match="must be a date written as text"):
        EDTFDate.parse(value)


def test_invalid_date_is_a_value_error() -> None:
    assert issubclass(InvalidDate, ValueError)


# --- display -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("1947", "1947"),
        ("2004-02", "Feb 2004"),
        ("2004-02-17", "17 Feb 2004"),
        ("2004-02-07", "7 Feb 2004"),
        ("2017-09", "Sep 2017"),
        ("2019-01", "Jan 2019"),
        ("2019-12-31", "31 Dec 2019"),
        ("2019~", "c. 2019"),
        ("2003?", "2003?"),
        ("2003%", "c. 2003?"),
        ("2017-09~", "c. Sep 2017"),
        ("2004-02-17?", "17 Feb 2004?"),
        ("2004-02-17%", "c. 17 Feb 2004?"),
        ("201X", "2010s"),
        ("19XX", "1900s"),
        ("2017-XX", "2017"),
        ("2017-XX-XX", "2017"),
        ("2017-05-XX", "May 2017"),
        ("2018-21", "spring 2018"),
        ("2018-22", "summer 2018"),
        ("2018-23", "autumn 2018"),
        ("2017-24", "winter 2017-18"),
        ("1999-24", "winter 1999-2000"),
        ("2018-21?", "spring 2018?"),
        ("201X~", "c. 2010s"),
        ("../2018-02", "by Feb 2018"),
        ("/2018-02", "by Feb 2018"),
        ("2018-02/..", "Feb 2018 or later"),
        ("2018-02/", "Feb 2018 or later"),
        ("1998/2003", "between 1998 and 2003"),
        ("1984~/2004-06?", "between c. 1984 and Jun 2004?"),
        ("../2003%", "by c. 2003?"),
    ],
)
def test_each_form_reads_as_a_reader_says_it(text: str, shown: str) -> None:
    assert EDTFDate.parse(text).display() == shown


# --- query periods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("1998", date(1998, 1, 1), date(1998, 12, 31)),
        ("2017-09", date(2017, 9, 1), date(2017, 9, 30)),
        ("2004-02", date(2004, 2, 1), date(2004, 2, 29)),
        ("2004-02-17", date(2004, 2, 17), date(2004, 2, 17)),
    ],
)
def test_a_query_period_runs_from_its_first_to_its_last_day(
    text: str, start: date, end: date
) -> None:
    assert period_start(text) == start
    assert period_end(text) == end


@pytest.mark.parametrize(
    "text",
    [
        "1998?",
        "1998~",
        "1998%",
        "2017-09?",
        "2004-02-17~",
        "201X",
        "2017-XX",
        "2018-21",
        "1998/2003",
        "../2018",
        "2018/..",
    ],
)
@pytest.mark.parametrize("function", [period_end, period_start])
def test_a_query_period_is_level_0_only(function: PeriodBound, text: str) -> None:
    with pytest.raises(InvalidDate, match="no qualifier, no interval"):
        function(text)


@pytest.mark.parametrize("text", ["2005-02-30", "1998-13", "abc", "", None, 1998])
@pytest.mark.parametrize("function", [period_end, period_start])
def test_a_query_period_refuses_what_is_not_a_date(function: PeriodBound, text: object) -> None:
    with pytest.raises(InvalidDate):
        function(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("2005-02-30", "Feb 2005 has 28 days"), ("1998-13", "no month 13"), ("0000", "0001 to 9999")],
)
def test_a_query_period_that_names_no_real_day_says_why_and_what_a_period_is(
    text: str, reason: str
) -> None:
    with pytest.raises(InvalidDate) as raised:
        period_end(text)

    message = str(raised.value)
    assert reason in message
    assert message.endswith(
        "use YYYY, YYYY-MM or YYYY-MM-DD (no qualifier, no interval, no season)"
    )


# --- properties --------------------------------------------------------------------------------


@st.composite
def edtf_texts(draw: st.DrawFn) -> tuple[str, str, date]:
    """A valid EDTF text, its precision, and a real day inside it."""
    day = draw(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
    precision = draw(st.sampled_from(["year", "month", "day"]))
    qualifier = draw(st.sampled_from(QUALIFIERS))
    text = {
        "year": f"{day.year:04d}",
        "month": f"{day.year:04d}-{day.month:02d}",
        "day": day.isoformat(),
    }[precision]
    return text + qualifier, precision, day


@FAST
@given(edtf_texts())
def test_any_valid_date_round_trips_and_spans_its_whole_period(
    case: tuple[str, str, date],
) -> None:
    text, precision, day = case

    parsed = EDTFDate.parse(text)

    assert str(parsed) == text
    assert EDTFDate.parse(str(parsed)) == parsed
    assert parsed.precision == precision
    assert parsed.first_day is not None and parsed.last_day is not None
    assert parsed.first_day <= day <= parsed.last_day
    length = (parsed.last_day - parsed.first_day).days + 1
    expected = {
        "day": 1,
        "month": calendar.monthrange(day.year, day.month)[1],
        "year": 366 if calendar.isleap(day.year) else 365,
    }[precision]
    assert length == expected


@FAST
@given(st.text())
def test_any_text_is_either_rejected_or_read_back_exactly(text: str) -> None:
    try:
        parsed = EDTFDate.parse(text)
    except InvalidDate:
        return
    assert str(parsed) == text


@FAST
@given(st.from_regex(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?[?~%]?", fullmatch=True))
def test_any_text_of_the_right_shape_is_rejected_only_when_no_such_day_or_season_exists(
    text: str,
) -> None:
    digits = text.rstrip("?~%").split("-")
    parts = [int(part) for part in digits]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        real = parts[0] >= 1
    except ValueError:
        real = False
    if len(parts) == 2 and 21 <= parts[1] <= 24:  # a season
        real = parts[0] >= 1 and (parts[0], parts[1]) != (9999, 24)

    try:
        parsed = EDTFDate.parse(text)
    except InvalidDate:
        assert not real
    else:
        assert real
        assert str(parsed) == text


# --- level 1: the contract's forms (CONTRACT.md §1) ---------------------------------------------

LEVEL_1 = [
    # text, precision, first day, last day (None: unbounded)
    ("201X", "decade", date(2010, 1, 1), date(2019, 12, 31)),
    ("19XX", "century", date(1900, 1, 1), date(1999, 12, 31)),
    ("2017-XX", "year", date(2017, 1, 1), date(2017, 12, 31)),
    ("2017-05-XX", "month", date(2017, 5, 1), date(2017, 5, 31)),
    ("2017-XX-XX", "year", date(2017, 1, 1), date(2017, 12, 31)),
    ("2018-21", "season", date(2018, 3, 1), date(2018, 5, 31)),
    ("2018-22", "season", date(2018, 6, 1), date(2018, 8, 31)),
    ("2018-23", "season", date(2018, 9, 1), date(2018, 11, 30)),
    ("2017-24", "season", date(2017, 12, 1), date(2018, 2, 28)),
    ("2019-24", "season", date(2019, 12, 1), date(2020, 2, 29)),
    ("1998/2003", "year", date(1998, 1, 1), date(2003, 12, 31)),
    ("../2018-02", "month", None, date(2018, 2, 28)),
    ("2018-02/..", "month", date(2018, 2, 1), None),
    ("/2018-02", "month", None, date(2018, 2, 28)),
    ("2018-02/", "month", date(2018, 2, 1), None),
    ("2004-06~/2006-08?", "month", date(2004, 6, 1), date(2006, 8, 31)),
    ("2004-02-17/2004", "year", date(2004, 2, 17), date(2004, 12, 31)),
    ("201X/2017-21", "decade", date(2010, 1, 1), date(2017, 5, 31)),
    ("2003/2003", "year", date(2003, 1, 1), date(2003, 12, 31)),
]


@pytest.mark.parametrize(("text", "precision", "first", "last"), LEVEL_1)
def test_each_level_1_form_of_the_contract_is_read_with_its_range(
    text: str, precision: str, first: date | None, last: date | None
) -> None:
    parsed = EDTFDate.parse(text)

    assert (parsed.precision, parsed.first_day, parsed.last_day) == (precision, first, last)
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1XXX", "is not a date of a form"),
        ("XXXX", "is not a date of a form"),
        ("201X-05", "unspecified digits in its year and a month"),
        ("201X-XX", "unspecified digits in its year and a month"),
        ("2017-X5", "is not a date of a form"),
        ("2017-05-X1", "is not a date of a form"),
        ("2017-XX-05", "unspecified month before a day"),
        ("2018-25", "no month 25"),
        ("2018-20", "no month 20"),
        ("2018-21-05", "a season with a day"),
        ("9999-24", "runs past the year 9999"),
        ("../..", "at least one end must be a date"),
        ("/", "at least one end must be a date"),
        ("../", "at least one end must be a date"),
        ("/..", "at least one end must be a date"),
        ("2003/1998", "starts after it ends"),
        ("2004-02-18/2004-02-17", "starts after it ends"),
        ("2018-23/2018-08", "starts after it ends"),
        ("1998/2003/2005", "more than two sides"),
        ("1998 / 2003", "is not a date of a form"),
        ("1998/2005-02-30", "Feb 2005 has 28 days"),
        ("0000/2003", "years run from 0001 to 9999"),
        ("1998/2003?~", "is not a date of a form"),
    ],
)
def test_a_level_1_look_alike_that_the_contract_does_not_name_is_rejected(
    text: str, fragment: str
) -> None:
    with pytest.raises(InvalidDate) as raised:
        EDTFDate.parse(text)

    assert fragment in str(raised.value)


def test_a_refusal_says_what_is_allowed() -> None:
    with pytest.raises(InvalidDate) as raised:
        EDTFDate.parse("1XXX")

    message = str(raised.value)
    assert message.startswith("'1XXX' ")
    assert message.endswith(ALLOWED)
    for form in ("YYYY-MM-DD", "YYYX", "YYYY-21", "A/B", ".."):
        assert form in ALLOWED


# --- the Library of Congress EDTF specification (2019), levels 0 and 1 --------------------------

LOC_ACCEPTED = [
    # level 0: date
    "1985-04-12",
    "1985-04",
    "1985",
    # level 0: time interval
    "1964/2008",
    "2004-06/2006-08",
    "2004-02-01/2005-02-08",
    "2004-02-01/2005-02",
    "2004-02-01/2005",
    "2005/2006-02",
    # level 1: seasons
    "2001-21",
    "2001-22",
    "2001-23",
    "2001-24",
    # level 1: qualification of a date (complete)
    "1984?",
    "2004-06~",
    "2004-06-11%",
    # level 1: unspecified digit(s) from the right
    "201X",
    "20XX",
    "2004-XX",
    "1985-04-XX",
    "1985-XX-XX",
    # level 1: extended interval
    "1985-04-12/..",
    "1985-04/..",
    "1985/..",
    "../1985-04-12",
    "../1985-04",
    "../1985",
    "1985-04-12/",
    "1985-04/",
    "1985/",
    "/1985-04-12",
    "/1985-04",
    "/1985",
    # level 1: intervals with qualified sides
    "1984~/2004-06",
    "1984/2004-06~",
    "1984~/2004~",
    "1984?/2004%",
    "1984-06?/2004-08?",
    "1984-06-02?/2004-08-08~",
    "1984-06-02?/",
]

LOC_REFUSED_BY_THE_CONTRACT = [
    # level 0: date and time (no times of day)
    "1985-04-12T23:20:30",
    "1985-04-12T23:20:30Z",
    "1985-04-12T23:20:30-04",
    "1985-04-12T23:20:30+04:30",
    # level 1: letter-prefixed calendar year (no five-digit years)
    "Y170000002",
    "Y-170000002",
    # level 1: negative calendar year
    "-1985",
]

LOC_LEVEL_2 = [
    # exponential year, significant digits
    "Y-17E7",
    "1950S2",
    "Y171010000S3",
    "Y3388E2S3",
    # sub-year groupings
    "2001-25",
    "2001-34",
    "2001-41",
    # set representation
    "[1667,1668,1670..1672]",
    "[..1760-12-03]",
    "[1760-12..]",
    "[1760-01,1760-02,1760-12..]",
    "[1667,1760-12]",
    "[..1984]",
    "{1667,1668,1670..1672}",
    "{1960,1961-12}",
    "{..1984}",
    # qualification of components
    "2004?-06-11",
    "2004-06~-11",
    "2004-(06)?-11",
    "?2004-06-~11",
    "2004-%06-11",
    # unspecified digits anywhere
    "156X-12-25",
    "15XX-12-25",
    "XXXX-12-XX",
    "1XXX-XX",
    "1XXX-12",
    "1984-1X",
    # intervals with qualified components
    "2004-06-~01/2004-06-~20",
]


@pytest.mark.parametrize("text", LOC_ACCEPTED)
def test_every_level_0_and_level_1_example_of_the_specification_is_accepted(text: str) -> None:
    parsed = EDTFDate.parse(text)

    assert str(parsed) == text
    assert parsed.first_day is not None or parsed.last_day is not None


@pytest.mark.parametrize("text", LOC_REFUSED_BY_THE_CONTRACT)
def test_specification_examples_with_times_or_years_beyond_0001_9999_are_rejected(
    text: str,
) -> None:
    with pytest.raises(InvalidDate, match="is not a date of a form"):
        EDTFDate.parse(text)


@pytest.mark.parametrize("text", LOC_LEVEL_2)
def test_every_level_2_example_of_the_specification_is_rejected(text: str) -> None:
    with pytest.raises(InvalidDate) as raised:
        EDTFDate.parse(text)

    assert str(raised.value).endswith(ALLOWED)


def test_the_level_2_interval_with_an_unspecified_day_is_one_the_contract_accepts() -> None:
    # The specification files 2004-06-XX/2004-07-03 under level 2; the contract names
    # intervals of any two of its forms, and where the two differ the contract wins.
    parsed = EDTFDate.parse("2004-06-XX/2004-07-03")

    assert (parsed.first_day, parsed.last_day) == (date(2004, 6, 1), date(2004, 7, 3))


# --- semantics: order, the `at` rule, overlap ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sort_day"),
    [
        ("2003", date(2003, 1, 1)),
        ("201X", date(2010, 1, 1)),
        ("2017-24", date(2017, 12, 1)),
        ("1998/2003", date(1998, 1, 1)),
        ("2018-02/..", date(2018, 2, 1)),
        ("../2018-02", date(2018, 2, 28)),
        ("/2018", date(2018, 12, 31)),
    ],
)
def test_a_date_sorts_by_its_first_day_or_without_one_by_its_last(
    text: str, sort_day: date
) -> None:
    assert EDTFDate.parse(text).sort_day == sort_day


@pytest.mark.parametrize(
    ("text", "at_end", "counts", "uncertain"),
    [
        ("2003", date(2002, 12, 31), False, False),
        ("2003", date(2003, 6, 30), False, True),
        ("2003", date(2003, 12, 31), True, False),
        ("201X", date(2015, 12, 31), False, True),
        ("201X", date(2019, 12, 31), True, False),
        ("2017-24", date(2017, 12, 31), False, True),
        ("2017-24", date(2018, 2, 28), True, False),
        ("1998/2003", date(1997, 12, 31), False, False),
        ("1998/2003", date(2000, 12, 31), False, True),
        ("1998/2003", date(2003, 12, 31), True, False),
        ("../2018-02", date(1500, 12, 31), False, True),
        ("../2018-02", date(2018, 1, 31), False, True),
        ("../2018-02", date(2018, 2, 28), True, False),
        ("2018-02/..", date(2018, 1, 31), False, False),
        ("2018-02/..", date(2018, 2, 1), False, True),
        ("2018-02/", date(9999, 12, 31), False, True),
    ],
)
def test_a_date_counts_once_its_range_has_ended_and_is_uncertain_while_it_straddles(
    text: str, at_end: date, counts: bool, uncertain: bool
) -> None:
    parsed = EDTFDate.parse(text)

    assert parsed.counts_at(at_end) is counts
    assert parsed.uncertain_at(at_end) is uncertain


@pytest.mark.parametrize(
    ("text", "start", "end", "overlaps"),
    [
        ("2003", date(2003, 6, 1), date(2004, 1, 1), True),
        ("2003", date(2004, 1, 1), None, False),
        ("1998/2003", date(2001, 1, 1), date(2001, 12, 31), True),
        ("../2018-02", date(1500, 1, 1), date(1500, 12, 31), True),
        ("../2018-02", date(2018, 3, 1), None, False),
        ("2018-02/..", date(3000, 1, 1), None, True),
        ("2018-02/..", None, date(2018, 1, 31), False),
    ],
)
def test_a_range_overlaps_a_period_and_an_unbounded_side_overlaps_all_on_its_side(
    text: str, start: date | None, end: date | None, overlaps: bool
) -> None:
    assert EDTFDate.parse(text).overlaps(start, end) is overlaps


# --- properties of intervals -----------------------------------------------------------------------


@st.composite
def sides(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1, 1, 1), max_value=date(9998, 12, 31)))
    form = draw(st.sampled_from(["year", "month", "day", "decade", "season", "xx"]))
    text = {
        "year": f"{day.year:04d}",
        "month": f"{day.year:04d}-{day.month:02d}",
        "day": day.isoformat(),
        "decade": f"{day.year // 10:03d}X",
        "season": f"{day.year:04d}-{draw(st.integers(21, 24))}",
        "xx": f"{day.year:04d}-{day.month:02d}-XX",
    }[form]
    return text + draw(st.sampled_from(QUALIFIERS))


@FAST
@given(sides(), sides(), st.sampled_from(["", "..", "date"]), st.sampled_from(["", "..", "date"]))
def test_an_interval_is_accepted_exactly_when_its_start_begins_by_its_end(
    a: str, b: str, start_kind: str, end_kind: str
) -> None:
    before = a if start_kind == "date" else start_kind
    after = b if end_kind == "date" else end_kind
    text = f"{before}/{after}"
    if start_kind != "date" and end_kind != "date":
        with pytest.raises(InvalidDate):
            EDTFDate.parse(text)
        return
    start = EDTFDate.parse(a).first_day if start_kind == "date" else None
    end = EDTFDate.parse(b).last_day if end_kind == "date" else None
    if start is not None and end is not None and start > end:
        with pytest.raises(InvalidDate, match="starts after it ends"):
            EDTFDate.parse(text)
        return
    parsed = EDTFDate.parse(text)
    assert (parsed.first_day, parsed.last_day) == (start, end)
    assert str(parsed) == text
    assert parsed.sort_day == (start or end)


@pytest.mark.parametrize("text", [row[0] for row in LEVEL_1] + LOC_ACCEPTED)
def test_the_documented_pattern_admits_every_accepted_form(text: str) -> None:
    assert re.fullmatch(OCCURRED_ON_PATTERN, text)


@pytest.mark.parametrize("text", LOC_LEVEL_2 + LOC_REFUSED_BY_THE_CONTRACT + ["../..", "/"])
def test_the_documented_pattern_refuses_level_2_and_dates_without_a_side(text: str) -> None:
    assert re.fullmatch(OCCURRED_ON_PATTERN, text) is None


LEVEL_1_SIDES = [
    *(f"{year}-{season}" for year in ("0001", "0999", "1900", "9998") for season in range(21, 25)),
    *[
        "000X",
        "001X",
        "199X",
        "999X",
        "00XX",
        "19XX",
        "99XX",
        "2017-XX",
        "0001-XX",
        "9999-XX",
        "2016-02-XX",
    ],
    *["0001-12-XX", "2017-XX-XX", "0001-XX-XX", "9999-XX-XX"],
]


@pytest.mark.parametrize("text", LEVEL_1_SIDES)
def test_the_level_1_sides_the_service_reads_itself_are_ones_the_edtf_grammar_accepts(
    text: str,
) -> None:
    import edtf

    parsed = edtf.parse_edtf(text)

    assert isinstance(parsed, (edtf.Season, edtf.Unspecified))
    assert not isinstance(parsed, (edtf.Level2Season, edtf.PartialUnspecified, edtf.LongYear))
    assert EDTFDate.parse(text).first_day is not None
