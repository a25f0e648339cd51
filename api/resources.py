"""The JSON API: each view loads a schema, calls one command or query, and dumps a schema."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.wrappers import Response as WerkzeugResponse

from api.observability import APPENDED
from api.schemas import (
    DiffOut,
    DiffQuery,
    EventIn,
    EventsPageOut,
    EventsQuery,
    OrganisationsOut,
    PersonOut,
    StateOut,
    StateQuery,
    StoredEventOut,
    TimelineJSOut,
    TimelineQuery,
)
from events.validation import EventDraft, text_problem
from timeline.bootstrap import Services
from timeline.errors import InvalidArguments, NotAuthenticated
from timeline.tokens import Identity
from timeline.writer import IfMatch

MAX_BODY = 64 * 1024


class StrictJsonParser(FlaskParser):
    """Reads the body the write guard already parsed strictly (no NaN, no Infinity)."""

    def load_json(self, req: Any, schema: Any) -> Any:
        """The body `guard_writes` parsed (webargs' public hook for the JSON location)."""
        return g.get("json_body", core.missing)


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint whose JSON bodies are parsed by `StrictJsonParser`."""

    ARGUMENTS_PARSER = StrictJsonParser()


blp = ApiBlueprint(
    "api",
    __name__,
    url_prefix="/api",
    description="Organisations' histories: append events, ask for the state at any date.",
)


def services() -> Services:
    """The services the app was built with."""
    found: Services = current_app.extensions["timeline"]
    return found


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@blp.before_request
def guard_writes() -> None:
    """Writes need a token, a JSON body of at most 64 KiB, and strictly valid JSON."""
    if request.method != "POST":
        return
    g.identity = authenticate()
    if not core.is_json(request.mimetype):
        raise UnsupportedMediaType("send the event as application/json")
    if (request.content_length or 0) > MAX_BODY:
        raise RequestEntityTooLarge(f"the body may be at most {MAX_BODY} bytes")
    raw = request.get_data(cache=True)
    try:
        g.json_body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = "it nests too deeply" if isinstance(error, RecursionError) else str(error)
        raise BadRequest(f"the body is not valid JSON: {reason}") from None


_CONDITIONAL_HEADERS = frozenset(
    (
        "HTTP_IF_MATCH",
        "HTTP_IF_NONE_MATCH",
        "HTTP_IF_MODIFIED_SINCE",
        "HTTP_IF_UNMODIFIED_SINCE",
        "HTTP_IF_RANGE",
        "HTTP_RANGE",
    )
)
"""The request headers werkzeug's `make_conditional` reads: without any, it has nothing to do."""


@blp.after_request
def conditional_reads(response: Response) -> WerkzeugResponse:
    """Every successful read carries an ETag (the contract's `"<version>"` where it names one,
    otherwise a weak hash of the body), and `If-None-Match` on it gives 304."""
    if request.method in ("GET", "HEAD") and response.status_code == 200:
        response.add_etag(overwrite=False, weak=True)
        if _CONDITIONAL_HEADERS.intersection(request.environ):
            return response.make_conditional(request)
    return response


def authenticate() -> Identity:
    """The writer named by the bearer token, or NotAuthenticated."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated(
            "send Authorization: Bearer <token>; `timeline token create` makes one"
        )
    identity = services().tokens.authenticate(token.strip())
    if identity is None:
        raise NotAuthenticated("this bearer token is not known to the service")
    return identity


def _if_match() -> IfMatch | None:
    """The versions `If-Match` accepts; the writer checks them against the stream, after the
    idempotency key is looked up."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    versions: set[int] = set()
    any_version = False
    for tag in (part.strip() for part in raw.split(",")):
        if tag == "*":
            any_version = True
        elif tag.startswith('"') and tag.endswith('"') and tag[1:-1].isdigit():
            versions.add(int(tag[1:-1]))
        elif tag.isdigit():
            versions.add(int(tag))
        elif not tag.startswith("W/"):  # a weak tag never matches (RFC 9110 §13.1.1)
            raise BadRequest('If-Match must name a version, such as If-Match: "3"')
    return IfMatch(frozenset(versions), any_version)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and (not 1 <= len(key) <= 255 or text_problem(key)):
        raise InvalidArguments(
            {"Idempotency-Key": "must be 1 to 255 characters, none of them a control character"}
        )
    return key


def _flag(value: str | None, name: str) -> bool:
    if value in (None, "", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise InvalidArguments({name: "must be true or false"})


def _page(organisation: str | None, query: dict[str, Any]) -> dict[str, Any]:
    """A page of events for the list parameters given (one organisation, or `org`)."""
    page = services().queries.events(
        organisation,
        organisations=query.get("org"),
        start=query.get("start"),
        end=query.get("end"),
        types=query.get("type"),
        limit=query.get("limit"),
        cursor=query.get("cursor"),
        known_at=query.get("known_at"),
        include_retracted=_flag(query.get("include_retracted"), "include_retracted"),
    )
    return {"events": page.events, "next": page.next}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The body as JSON, serialised as it is: the queries already build exactly the documented
    shapes (the `...Out` schemas, which schemathesis holds every response to), and a
    marshmallow dump of a state costs more than answering it."""
    return Response(orjson.dumps(body), status=status, headers=headers, mimetype="application/json")


def _event_headers(body: dict[str, Any]) -> dict[str, str]:
    return {
        "Location": f"/api/organisations/{body['organisation']}/events/{body['id']}",
        "ETag": f'"{body["version"]}"',
    }


@blp.route("/organisations")
class Organisations(MethodView):
    """The organisations."""

    @blp.response(200, OrganisationsOut)
    def get(self) -> Response:
        """Every organisation with events, with its current name and stream version."""
        return json_response({"organisations": services().queries.organisations()})


@blp.route("/organisations/<string:org>/events")
class Events(MethodView):
    """An organisation's events."""

    @blp.arguments(EventsQuery(), location="query", as_kwargs=True)
    @blp.response(200, EventsPageOut, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str, **query: Any) -> Response:
        """The organisation's events in occurrence order, a page at a time."""
        etag = f'"{services().queries.version(org)}"'
        return json_response(_page(org, query), headers={"ETag": etag})

    @blp.arguments(EventIn(), location="json")
    @blp.response(201, StoredEventOut, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, draft: EventDraft, org: str) -> Response:
        """Append one event. `If-Match: "<version>"` makes it conditional; an
        `Idempotency-Key` makes a retry safe."""
        identity: Identity = g.identity
        appended = services().commands.append(
            org,
            draft,
            recorded_by=identity.name,
            token_id=identity.token_id,
            if_match=_if_match(),
            idempotency_key=_idempotency_key(),
        )
        headers = _event_headers(appended.event)
        if appended.replayed:
            headers["Idempotent-Replayed"] = "true"
        else:
            APPENDED.labels(draft.type).inc()
        return json_response(appended.event, 201, headers)


@blp.route("/organisations/<string:org>/events/<string:event_id>")
class Event(MethodView):
    """One event."""

    @blp.arguments(StateQuery(only=["known_at"]), location="query", as_kwargs=True)
    @blp.response(200, StoredEventOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str, event_id: str, **query: Any) -> Response:
        """One stored event (retracted ones included, with their status)."""
        body = services().queries.event(org, event_id, query.get("known_at"))
        return json_response(body, headers={"ETag": f'"{body["version"]}"'})


@blp.route("/organisations/<string:org>/state")
class State(MethodView):
    """An organisation's state."""

    @blp.arguments(StateQuery(), location="query", as_kwargs=True)
    @blp.response(200, StateOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str, **query: Any) -> Response:
        """The state at the end of `at` (default today), as known at `known_at`."""
        state = services().queries.state(org, query.get("at"), query.get("known_at"))
        return json_response(state)


@blp.route("/organisations/<string:org>/diff")
class Diff(MethodView):
    """What changed between two dates."""

    @blp.arguments(DiffQuery(), location="query", as_kwargs=True)
    @blp.response(200, DiffOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str, **query: Any) -> Response:
        """The fields that differ between the states at `from` and `to`."""
        queries = services().queries
        return json_response(
            queries.diff(org, query.get("start"), query.get("end"), query.get("known_at"))
        )


@blp.route("/organisations/<string:org>/timelinejs")
class TimelineJS(MethodView):
    """The timeline for Knight Lab TimelineJS3."""

    @blp.response(200, TimelineJSOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str) -> Response:
        """The organisation's events as a TimelineJS3 document (all text HTML-escaped)."""
        return json_response(services().queries.timelinejs(org))


@blp.route("/timeline")
class Timeline(MethodView):
    """Events of every organisation."""

    @blp.arguments(TimelineQuery(), location="query", as_kwargs=True)
    @blp.response(200, EventsPageOut)
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, **query: Any) -> Response:
        """Events of every organisation (or of those in `org`), in occurrence order."""
        return json_response(_page(None, query))


@blp.route("/people/<string:person>")
class Person(MethodView):
    """A person."""

    @blp.response(200, PersonOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, person: str) -> Response:
        """A person's positions across organisations; `to` is null while held."""
        return json_response(services().queries.person(person))
