"""Operational endpoints: health."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from timeline.bootstrap import Services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 when the database answers and the read model has caught up with the log found at
    startup; 503 otherwise. With standbys, their states (a standby down leaves it 200)."""
    services: Services = current_app.extensions["timeline"]
    healthy = services.is_healthy()
    body: dict[str, object] = {"status": "ok" if healthy else "unavailable"}
    if services.reads.enabled:  # each standby as last checked; reads skip those not up
        body["standbys"] = [
            {"name": s.name, "state": s.state, "lag_seconds": s.lag_seconds}
            for s in services.reads.statuses()
        ]
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    return response
