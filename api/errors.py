"""Every error as RFC 9457 problem details, mapped once from the domain's and HTTP's errors.

JSON clients (paths under /api, /healthz, /metrics) get `application/problem+json`; people
reading pages get an HTML page with the same status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from events.errors import (
    DomainError,
    EventNotFound,
    InvalidEvent,
    OrganisationNotFound,
    PersonNotFound,
    VersionMismatch,
)
from timeline.errors import (
    IdempotencyKeyReused,
    InvalidArguments,
    InvalidCursor,
    NotAuthenticated,
    TooMuchContention,
)
from timeline.standbys import InvalidPosition

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("timeline.api")

DOMAIN_STATUS: dict[type[DomainError], tuple[int, str]] = {
    InvalidEvent: (422, "invalid-event"),
    InvalidArguments: (422, "invalid-parameters"),
    IdempotencyKeyReused: (422, "idempotency-key-reused"),
    InvalidCursor: (400, "invalid-cursor"),
    OrganisationNotFound: (404, "organisation-not-found"),
    EventNotFound: (404, "event-not-found"),
    PersonNotFound: (404, "person-not-found"),
    VersionMismatch: (412, "version-mismatch"),
    NotAuthenticated: (401, "not-authenticated"),
    TooMuchContention: (409, "too-much-contention"),
    InvalidPosition: (400, "invalid-position"),
}
"""Each refusal's HTTP status and the last part of its problem type."""

TITLES = {
    "invalid-event": "The event is not valid",
    "invalid-parameters": "A parameter is not valid",
    "idempotency-key-reused": "The Idempotency-Key was used with another body",
    "invalid-cursor": "The cursor was not made by this service for this query",
    "organisation-not-found": "No such organisation",
    "event-not-found": "No such event",
    "person-not-found": "No such person",
    "version-mismatch": "The organisation is not at the expected version",
    "not-authenticated": "A valid bearer token is needed",
    "too-much-contention": "Too many concurrent writes; try again",
    "invalid-position": "The Timeline-Position is not a position this service gives",
}


def wants_json() -> bool:
    """True for API clients: the JSON API, the health check and the metrics."""
    path = request.path
    return path.startswith(("/api", "/healthz", "/metrics"))


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response (or, for pages, an HTML error page)."""
    if not wants_json():
        page = render_template("error.html", status=status, title=title, detail=detail)
        response = Response(page, status=status, mimetype="text/html")
    else:
        body: dict[str, Any] = {
            "type": f"/api/problems/{kind}" if kind else "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": request.path,
        }
        if errors:
            body["errors"] = dict(errors)
        response = jsonify(body)
        response.status_code = status
        response.mimetype = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow/webargs messages as {"dotted.field": "what is wrong"}."""
    if isinstance(messages, Mapping):
        flat: dict[str, str] = {}
        for key, value in messages.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(messages, list | tuple):
        if all(isinstance(item, str) for item in messages):
            return {prefix or "body": " ".join(messages)}
        flat = {}
        for index, item in enumerate(messages):
            flat.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "body": str(messages)}


def _domain_error(error: DomainError) -> Response:
    status, kind = next(
        (v for cls, v in DOMAIN_STATUS.items() if isinstance(error, cls)), (400, "bad-request")
    )
    headers = {}
    if isinstance(error, NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="timeline"'
    if isinstance(error, TooMuchContention):
        headers["Retry-After"] = "1"
    errors = getattr(error, "errors", None)
    if isinstance(error, IdempotencyKeyReused):
        errors = {"Idempotency-Key": str(error)}
    return problem(
        status,
        TITLES.get(kind, "Bad request"),
        str(error),
        kind=kind,
        errors=errors,
        headers=headers,
    )


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {
        k: v
        for k, v in error.get_response().headers.items()
        if k in ("Allow", "WWW-Authenticate", "Retry-After")
    }
    data = getattr(error, "data", None) or {}
    errors = None
    if status == 422 and "messages" in data:
        # webargs puts messages under their location: {"json": {...}} or {"query": {...}}
        errors = {}
        for location_messages in data["messages"].values():
            errors.update(flatten(location_messages))
        detail = "; ".join(f"{field}: {message}" for field, message in errors.items())
        kind = "invalid-event" if "json" in data["messages"] else "invalid-parameters"
        return problem(status, TITLES[kind], detail, kind=kind, errors=errors, headers=headers)
    detail = error.description or error.name
    return problem(status, error.name, detail, headers=headers)


def _database_unavailable(error: Exception) -> Response:
    log.error("database unavailable: %s", error)
    return problem(
        503,
        "Service Unavailable",
        "the database cannot be reached; try again shortly",
        headers={"Retry-After": "5"},
    )


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return problem(500, "Internal Server Error", "the service failed to answer; this is a bug")


def register_error_handlers(app: Flask) -> None:
    """Map every error the app can raise to one response shape."""
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(PoolTimeout, _database_unavailable)
    app.register_error_handler(StoreOperationalError, _database_unavailable)
    app.register_error_handler(StoreInterfaceError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
