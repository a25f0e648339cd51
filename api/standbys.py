"""Reads from standbys, in the web app: the route of each read request, the position of each
write, and a read answered again from the primary when its standby fails (CONTRACT §3).

A read (GET, HEAD) that sends `Timeline-Position` (or, from a browser, the cookie a write set)
reads from a standby only once it has replayed that position (`timeline.standbys.Reads`). A
write's response carries the position, and sets the cookie so that a browser session reads
its own writes too. Without standbys, only the header's form is checked.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, request
from flask.typing import ResponseReturnValue
from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError

from timeline.bootstrap import Services
from timeline.standbys import InvalidPosition, Reads, StandbyFailed, format_position
from timeline.standbys import parse_position as parse

POSITION_HEADER = "Timeline-Position"
POSITION_COOKIE = "timeline_position"
COOKIE_SECONDS = 300
"""How long a browser session sends its last write's position: far longer than a standby
that is not skipped takes to replay it."""
READS = frozenset(("GET", "HEAD"))
WRITES = frozenset(("POST", "PUT", "PATCH", "DELETE"))

READ_FROM = Counter(
    "timeline_read_requests_total",
    "Read requests that read the database, by where they read (a standby or the primary)",
    ["source"],
)

log = logging.getLogger("timeline.standbys")


def _reads() -> Reads:
    services: Services = current_app.extensions["timeline"]
    return services.reads


def _position() -> int | None:
    """The position the client last wrote at: the header (400 if malformed), else the
    session's cookie (ignored if malformed)."""
    sent = request.headers.get(POSITION_HEADER)
    if sent is not None:
        return parse(sent)
    cookie = request.cookies.get(POSITION_COOKIE)
    if cookie is not None:
        try:
            return parse(cookie)
        except InvalidPosition:
            return None
    return None


def route_reads() -> None:
    """Route the request's reads: to a standby that has replayed the client's position."""
    if request.method not in READS:
        return
    position = _position()
    reads = _reads()
    if reads.enabled:
        g.read_route = reads.begin(position)


def tell_position(response: Response) -> Response:
    """A write's response names the position it committed at (see `Reads.primary_position`),
    in its header and the session's cookie."""
    reads = _reads()
    if request.method not in WRITES or response.status_code >= 400 or not reads.enabled:
        return response
    try:
        position = format_position(reads.primary_position())
    except SQLAlchemyError as error:  # the write is stored: answer it, without a position
        log.error("cannot read the primary's position after a write: %s", error)
        return response
    response.headers[POSITION_HEADER] = position
    response.set_cookie(
        POSITION_COOKIE,
        position,
        max_age=COOKIE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


def end_route(_: BaseException | None) -> None:
    """Count where the request read, and end its route."""
    token = g.pop("read_route", None)
    if token is None:
        return
    reads = _reads()
    source = reads.read_from()
    if source is not None:
        READ_FROM.labels(source).inc()
    reads.end(token)


def again_on_primary(error: StandbyFailed) -> ResponseReturnValue:
    """A read failed on its standby: answer the request again, from the primary (a read has
    nothing to undo)."""
    log.warning(
        "a read on standby %s failed (%s); answered from the primary", error, error.__cause__
    )
    _reads().fall_back()
    assert request.url_rule is not None and request.endpoint is not None
    view = current_app.view_functions[request.endpoint]
    try:
        response: ResponseReturnValue = current_app.ensure_sync(view)(**(request.view_args or {}))
    except Exception as refusal:  # a 404 is a 404 the second time too
        return current_app.handle_user_exception(refusal)
    return response


def register_standby_reads(app: Flask) -> None:
    """Install the routing of reads and the positions of writes, and start checking the
    standbys (once per process: each worker builds its app after the fork)."""
    services: Services = app.extensions["timeline"]
    services.reads.start()
    app.before_request(route_reads)
    app.after_request(tell_position)
    app.teardown_request(end_route)
    app.register_error_handler(StandbyFailed, again_on_primary)
