"""Historical dates at their real precision: EDTF level 0 plus the level-1 qualifiers."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

Precision = Literal["year", "month", "day"]

_EDTF = re.compile(
    r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?)?(?P<qualifier>[?~%])?"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class InvalidDate(ValueError):
    """A text that is not a date of the form the contract accepts."""


@dataclass(frozen=True)
class EDTFDate:
    """A date such as `1947`, `2017-09~` or `2004-02-17`, kept exactly as it was given."""

    year: int
    month: int | None = None
    day: int | None = None
    qualifier: str = ""

    @classmethod
    def parse(cls, text: object) -> EDTFDate:
        """Read an EDTF date, or raise InvalidDate saying what is wrong with it."""
        if not isinstance(text, str):
            raise InvalidDate("must be a date written as text, such as 1947 or 2004-02-17")
        match = _EDTF.fullmatch(text)
        if match is None:
            raise InvalidDate(
                f"{text!r} is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD, "
                "optionally followed by ?, ~ or %"
            )
        year = int(match["year"])
        month = int(match["month"]) if match["month"] else None
        day = int(match["day"]) if match["day"] else None
        _check_real(text, year, month, day)
        return cls(year, month, day, match["qualifier"] or "")

    @property
    def precision(self) -> Precision:
        """How finely the date is known: to the year, the month or the day."""
        if self.day is not None:
            return "day"
        return "month" if self.month is not None else "year"

    @property
    def uncertain(self) -> bool:
        """True for `?` and `%`: the source is unsure it happened then."""
        return self.qualifier in ("?", "%")

    @property
    def approximate(self) -> bool:
        """True for `~` and `%`: the date is roughly right."""
        return self.qualifier in ("~", "%")

    @property
    def first_day(self) -> date:
        """The first day the date can mean."""
        return date(self.year, self.month or 1, self.day or 1)

    @property
    def last_day(self) -> date:
        """The last day the date can mean."""
        if self.day is not None:
            return self.first_day
        month = self.month or 12
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    def display(self) -> str:
        """The date for a reader: `1947`, `Feb 2004`, `17 Feb 2004`, `c. 2019`, `2003?`."""
        year = f"{self.year:04d}"
        if self.day is not None and self.month is not None:
            text = f"{self.day} {_MONTHS[self.month - 1]} {year}"
        elif self.month is not None:
            text = f"{_MONTHS[self.month - 1]} {year}"
        else:
            text = year
        if self.approximate:
            text = f"c. {text}"
        if self.uncertain:
            text = f"{text}?"
        return text

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text + self.qualifier


def _check_real(text: str, year: int, month: int | None, day: int | None) -> None:
    """Reject dates that match the pattern but name no real day."""
    if year == 0:
        raise InvalidDate(f"{text!r}: the year must be between 0001 and 9999")
    if month is not None and not 1 <= month <= 12:
        raise InvalidDate(f"{text!r}: there is no month {month:02d}; months run from 01 to 12")
    if month is not None and day is not None:
        days_in_month = calendar.monthrange(year, month)[1]
        if not 1 <= day <= days_in_month:
            raise InvalidDate(
                f"{text!r} is not a real date: {_MONTHS[month - 1]} {year} has {days_in_month} days"
            )


def period_end(text: object) -> date:
    """The last day of a query period `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (no qualifiers)."""
    parsed = EDTFDate.parse(text)
    if parsed.qualifier:
        raise InvalidDate(f"{text!r}: a period to ask about takes no ?, ~ or % qualifier")
    return parsed.last_day


def period_start(text: object) -> date:
    """The first day of a query period `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (no qualifiers)."""
    parsed = EDTFDate.parse(text)
    if parsed.qualifier:
        raise InvalidDate(f"{text!r}: a period to ask about takes no ?, ~ or % qualifier")
    return parsed.first_day
