"""Following and finding: the Atom feeds, full-text search, and the stream's documentation.

The stream itself (`GET /api/stream`) is served by the server's asyncio front, not by a
request thread (see `timeline.stream`); it is documented here so that it is in the OpenAPI
document with the rest, and this view answers it only where no front runs (Flask's own
server, the test client), with the events recorded after `since` and no live part.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response as WerkzeugResponse

from api.resources import services
from api.schemas import PERIOD_PATTERN, StoredEventOut, _Documented
from events.errors import OrganisationNotFound
from timeline.presentation import readable_date, sentence
from timeline.stream import LogReader, parse_request, stream_lines
from timeline.timelinejs import known_names

blp = Blueprint(
    "following",
    __name__,
    url_prefix="/api",
    description="Follow the histories (Atom feeds, a live stream) and search them.",
)

ATOM = "application/atom+xml"


class SearchQuery(_Documented):
    """What to search for, where, and which page."""

    q = fields.String(
        required=True,
        metadata={"description": "Words to find (each, or one of its inflections, must occur)."},
    )
    org = fields.String(metadata={"description": "Comma-separated organisation ids."})
    type = fields.String(metadata={"description": "Comma-separated event types."})
    start = fields.String(
        validate=validate.Regexp(PERIOD_PATTERN),
        data_key="from",
        metadata={"description": "Events whose date range ends on or after this period's start."},
    )
    end = fields.String(
        validate=validate.Regexp(PERIOD_PATTERN),
        data_key="to",
        metadata={"description": "Events whose date range starts on or before this period's end."},
    )
    limit = fields.Integer(validate=validate.Range(1, 1000), metadata={"default": 100})
    cursor = fields.String(
        metadata={"description": "The `next` of the previous page, with the same query."}
    )


class SearchHitOut(Schema):
    """One search result."""

    event = fields.Nested(StoredEventOut, required=True)
    snippet = fields.String(
        required=True,
        metadata={"description": "HTML: the matching text escaped, matched words in <mark>."},
    )


class SearchPageOut(Schema):
    """A page of search results, best first. A query with at most 500 matches (the service's
    `TIMELINE_SEARCH_RANK_WINDOW`) is ranked whole; one with more is ranked a window at a time:
    its newest 500 matches, best first among themselves, then, on the following pages, the
    next older 500, and so on, so that paging reaches every match. To have the best of more
    matches first, narrow the query (more words, `org`, `type`, `from`, `to`)."""

    results = fields.List(fields.Nested(SearchHitOut), required=True)
    next = fields.String(required=True, allow_none=True)


class StreamQuery(_Documented):
    """Where the stream starts, and which organisation it follows."""

    since = fields.String(
        metadata={
            "description": "A recording position (an earlier message's `id`): first send every "
            "event recorded after it. `Last-Event-ID` does the same."
        }
    )
    org = fields.String(metadata={"description": "Only this organisation's events."})


def search_page(args: dict[str, Any]) -> dict[str, Any]:
    """A page of search results for the query parameters given (the API's and the page's)."""
    page = services().queries.search(
        args.get("q"),
        organisations=args.get("org"),
        types=args.get("type"),
        start=args.get("from"),
        end=args.get("to"),
        limit=args.get("limit"),
        cursor=args.get("cursor"),
    )
    return {"results": page.results, "next": page.next}


@blp.route("/search")
class Search(MethodView):
    """Full-text search."""

    @blp.arguments(SearchQuery(), location="query", as_kwargs=True)
    @blp.response(200, SearchPageOut)
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, **_: Any) -> dict[str, Any]:
        """Events whose names, headlines, texts, titles, notes or sources' titles and quotes
        hold every word of `q` (or its inflections), ranked best first; retracted events are
        left out, corrected ones are found by their corrected text.

        With more than 500 matches (`TIMELINE_SEARCH_RANK_WINDOW`), results are ranked a
        window at a time: the newest 500 matches (by when their text was recorded) best first,
        then the next older 500 best first, and so on; every match is reached by paging."""
        return search_page(request.args.to_dict())


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _feed(organisation: str | None) -> WerkzeugResponse:
    """The Atom feed of the latest events recorded, or 304 if the client has it already."""
    queries = services().queries
    if organisation is None:
        etag = f"log-{queries.log_position()}"
    else:
        version = queries.version(organisation)
        if version == 0:
            raise OrganisationNotFound(organisation)
        etag = f"{organisation}-{version}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return response
    events = queries.recent(organisation)
    organisations = queries.organisations()
    names = known_names(events, organisations)
    names.update({person["id"]: person["name"] for person in queries.people()})
    xml, updated = _atom(organisation, events, names)
    response = Response(xml, mimetype=ATOM)
    response.set_etag(etag)
    response.last_modified = updated
    response.cache_control.no_cache = True  # always revalidate: it is cheap
    return response.make_conditional(request)


def _atom(
    organisation: str | None, events: list[dict[str, Any]], names: dict[str, str | None]
) -> tuple[bytes, datetime]:
    """The feed document, and when it was last updated."""
    root = request.host_url.rstrip("/")
    feed = FeedGenerator()
    feed.id(request.base_url)
    title = names.get(organisation) or organisation if organisation else "All organisations"
    feed.title(f"{title}: latest events · Timeline")
    feed.author({"name": "Timeline"})
    feed.link(href=request.base_url, rel="self", type=ATOM)
    page = f"/organisations/{organisation}" if organisation else "/"
    feed.link(href=root + page, rel="alternate", type="text/html")
    updated = _timestamp(events[0]["recorded_at"]) if events else datetime(1970, 1, 1, tzinfo=UTC)
    feed.updated(updated)
    for event in events:
        entry = feed.add_entry(order="append")
        entry.id(f"urn:uuid:{event['id']}")
        entry.title(sentence(event, names))
        entry.updated(_timestamp(event["recorded_at"]))
        org = event["organisation"]
        entry.link(href=f"{root}/organisations/{org}#event-{event['id']}", rel="alternate")
        entry.author({"name": event["recorded_by"]})
        entry.category(term=org, label=names.get(org) or org)
        entry.summary(_summary(event, names))
    return feed.atom_str(pretty=False), updated


def _summary(event: dict[str, Any], names: dict[str, str | None]) -> str:
    org = names.get(event["organisation"]) or event["organisation"]
    when = f", {readable_date(event['occurred_on'])}" if event.get("occurred_on") else ""
    status = f" ({event['status']})" if event["status"] != "active" else ""
    note = f" {event['note']}" if event.get("note") else ""
    return f"{org}{when}{status}.{note}"


FEED_DOC = {
    "ETag": {"schema": {"type": "string"}},
    "Last-Modified": {"schema": {"type": "string"}},
}


@blp.route("/feed.atom")
class Feed(MethodView):
    """The Atom feed of every organisation."""

    @blp.response(200, content_type=ATOM, headers=FEED_DOC)
    @blp.alt_response(304, description="Not modified (If-None-Match or If-Modified-Since).")
    def get(self) -> WerkzeugResponse:
        """The latest 50 events recorded, newest first, as Atom 1.0."""
        return _feed(None)


@blp.route("/organisations/<string:org>/feed.atom")
class OrganisationFeed(MethodView):
    """The Atom feed of one organisation."""

    @blp.response(200, content_type=ATOM, headers=FEED_DOC)
    @blp.alt_response(304, description="Not modified (If-None-Match or If-Modified-Since).")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str) -> WerkzeugResponse:
        """The organisation's latest 50 events recorded, newest first, as Atom 1.0."""
        return _feed(org)


BACKLOG = 1000
"""The most events the app's own answer to `/api/stream` sends (the front sends them all)."""


@blp.route("/stream")
class Stream(MethodView):
    """The live stream of recorded events."""

    @blp.arguments(StreamQuery(), location="query", as_kwargs=True)
    @blp.response(200, content_type="text/event-stream")
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "Last-Event-ID",
                "schema": {"type": "string"},
                "description": "The `id` of the last message received: resume after it.",
            }
        ]
    )
    def get(self, **_: Any) -> Response:
        """Server-Sent Events: one message per event recorded (by any process on the
        database) from now on, or after the position in `Last-Event-ID` or `since`, in
        recording order: `id:` its recording position, `event: recorded`, `data:` the
        stored event. A comment line comes at least every 15 s. A client that reads too
        slowly is disconnected: reconnect with the last `id` received to catch up.

        `timeline serve` keeps the stream open; a server without its front (Flask's own)
        answers with the events after `since` (up to 1000), then ends the stream."""
        query = request.query_string.decode("latin-1")
        asked = parse_request(query, request.headers.get("Last-Event-ID"))
        messages = []
        if asked.since is not None:
            messages = LogReader(services().app).read(asked.since + 1, BACKLOG)
        body = stream_lines(messages, asked.organisation)
        response = Response(body, mimetype="text/event-stream")
        response.cache_control.no_cache = True
        return response
