"""The search page: the API's full-text search as HTML, with the same filters, a page at a
time. Everything shown is escaped; the snippets arrive as HTML already escaped and marked."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from api.following import search_page
from timeline.bootstrap import Services
from timeline.errors import InvalidArguments, InvalidCursor
from timeline.presentation import TYPE_NAMES, readable_date, sentence
from timeline.timelinejs import known_names

bp = Blueprint("search_page", __name__, template_folder="templates")

FILTERS = ("q", "org", "type", "from", "to")


@bp.get("/search")
def search() -> tuple[str, int]:
    """The results of `q` with their snippets, each linked to its place on its timeline."""
    services: Services = current_app.extensions["timeline"]
    args = {name: request.args.get(name, "").strip() for name in FILTERS}
    args["cursor"] = request.args.get("cursor", "")
    organisations = services.queries.organisations()
    results: list[dict[str, Any]] = []
    problem: dict[str, str] | None = None
    next_cursor, status = None, 200
    if args["q"] or any(args[name] for name in FILTERS[1:]):
        try:
            page = search_page({name: value for name, value in args.items() if value})
        except InvalidArguments as error:
            problem, status = error.errors, 400
        except InvalidCursor as error:
            problem, status = {"cursor": str(error) or "not a cursor of this search"}, 400
        else:
            names = known_names([hit["event"] for hit in page["results"]], organisations)
            results = [_result(hit, names) for hit in page["results"]]
            next_cursor = page["next"]
    return render_template(
        "search.html",
        args=args,
        organisations=organisations,
        types=[(t, TYPE_NAMES[t]) for t in TYPE_NAMES if t not in ("retracted", "corrected")],
        results=results,
        problem=problem,
        next_args={**{k: v for k, v in args.items() if v}, "cursor": next_cursor},
        has_next=next_cursor is not None,
    ), status


def _result(hit: dict[str, Any], names: dict[str, str | None]) -> dict[str, Any]:
    event = hit["event"]
    return {
        "event": event,
        "sentence": sentence(event, names),
        "organisation": names.get(event["organisation"]) or event["organisation"],
        "when": readable_date(event.get("occurred_on")) if event.get("occurred_on") else "",
        # Escaped by the query (`projections.search.marked`): only its <mark>s are markup.
        "snippet": Markup(hit["snippet"]),  # noqa: S704
    }
