"""Operations: request ids, metrics, limits on request heads, and health."""

from __future__ import annotations

import re

from api.app import create_app
from timeline.bootstrap import build
from timeline.config import Config


def test_every_response_carries_a_request_id_and_keeps_a_sane_given_one(client):
    assert client.get("/healthz").headers["X-Request-ID"]
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers[
        "X-Request-ID"
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)


def test_metrics_count_requests_appends_and_the_read_models_lag(client, auth):
    client.get("/api/organisations")
    client.get("/api/nothing")
    payload = {"type": "milestone", "occurred_on": "2001", "data": {"headline": "x"}}
    assert (
        client.post("/api/organisations/cicopa/events", json=payload, headers=auth).status_code
        == 201
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'timeline_http_requests_total{method="GET",route="/api/organisations",status="200"}' in text
    )
    assert 'route="unmatched",status="404"' in text
    assert re.search(r'timeline_events_appended_total\{type="milestone"\} [1-9]', text)
    assert "timeline_http_request_duration_seconds_bucket" in text
    assert "timeline_read_model_lag_events 0.0" in text


def _sample(text: str, name: str, labels: str) -> float:
    found = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_add_up_every_request_and_its_time(client):
    """Each request counts once, whether its metric was made already or not."""
    listing, events = (
        '{method="GET",route="/api/organisations"',
        '{method="GET",route="/api/organisations/<string:org>/events"',
    )
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        client.get("/api/organisations")
    client.get("/api/organisations/nobody-here/events")
    after = client.get("/metrics").get_data(as_text=True)

    def grew(name: str, labels: str) -> float:
        return _sample(after, name, labels) - _sample(before, name, labels)

    total = "timeline_http_requests_total"
    assert grew(total, f'{listing},status="200"}}') == 3
    assert grew(total, f'{events},status="404"}}') == 1
    count = "timeline_http_request_duration_seconds_count"
    assert grew(count, f"{listing}}}") == 3 and grew(count, f"{events}}}") == 1


def test_oversized_request_heads_are_refused_as_problems(client):
    too_long = client.get("/api/organisations?" + "a" * 5000)
    assert (too_long.status_code, too_long.mimetype) == (414, "application/problem+json")
    big_header = client.get("/api/organisations", headers={"X-Big": "a" * 9000})
    assert (big_header.status_code, big_header.mimetype) == (431, "application/problem+json")
    many = client.get("/api/organisations", headers={f"X-H{i}": "v" for i in range(120)})
    assert many.status_code == 431


def test_healthz_is_503_when_the_database_is_gone(postgres):
    url = postgres.create()
    services = build(Config(database_url=url))
    client = create_app(services).test_client()
    assert client.get("/healthz").status_code == 200
    postgres.drop(url)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert client.get("/api/organisations").status_code == 503
    services.close()
