"""Operational endpoints: health."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from timeline.bootstrap import Services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 when the database answers and the read model has caught up with the log found at
    startup; 503 otherwise."""
    services: Services = current_app.extensions["timeline"]
    healthy = services.is_healthy()
    response = jsonify({"status": "ok" if healthy else "unavailable"})
    response.status_code = 200 if healthy else 503
    return response
