"""Geometry for the two charts drawn on the server as inline SVG: figures over time, and tenures.

Pure functions from stored events to shapes; the templates only draw them. Every report is
its own point (conflicting reports of one period stay side by side, never averaged), and a
report dated only to a year or a month is drawn as a bar across the whole period it may mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from events.dates import EDTFDate
from timeline.presentation import display_date, figure_label, format_number, qualified_number

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 14, 28
MAIN_FIGURES = ("member_organisations", "countries", "enterprises", "jobs")


@dataclass(frozen=True)
class Point:
    """One report of a figure."""

    x1: float
    x2: float
    y: float
    value: str
    when: str
    event_id: str
    source: str
    href: str
    qualifier: str | None = None
    """`about`, `over`…: the source did not give the figure exactly (None when it did)."""


@dataclass
class FigureChart:
    """One figure's reports over time, with its axes."""

    name: str
    label: str
    points: list[Point] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def qualified(self) -> bool:
        """True when some report of this figure was not exact."""
        return any(point.qualifier for point in self.points)

    @property
    def main(self) -> bool:
        """One of the four figures the shipped histories count (members, countries, ...)."""
        return self.name in MAIN_FIGURES


def _scale(lo: float, hi: float, start: float, stop: float) -> Any:
    span = (hi - lo) or 1.0
    return lambda v: start + (v - lo) / span * (stop - start)


def _year_ticks(first: date, last: date) -> list[int]:
    years = last.year - first.year
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if years / s <= 8)
    return list(range((first.year // step + 1) * step, last.year + 1, step))


def figure_charts(events: Iterable[dict[str, Any]]) -> list[FigureChart]:
    """A chart per reported figure (the usual four first), each point linked to its event."""
    reports: dict[str, list[tuple[EDTFDate, Any, dict[str, Any]]]] = {}
    for event in events:
        if event["type"] == "figures_reported" and event.get("occurred_on"):
            when = EDTFDate.parse(event["occurred_on"])
            for name, value in event["data"]["figures"].items():
                reports.setdefault(name, []).append((when, value, event))
    if not reports:
        return []
    days = [
        d
        for items in reports.values()
        for when, _, _ in items
        for d in (when.first_day, when.last_day)
    ]
    first = date(min(days).year - 1, 1, 1)
    last = date(max(days).year + 1, 12, 31)
    x = _scale(first.toordinal(), last.toordinal(), LEFT, WIDTH - RIGHT)
    x_ticks = [(x(date(year, 1, 1).toordinal()), str(year)) for year in _year_ticks(first, last)]
    order = [n for n in MAIN_FIGURES if n in reports] + sorted(
        n for n in reports if n not in MAIN_FIGURES
    )
    return [_chart(name, reports[name], x, x_ticks) for name in order]


def _chart(
    name: str,
    items: Sequence[tuple[EDTFDate, Any, dict[str, Any]]],
    x: Any,
    x_ticks: list[tuple[float, str]],
) -> FigureChart:
    top = max(float(value) for _, value, _ in items) * 1.15 or 1.0
    y = _scale(0.0, top, HEIGHT - BOTTOM, TOP)
    chart = FigureChart(name, figure_label(name), x_ticks=x_ticks)
    chart.y_ticks = [(y(top * f), format_number(round(top * f))) for f in (0, 0.5, 1)]
    for when, value, event in sorted(
        items, key=lambda item: (item[0].first_day, item[2]["version"])
    ):
        source = event["sources"][0] if event["sources"] else {}
        qualifier = event["data"].get("qualifiers", {}).get(name)
        chart.points.append(
            Point(
                x1=x(when.first_day.toordinal()),
                x2=x(when.last_day.toordinal() + 1),
                y=y(float(value)),
                value=qualified_number(value, qualifier),
                when=display_date(event["occurred_on"]),
                event_id=event["id"],
                source=source.get("title", "no source given"),
                href=f"#event-{event['id']}",
                qualifier=qualifier,
            )
        )
    return chart


def _day(occurred_on: str | None, *, first: bool) -> date | None:
    """The first (or last) day a date can mean; for an interval such as `../2019`, that of
    the side it has."""
    if not occurred_on:
        return None
    sides = occurred_on.split("/")
    for side in sides if first else reversed(sides):
        if side not in ("", ".."):
            parsed = EDTFDate.parse(side)
            return parsed.first_day if first else parsed.last_day
    return None


@dataclass(frozen=True)
class Bar:
    """One tenure."""

    x1: float
    x2: float
    y: float
    label: str
    open_ended: bool
    start_unknown: bool = False
    """Only attestations show the tenure: the bar starts at the first of them."""


@dataclass
class TenureChart:
    """A person's tenures on one time axis."""

    bars: list[Bar]
    x_ticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = 0


def tenure_chart(positions: Sequence[dict[str, Any]], today: date) -> TenureChart:
    """Bars from each position's `from` to its `to` (or today, while held)."""
    spans = []
    for position in positions:
        attested = position.get("attested") or {}
        start = _day(position["from"] or attested.get("first"), first=True) or today
        end = _day(position["to"], first=False) if position["to"] else today
        spans.append((start, max(end or start, start), position))
    if not spans:
        return TenureChart([], [])
    first = date(min(s for s, _, _ in spans).year, 1, 1)
    last = date(max(e for _, e, _ in spans).year, 12, 31)
    x = _scale(first.toordinal(), last.toordinal(), LEFT, WIDTH - RIGHT)
    bars = [
        Bar(
            x(start.toordinal()),
            x(end.toordinal()),
            TOP + index * 30,
            f"{position['role']}, {position['organisation']}",
            position["to"] is None,
            position["from"] is None,
        )
        for index, (start, end, position) in enumerate(spans)
    ]
    ticks = [(x(date(year, 1, 1).toordinal()), str(year)) for year in _year_ticks(first, last)]
    return TenureChart(bars, ticks, height=TOP + len(bars) * 30 + BOTTOM)
