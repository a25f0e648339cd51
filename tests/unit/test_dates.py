"""EDTF dates: what they accept, the days they can mean, and how they read."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.dates import EDTFDate, InvalidDate, period_end, period_start

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
@pytest.mark.parametrize("text", ["1947", "2017-09", "2004-02-17"])
def test_the_qualifier_sets_the_uncertain_and_approximate_flags(
    text: str, qualifier: str, uncertain: bool, approximate: bool
) -> None:
    parsed = EDTFDate.parse(text + qualifier)

    assert parsed.uncertain is uncertain
    assert parsed.approximate is approximate


def test_parsing_keeps_each_part_of_the_date() -> None:
    assert EDTFDate.parse("2004-02-17~") == EDTFDate(2004, 2, 17, "~")
    assert EDTFDate.parse("2017-09") == EDTFDate(2017, 9)
    assert EDTFDate.parse("1947") == EDTFDate(1947)


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
    ("0000", "the year must be between 0001 and 9999"),
    ("0000~", "the year must be between 0001 and 9999"),
    ("abc", "is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD"),
    ("", "is not a date of the form"),
    (" 1947", "is not a date of the form"),
    ("1947 ", "is not a date of the form"),
    ("1947\n", "is not a date of the form"),
    ("1947-1", "is not a date of the form"),
    ("1947-01-1", "is not a date of the form"),
    ("47", "is not a date of the form"),
    ("19470", "is not a date of the form"),
    ("-1947", "is not a date of the form"),
    ("1947??", "is not a date of the form"),
    ("1947?~", "is not a date of the form"),
    ("?1947", "is not a date of the form"),
    ("1947/1948", "is not a date of the form"),
    ("1947-02-17T10:00", "is not a date of the form"),
    ("1947-02-17 10:00", "is not a date of the form"),
    ("\u0661\u0669\u0664\u0667", "is not a date of the form"),  # Arabic-Indic digits
    ("\uff11\uff19\uff14\uff17", "is not a date of the form"),  # fullwidth digits
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
    ],
)
def test_a_date_is_displayed_at_its_precision(text: str, shown: str) -> None:
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


@pytest.mark.parametrize("text", ["1998?", "1998~", "1998%", "2017-09?", "2004-02-17~"])
@pytest.mark.parametrize("function", [period_end, period_start])
def test_a_query_period_refuses_qualifiers(function: PeriodBound, text: str) -> None:
    with pytest.raises(InvalidDate, match="takes no"):
        function(text)


@pytest.mark.parametrize("text", ["2005-02-30", "1998-13", "abc", "", None, 1998])
@pytest.mark.parametrize("function", [period_end, period_start])
def test_a_query_period_refuses_what_is_not_a_date(function: PeriodBound, text: object) -> None:
    with pytest.raises(InvalidDate):
        function(text)


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
def test_any_text_of_the_right_shape_is_rejected_only_when_no_such_day_exists(text: str) -> None:
    digits = text.rstrip("?~%").split("-")
    parts = [int(part) for part in digits]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        real = parts[0] >= 1
    except ValueError:
        real = False

    try:
        parsed = EDTFDate.parse(text)
    except InvalidDate:
        assert not real
    else:
        assert real
        assert str(parsed) == text
