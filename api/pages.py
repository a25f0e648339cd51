"""The HTML pages: server-rendered, readable without JavaScript, every text escaped.

Each view asks the application's queries and hands plain data to a template; templates hold
no queries. An unknown organisation, person or date is an HTML 404 (a bad filter, a 400).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import BadRequest, NotFound

from api.charts import figure_charts, tenure_chart
from events.dates import EDTFDate, InvalidDate, period_start
from events.errors import OrganisationNotFound, PersonNotFound
from events.validation import link_url
from timeline.bootstrap import Services
from timeline.errors import InvalidArguments
from timeline.presentation import (
    TYPE_LABELS,
    TYPE_NAMES,
    display_date,
    how_known,
    language_name,
    qualified_number,
    readable_date,
    sentence,
)
from timeline.queries import today
from timeline.timelinejs import known_names

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static")

FILTER_TYPES = [t for t in TYPE_NAMES if t not in ("retracted", "corrected")]


def _queries() -> Any:
    services: Services = current_app.extensions["timeline"]
    return services.queries


@bp.app_template_filter("when")
def when(occurred_on: str | None) -> str:
    """A date at its precision, for a reader."""
    return readable_date(occurred_on)


@bp.app_template_filter("known")
def known(value: dict[str, Any] | None, at_year: int | None = None) -> str:
    """How a value is known: "since 1998", "attested 1998-2017, 3 times", "last seen in …"."""
    return how_known(value, at_year)


@bp.app_template_filter("qualified")
def qualified(figure: dict[str, Any]) -> str:
    """A figure as reported: "about 4,000,000"."""
    return qualified_number(figure["value"], figure.get("qualifier"))


@bp.app_template_filter("language")
def language(subtag: str) -> str:
    """`fr` → "French"."""
    return language_name(subtag)


@bp.app_template_filter("link")
def link(url: object) -> str | None:
    """A source's URL fit for an `href` (percent-encoded), or None if it is not http(s)."""
    return link_url(url)


def _organisation(org: str, organisations: Iterable[dict[str, Any]]) -> dict[str, Any]:
    found = next((o for o in organisations if o["id"] == org), None)
    if found is None:
        raise NotFound(f"there is no organisation {org!r}")
    return found


@bp.get("/")
def index() -> str:
    """The organisations, each linked, and the people who held office in them."""
    queries = _queries()
    return render_template(
        "index.html", organisations=queries.organisations(), people=queries.people()
    )


def _entries(
    events: Iterable[dict[str, Any]], names: dict[str, str | None]
) -> list[dict[str, Any]]:
    return [
        {
            "event": event,
            "sentence": sentence(event, names),
            "label": TYPE_LABELS[event["type"]],
            "year": EDTFDate.parse(event["occurred_on"]).year,
        }
        for event in events
        if event.get("occurred_on")
    ]


def _by_decade(
    entries: list[dict[str, Any]],
) -> list[tuple[int, list[tuple[int, list[dict[str, Any]]]]]]:
    decades = []
    for decade, in_decade in groupby(entries, key=lambda e: e["year"] // 10 * 10):
        years = [(year, list(items)) for year, items in groupby(in_decade, key=lambda e: e["year"])]
        decades.append((decade, years))
    return decades


@bp.get("/organisations/<org>")
def timeline(org: str) -> tuple[str, int]:
    """Every event in occurrence order, grouped by decade and year, with filters and figures."""
    queries = _queries()
    organisations = queries.organisations()
    organisation = _organisation(org, organisations)
    chosen = [t for value in request.args.getlist("type") for t in value.split(",") if t]
    start, end = request.args.get("from") or None, request.args.get("to") or None
    problem, status = None, 200
    try:
        events = list(queries.all_events(org, types=",".join(chosen) or None, start=start, end=end))
    except InvalidArguments as error:
        events, problem, status = [], error.errors, 400
    everything = list(queries.all_events(org))
    names = known_names(everything, organisations)
    entries = _entries(events, names)
    amendments = [e for e in everything if not e.get("occurred_on")]
    return render_template(
        "timeline.html",
        organisation=organisation,
        decades=_by_decade(entries),
        count=len(entries),
        total=sum(1 for e in everything if e.get("occurred_on")),
        amendments=[{"event": e, "sentence": sentence(e, names)} for e in amendments],
        charts=figure_charts(everything),
        types=[(t, TYPE_NAMES[t]) for t in FILTER_TYPES],
        chosen=set(chosen),
        start=start or "",
        end=end or "",
        filtered=bool(chosen or start or end),
        problem=problem,
        now_year=today().year,
        first_year=min(
            (EDTFDate.parse(e["occurred_on"]).year for e in everything if e.get("occurred_on")),
            default=today().year,
        ),
    ), status


@bp.get("/organisations/<org>/at/<date>")
def state(org: str, date: str) -> str:
    """ "CICOPA in 1998": the state at the end of that period, and a diff with another."""
    queries = _queries()
    try:
        year = period_start(date).year
        found = queries.state(org, date)
    except (InvalidDate, InvalidArguments):
        raise NotFound(
            f"{date!r} is not a date to look at: use 1998, 1998-06 or 1998-06-30"
        ) from None
    except OrganisationNotFound:
        raise NotFound(f"there is no organisation {org!r}") from None
    compare = request.args.get("compare") or None
    diff = None
    if compare:
        try:
            diff = queries.diff(org, *sorted((date, compare), key=_first_day))
        except InvalidArguments as error:
            raise BadRequest(
                f"cannot compare with {compare!r}: {'; '.join(error.errors.values())}"
            ) from None
    organisations = queries.organisations()
    return render_template(
        "state.html",
        organisation=_organisation(org, organisations),
        names={o["id"]: o["name"] for o in organisations},
        state=found,
        date=date,
        year=year,
        label=display_date(date),
        previous=year - 1,
        next=year + 1,
        compare=compare or "",
        diff=diff,
    )


def _first_day(value: str) -> Any:
    try:
        return period_start(value)
    except InvalidDate:
        return period_start("0001")


@bp.get("/people/<person>")
def person(person: str) -> str:
    """A person's positions across organisations, on a tenure chart."""
    queries = _queries()
    try:
        found = queries.person(person)
    except PersonNotFound:
        raise NotFound(f"there is no person {person!r}") from None
    organisations = queries.organisations()
    return render_template(
        "person.html",
        person=found,
        names={o["id"]: o["name"] for o in organisations},
        chart=tenure_chart(found["positions"], today()),
    )
