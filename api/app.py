"""The Flask app factory: the JSON API, the pages and the operational endpoints.

The app gets its services from the composition root; nothing is built at import time.
"""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask, Response, send_from_directory
from flask_smorest import Api
from jinja2 import StrictUndefined

from api import exports, following, forms, ops, pages, resources, search_page
from api.errors import PROBLEM_JSON, register_error_handlers
from api.observability import register_observability
from api.resources import MAX_BODY
from api.schemas import DATA_SCHEMAS, ProblemOut
from api.security import register_security
from api.sessions import register_sessions
from api.standbys import register_standby_reads
from timeline.bootstrap import Services


class ProblemResponses(BasePlugin):
    """An apispec plugin documenting flask-smorest's default error responses, the only
    response components the app registers, as problem+json, the type they are served as."""

    def response_helper(self, response: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        """The response with its JSON content moved to `application/problem+json`."""
        content = response.get("content") or {}
        if "application/json" not in content:
            return None
        return {"content": {PROBLEM_JSON: content["application/json"]}}


class TimelineApi(Api):
    """flask-smorest's Api, with errors documented (and served) as problem+json."""

    ERROR_SCHEMA = ProblemOut


API_CONFIG = {
    "API_TITLE": "Timeline",
    "API_VERSION": "1.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "The history of organisations as immutable, sourced events. Reads are "
                "public; appends need `Authorization: Bearer <token>` (made with `timeline "
                "token create NAME`). Every error is `application/problem+json`."
            )
        },
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    },
}


def create_app(services: Services) -> Flask:
    """A Flask app serving `services`."""
    app = Flask(__name__)
    # No redirect from `//a//b` or `/a/` to `/a`: werkzeug builds its Location from the Host
    # header, so any Host could send a client (or a cache) elsewhere. `//a//b` is a 404, and
    # `/a/` is answered as `/a`.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.config.update(API_CONFIG, MAX_CONTENT_LENGTH=MAX_BODY)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.undefined = StrictUndefined  # a misspelt name in a template fails loudly
    app.extensions["timeline"] = services
    register_observability(app)
    register_security(app)
    register_sessions(app, services)
    api = TimelineApi(app, spec_kwargs={"extra_plugins": [ProblemResponses()]})
    for schema in DATA_SCHEMAS.values():
        schema_cls = resolve_schema_cls(schema)
        assert isinstance(schema_cls, type)  # one schema each, never a list
        api.spec.components.schema(schema_cls.__name__, schema=schema)
    api.register_blueprint(resources.blp)
    api.register_blueprint(exports.blp)
    api.register_blueprint(following.blp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(forms.bp)
    app.register_blueprint(search_page.bp)
    app.add_url_rule("/api/docs/assets/<path:filename>", "docs_assets", _docs_asset)
    register_error_handlers(app)  # after Api(app): replaces flask-smorest's JSON error handler
    register_standby_reads(app)
    return app


def _docs_asset(filename: str) -> Response:
    """Swagger UI's files, from the installed swagger-ui-bundle: nothing from the internet."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
