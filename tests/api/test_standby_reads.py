"""Reads from standbys, as the web app sees them on the machine's PostgreSQL: the position of
writes, a malformed position, and standbys that are not there or are not standbys (reads then
go to the primary). tests/e2e/test_standbys.py runs real hot standbys."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from timeline.bootstrap import Services, build
from timeline.config import Config
from timeline.standbys import parse_position

FIGURE = {"type": "figures_reported", "occurred_on": "2020", "data": {"figures": {"n": 1}}}


def test_a_malformed_position_is_400_even_without_standbys(client, auth):
    assert client.post("/api/organisations/acme/events", json=FIGURE, headers=auth).status_code
    for bad in ("yesterday", "0/", "1/2/3", "0/123456789"):
        reply = client.get("/api/organisations/acme/state", headers={"Timeline-Position": bad})
        assert reply.status_code == 400
        assert reply.mimetype == "application/problem+json"
        assert reply.json["type"] == "/api/problems/invalid-position"


def test_without_standbys_writes_carry_no_position_and_positions_are_read_from_the_primary(
    client, auth
):
    written = client.post("/api/organisations/acme/events", json=FIGURE, headers=auth)
    assert written.status_code == 201
    assert "Timeline-Position" not in written.headers
    assert "standbys" not in client.get("/healthz").json
    state = client.get("/api/organisations/acme/state", headers={"Timeline-Position": "0/1"})
    assert state.status_code == 200
    assert state.json["figures"]["n"]["value"] == 1


@pytest.fixture
def not_a_standby(postgres_url: str) -> Iterator[Services]:
    """The service with its own primary named as its standby: a database not in recovery."""
    built = build(Config(database_url=postgres_url, read_database_urls=(postgres_url,)))
    yield built
    built.close()


@pytest.mark.postgres
def test_a_database_that_is_not_a_standby_is_down_and_the_primary_answers(not_a_standby):
    client: FlaskClient = create_app(not_a_standby).test_client()
    auth = {"Authorization": f"Bearer {not_a_standby.tokens.create('writer')}"}
    written = client.post("/api/organisations/acme/events", json=FIGURE, headers=auth)
    assert written.status_code == 201
    position = written.headers["Timeline-Position"]
    assert parse_position(position) > 0
    cookie = written.headers["Set-Cookie"]
    assert cookie.startswith(f"timeline_position={position};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    health = client.get("/healthz")
    assert health.status_code == 200
    (standby,) = health.json["standbys"]
    assert standby["state"] == "down" and standby["lag_seconds"] is None
    assert "@" not in standby["name"] and standby["name"].endswith(
        not_a_standby.config.database_url.rsplit("/", 1)[1]
    )

    state = client.get("/api/organisations/acme/state", headers={"Timeline-Position": position})
    assert state.status_code == 200 and state.json["figures"]["n"]["value"] == 1
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'timeline_standby_up{{standby="{standby["name"]}"}} 0.0' in metrics
    assert 'timeline_read_requests_total{source="primary"}' in metrics


@pytest.mark.postgres
def test_a_standby_that_accepts_no_connection_is_down(postgres_url):
    with socket.socket() as silent:  # listens, never answers: libpq's connect_timeout ends it
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        standby = f"postgresql+psycopg://reader@127.0.0.1:{port}/timeline"
        built = build(Config(database_url=postgres_url, read_database_urls=(standby,)))
        try:
            built.reads.start()
            (status,) = built.reads.statuses()
            assert (status.name, status.state) == (f"127.0.0.1:{port}/timeline", "down")
            route = built.reads.begin(None)
            assert built.queries.organisations() == []
            assert built.reads.read_from() == "primary"
            built.reads.end(route)
        finally:
            built.close()
