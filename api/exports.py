"""The exports as HTTP resources: Popolo JSON, JSON-LD, CSV by year and CSL-JSON.

Each answer carries a strong `ETag` named by the read model's position, the day, the host and
the question, so a repeated download with `If-None-Match` is a 304 that computes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.schemas import StateQuery
from timeline.bootstrap import Services
from timeline.exports.service import Exports
from timeline.queries import today

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/api",
    description="The histories in other formats: Popolo, JSON-LD, CSV by year, CSL-JSON.",
)

JSON = "application/json"
JSON_LD = "application/ld+json"
CSV = "text/csv"
_ARRAY_OF_OBJECTS = {"type": "array", "items": {"type": "object"}}
POPOLO_LISTS = ("organizations", "persons", "posts", "memberships")
POPOLO_SCHEMA = {
    "type": "object",
    "description": "Popolo JSON (popoloproject.com); EDTF kept in edtf_* extension fields",
    "properties": dict.fromkeys(POPOLO_LISTS, _ARRAY_OF_OBJECTS),
    "required": list(POPOLO_LISTS),
}
JSONLD_SCHEMA = {
    "type": "object",
    "description": "JSON-LD in the W3C Organization Ontology, with an inline @context",
    "properties": {"@context": {"type": "object"}, "@graph": _ARRAY_OF_OBJECTS},
    "required": ["@context", "@graph"],
}
CSL_SCHEMA = {
    "description": "CSL-JSON items (citationstyles.org), one per source cited",
    **_ARRAY_OF_OBJECTS,
}
CSV_SCHEMA = {"type": "string", "description": "UTF-8 CSV with a header row (RFC 4180)"}
ETAG = {"ETag": {"schema": {"type": "string"}}}


class YearsQuery(StateQuery):
    """The years of a CSV: both required, `YYYY`, at most 500 of them."""

    start = fields.String(
        required=True,
        data_key="from",
        validate=validate.Regexp(r"^[0-9]{4}$"),
        metadata={"description": "YYYY: the first year (required)."},
    )
    end = fields.String(
        required=True,
        data_key="to",
        validate=validate.Regexp(r"^[0-9]{4}$"),
        metadata={"description": "YYYY: the last year (required; at most 500 years)."},
    )


def _exports() -> Exports:
    services: Services = current_app.extensions["timeline"]
    return Exports(services.queries, services.commands)


def _etag() -> str:
    """The answer's name: the same question, host, day and read-model position, the same
    bytes."""
    services: Services = current_app.extensions["timeline"]
    question = "|".join(
        (request.host_url, request.path, *sorted(f"{k}={v}" for k, v in request.args.items(True)))
    )
    named = f"{services.read_model.position()}|{today().isoformat()}|{question}"
    return hashlib.sha256(named.encode("utf-8")).hexdigest()[:32]


def conditional(media_type: str, answer: Callable[[], bytes | str]) -> Response:
    """The answer, or a 304 when the client holds it already (computed only if needed)."""
    tag = _etag()
    if request.if_none_match.contains(tag):
        response = Response(status=304)
    else:
        response = Response(answer(), content_type=media_type)
    response.set_etag(tag)
    return response


def _json(body: Any) -> bytes:
    return orjson.dumps(body)


@blp.route("/organisations/<string:org>/popolo")
class Popolo(MethodView):
    """The organisation as Popolo JSON."""

    @blp.response(200, POPOLO_SCHEMA, content_type=JSON, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str) -> Response:
        """The organisation, its people (everyone who held a post in it) with all their
        memberships, its posts and its member organisations, as Popolo JSON. Dates are
        reduced to ISO 8601 at their own precision; the EDTF string is kept in
        `edtf_start_date`/`edtf_end_date` (and `edtf_founding_date`,
        `edtf_dissolution_date`)."""
        exports = _exports()
        exports.queries.state(org)  # 404 first, whatever the client holds
        return conditional(JSON, lambda: _json(exports.popolo([org], request.host_url)))


@blp.route("/organisations/<string:org>/jsonld")
class JsonLd(MethodView):
    """The state as JSON-LD."""

    @blp.arguments(StateQuery(), location="query", as_kwargs=True)
    @blp.response(200, JSONLD_SCHEMA, content_type=JSON_LD, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str, **query: Any) -> Response:
        """The state at the end of `at` (default today) in the W3C Organization Ontology,
        with OWL-Time intervals, SKOS labels and PROV sources, and an inline `@context`."""
        exports = _exports()
        at, known_at = query.get("at"), query.get("known_at")
        exports.queries.state(org, at, known_at)  # 404 or 422 first
        return conditional(
            JSON_LD, lambda: _json(exports.jsonld(org, at, request.host_url, known_at))
        )


@blp.route("/organisations/<string:org>/states.csv")
class StatesCsv(MethodView):
    """The state year by year, as CSV."""

    @blp.arguments(YearsQuery(only=["start", "end"]), location="query", as_kwargs=True)
    @blp.response(200, CSV_SCHEMA, content_type=CSV, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str, **query: Any) -> Response:
        """One row per year from `from` to `to` (as of each 31 December): year, exists, name,
        acronym, headquarters, parent, office_holders, members, then one column per figure."""
        exports = _exports()
        start, end = query.get("start"), query.get("end")
        exports.check_years(org, start, end)  # 422 or 404 first
        response = conditional(
            f"{CSV}; charset=utf-8; header=present",
            lambda: exports.states_csv(org, start, end).encode("utf-8"),
        )
        filename = f"{org}-states-{start}-{end}.csv"
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
        return response


@blp.route("/organisations/<string:org>/sources.json")
class Sources(MethodView):
    """The sources, as CSL-JSON."""

    @blp.response(200, CSL_SCHEMA, content_type=JSON, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org: str) -> Response:
        """Every source the organisation's events cite, once each, as CSL-JSON (for Zotero,
        Pandoc and other citation managers), each with a stable `id`."""
        exports = _exports()
        exports.queries.state(org)  # 404 first
        return conditional(JSON, lambda: _json(exports.sources(org)))
