"""Historical dates at their real precision: EDTF level 0 and all of level 1 (CONTRACT.md §1).

This module reads each side of a date and decides which forms the service accepts and what
they mean (the `edtf` package's grammar accepts each of them too: see tests/unit/test_dates.py).
A date has two *sides* (a plain date is both of them; an interval `A/B` has `A` and `B`, either
of which may be an open `..` or unknown empty end) and a *range*, the first to the last day it
can mean, unbounded (None) on the side of an open or unknown end.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

Precision = Literal["day", "month", "season", "year", "decade", "century"]

PRECISION_ORDER: tuple[Precision, ...] = ("day", "month", "season", "year", "decade", "century")
"""From the finest to the coarsest."""

ALLOWED = (
    "use an EDTF date of level 0 or 1 with a year from 0001 to 9999: YYYY, YYYY-MM or "
    "YYYY-MM-DD, optionally followed by ?, ~ or %; unspecified digits YYYX, YYXX, YYYY-XX, "
    "YYYY-MM-XX or YYYY-XX-XX; a season YYYY-21 to YYYY-24; or an interval A/B of two of "
    "these, where .. is an open end and an empty side an unknown end (../2018-02, 2018-02/..)"
)
"""What `occurred_on` may be, said in every refusal."""

_SIDE_PATTERN = (
    r"(?:[0-9]{4}(?:-(?:0[1-9]|1[0-2]|2[1-4]|XX)(?:-(?:0[1-9]|[12][0-9]|3[01]|XX))?)?"
    r"|[0-9]{3}X|[0-9]{2}XX)[?~%]?"
)
OCCURRED_ON_PATTERN = (
    rf"^(?:{_SIDE_PATTERN}|{_SIDE_PATTERN}/(?:{_SIDE_PATTERN}|\.\.)?|(?:\.\.)?/{_SIDE_PATTERN})$"
)
"""The shapes `occurred_on` may take, for documents such as the OpenAPI description (parse
also refuses days and months that do not exist, `2017-XX-05`, and a start after the end)."""

_SIDE = re.compile(
    r"(?P<year>[0-9]{4}|[0-9]{3}X|[0-9]{2}XX)"
    r"(?:-(?P<month>[0-9]{2}|XX)(?:-(?P<day>[0-9]{2}|XX))?)?"
    r"(?P<qualifier>[?~%])?"
)
_PERIOD = re.compile(r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SEASONS = {21: "spring", 22: "summer", 23: "autumn", 24: "winter"}
_OPEN_ENDS = ("..", "")


class InvalidDate(ValueError):
    """A text that is not a date of the form the contract accepts."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        """What is wrong, without what is allowed (`'2005-02-30' is not a real date: ...`)."""


def _refuse(text: str, reason: str) -> InvalidDate:
    return InvalidDate(f"{text!r} {reason}; {ALLOWED}", f"{text!r} {reason}")


@dataclass(frozen=True)
class Side:
    """One end of a date: a day, a month, a season or a year, possibly with unspecified digits
    (`201X`, `2017-XX`) and a qualifier, read as the first to the last day it can mean."""

    text: str
    first: date
    last: date
    precision: Precision
    qualifier: str = ""
    year: int = 0
    """The year as written; the first year of a decade or a century."""
    month: int | None = None
    """The month, when it is given (not for seasons, nor for `XX`)."""
    day: int | None = None
    season: int | None = None

    @property
    def uncertain(self) -> bool:
        """True for `?` and `%`: the source is unsure it happened then."""
        return self.qualifier in ("?", "%")

    @property
    def approximate(self) -> bool:
        """True for `~` and `%`: the date is roughly right."""
        return self.qualifier in ("~", "%")

    def display(self) -> str:
        """The side for a reader: `17 Feb 2004`, `Feb 2004`, `spring 2018`, `winter 2017-18`,
        `2004`, `2010s`, `1900s`, with `c. ` for approximate and `?` for uncertain."""
        year = f"{self.year:04d}"
        if self.precision == "day" and self.month and self.day:
            text = f"{self.day} {_MONTHS[self.month - 1]} {year}"
        elif self.precision == "month" and self.month:
            text = f"{_MONTHS[self.month - 1]} {year}"
        elif self.precision == "season" and self.season:
            text = f"{_SEASONS[self.season]} {year}"
            if self.season == 24:
                following = self.year + 1
                same_century = following // 100 == self.year // 100
                text += f"-{following % 100:02d}" if same_century else f"-{following:04d}"
        elif self.precision in ("decade", "century"):
            text = f"{year}s"
        else:
            text = year
        if self.approximate:
            text = f"c. {text}"
        if self.uncertain:
            text = f"{text}?"
        return text


@dataclass(frozen=True)
class EDTFDate:
    """An `occurred_on` such as `1947`, `2017-09~`, `201X`, `2018-21` or `../2018-02`, kept
    exactly as it was given."""

    text: str
    start: Side | None
    """The first side; None for an open (`..`) or unknown (empty) start."""
    end: Side | None
    """The last side (the same as `start` for a plain date); None for an open or unknown end."""
    interval: bool = False

    @classmethod
    def parse(cls, text: object) -> EDTFDate:
        """Read an EDTF date, or raise InvalidDate saying what is wrong and what is allowed.

        A date is a value: the same text always reads the same, so each text is read once per
        process (every state and page reads the dates of the events it shows)."""
        if not isinstance(text, str):
            raise InvalidDate(f"must be a date written as text; {ALLOWED}")
        return _read(text)

    @classmethod
    def _read(cls, text: str) -> EDTFDate:
        """Read a date written as text (see `parse`)."""
        if "/" not in text:
            side = _side(text, text)
            return cls(text, side, side)
        if text.count("/") > 1:
            raise _refuse(text, "has more than two sides")
        before, after = text.split("/")
        if before in _OPEN_ENDS and after in _OPEN_ENDS:
            raise _refuse(text, "has no date on either side: at least one end must be a date")
        start = None if before in _OPEN_ENDS else _side(text, before)
        end = None if after in _OPEN_ENDS else _side(text, after)
        if start is not None and end is not None and start.first > end.last:
            raise _refuse(text, "starts after it ends")
        return cls(text, start, end, interval=True)

    @property
    def sides(self) -> tuple[Side | None, Side | None]:
        """The start and the end (None where open or unknown)."""
        return self.start, self.end

    @property
    def first_day(self) -> date | None:
        """The first day the date can mean; None when its start is open or unknown."""
        return self.start.first if self.start else None

    @property
    def last_day(self) -> date | None:
        """The last day the date can mean; None when its end is open or unknown."""
        return self.end.last if self.end else None

    @property
    def sort_day(self) -> date:
        """The day it sorts by: the first day of its range, or, with none, the last."""
        first = self.first_day
        if first is not None:
            return first
        assert self.end is not None  # parse refuses a date with no side
        return self.end.last

    @property
    def known_side(self) -> Side:
        """The start if it is known, else the end."""
        side = self.start or self.end
        assert side is not None
        return side

    @property
    def precision(self) -> Precision:
        """How finely the date is known: the coarsest of its known sides."""
        known = [side.precision for side in self.sides if side is not None]
        return max(known, key=PRECISION_ORDER.index)

    @property
    def year(self) -> int:
        """The year it sorts in."""
        return self.sort_day.year

    @property
    def qualifier(self) -> str:
        """The qualifier of a plain date (`?`, `~`, `%` or empty); empty for an interval."""
        return "" if self.interval else self.known_side.qualifier

    def counts_at(self, at_end: date) -> bool:
        """True when its range has ended by `at_end` (a range without a last day never has)."""
        last = self.last_day
        return last is not None and last <= at_end

    def uncertain_at(self, at_end: date) -> bool:
        """True when it may or may not have happened by `at_end`: its range starts by then
        (or has no first day) and ends after it (or has no last day)."""
        first, last = self.first_day, self.last_day
        return (first is None or first <= at_end) and (last is None or last > at_end)

    def overlaps(self, start: date | None, end: date | None) -> bool:
        """True when its range meets the days from `start` to `end` (None: unbounded)."""
        first, last = self.first_day, self.last_day
        return (end is None or first is None or first <= end) and (
            start is None or last is None or last >= start
        )

    def display(self) -> str:
        """The date as a reader says it: `1947`, `Feb 2004`, `c. 2019`, `2003?`, `2010s`,
        `spring 2018`, `by Feb 2018`, `Feb 2018 or later`, `between 1998 and 2003`."""
        if not self.interval:
            return self.known_side.display()
        if self.start is None:
            return f"by {self.known_side.display()}"
        if self.end is None:
            return f"{self.start.display()} or later"
        return f"between {self.start.display()} and {self.end.display()}"

    def __str__(self) -> str:
        return self.text


def _side(whole: str, text: str) -> Side:
    """One side of a date, or InvalidDate naming `whole`."""
    match = _SIDE.fullmatch(text)
    if match is None:
        raise _refuse(whole, "is not a date of a form the service accepts")
    year_text, month_text, day_text = match["year"], match["month"], match["day"]
    qualifier = match["qualifier"] or ""
    if "X" in year_text and month_text is not None:
        raise _refuse(whole, "has unspecified digits in its year and a month after them")
    if month_text == "XX" and day_text not in (None, "XX"):
        raise _refuse(whole, "has an unspecified month before a day")
    month = int(month_text) if month_text and month_text != "XX" else None
    if month is not None and 21 <= month <= 24 and day_text is not None:
        raise _refuse(whole, "is a season with a day: a season is YYYY-21 to YYYY-24 alone")
    if month is not None and not (1 <= month <= 12 or 21 <= month <= 24):
        raise _refuse(
            whole, f"has no month {month:02d}: months run from 01 to 12, seasons 21 to 24"
        )
    if "X" not in year_text and int(year_text) == 0:
        raise _refuse(whole, "has the year 0000: years run from 0001 to 9999")
    if month is not None and month <= 12 and day_text and day_text != "XX":
        year, days = int(year_text), calendar.monthrange(int(year_text), month)[1]
        if not 1 <= int(day_text) <= days:
            raise _refuse(whole, f"is not a real date: {_MONTHS[month - 1]} {year} has {days} days")
    if month is not None and month > 12:
        return _season(whole, text, int(year_text), month, qualifier)
    # Every form left passed the checks above, which is all the `edtf` package's grammar
    # (milliseconds a side) would say of it: tests/unit/test_dates.py holds them to it.
    return _calendar_side(text, year_text, month, day_text, qualifier)


def _season(whole: str, text: str, year: int, season: int, qualifier: str) -> Side:
    if season == 24:
        if year == 9999:
            raise _refuse(whole, "is a winter that runs past the year 9999")
        first, last = date(year, 12, 1), _month_end(year + 1, 2)
    else:
        start_month = 3 * (season - 21) + 3
        first, last = date(year, start_month, 1), _month_end(year, start_month + 2)
    return Side(text, first, last, "season", qualifier, year=year, season=season)


def _calendar_side(
    text: str, year_text: str, month: int | None, day_text: str | None, qualifier: str
) -> Side:
    if year_text.endswith("X"):
        low, high = int(year_text.replace("X", "0")), int(year_text.replace("X", "9"))
        precision: Precision = "century" if year_text.endswith("XX") else "decade"
        first = date(max(low, 1), 1, 1)
        return Side(text, first, date(high, 12, 31), precision, qualifier, year=low)
    year = int(year_text)
    if month is None:
        return Side(text, date(year, 1, 1), date(year, 12, 31), "year", qualifier, year=year)
    if day_text is None or day_text == "XX":
        first, last = date(year, month, 1), _month_end(year, month)
        return Side(text, first, last, "month", qualifier, year=year, month=month)
    when = date(year, month, int(day_text))
    return Side(text, when, when, "day", qualifier, year=year, month=month, day=when.day)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _period(text: object) -> EDTFDate:
    """A query period `YYYY`, `YYYY-MM` or `YYYY-MM-DD`: level 0, no qualifier."""
    allowed = "use YYYY, YYYY-MM or YYYY-MM-DD (no qualifier, no interval, no season)"
    refusal = InvalidDate(f"{text!r} is not a period to ask about: {allowed}")
    if not isinstance(text, str) or _PERIOD.fullmatch(text) is None:
        raise refusal
    try:
        parsed = EDTFDate.parse(text)
    except InvalidDate as error:
        raise InvalidDate(f"{error.reason}; {allowed}") from None
    if parsed.precision == "season":
        raise refusal
    return parsed


def period_end(text: object) -> date:
    """The last day of a query period `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (no qualifiers)."""
    last = _period(text).last_day
    assert last is not None
    return last


def period_start(text: object) -> date:
    """The first day of a query period `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (no qualifiers)."""
    first = _period(text).first_day
    assert first is not None
    return first


@functools.lru_cache(maxsize=65536)
def _read(text: str) -> EDTFDate:
    """`EDTFDate._read`, remembered per text (a refusal is not remembered: it raises)."""
    return EDTFDate._read(text)
