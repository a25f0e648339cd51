"""`timeline serve` as a new user starts it, talked to over real HTTP on loopback."""

from __future__ import annotations

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.e2e.server import cli, create_token, environment, serving


def test_a_first_start_on_the_embedded_default_serves_the_cicopa_history(tmp_path):
    env = environment(None)
    with serving(env, tmp_path) as server:
        state = server.get("/api/organisations/cicopa/state?at=1998").json()
        assert [
            h["person"]["name"] for h in state["office_holders"] if h["role"] == "President"
        ] == ["Marian Rybar"]
        assert state["figures"]["member_organisations"]["value"] == 65
    assert (tmp_path / "timeline.db").exists()
    with serving(env, tmp_path) as server:  # a second start seeds nothing more
        assert len(server.get("/api/organisations/cicopa/events?limit=1000").json()["events"]) == 89


def test_each_request_is_logged_once_as_a_json_line_with_its_request_id(tmp_path):
    env = environment(None)
    log = tmp_path / "server.log"
    with serving(env, tmp_path, log=log) as server:
        assert server.get("/api/organisations/cicopa/state?at=1998").status == 200
        assert server.get("/api/nothing", headers={"X-Request-ID": "find-me-1"}).status == 404
        refused = b"POST /api/refused HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
        assert _raw_answer(server.base, refused)[0] == 501
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "timeline.access"]
    found = [line for line in access if line.get("request_id") == "find-me-1"]
    assert len(found) == 1
    assert found[0]["path"] == "/api/nothing" and found[0]["status"] == 404
    assert found[0]["level"] == "info" and found[0]["duration_ms"] >= 0
    assert sum(line["path"] == "/api/organisations/cicopa/state" for line in access) == 1
    # A request the server refuses before the app sees it is logged once too, by the server.
    assert [(line["path"], line["status"]) for line in access if line.get("refused_by")] == [
        (None, 501)
    ]
    assert {line["logger"] for line in lines} <= {"timeline", "timeline.access", "timeline.server"}
    assert "find-me-1" not in "".join(
        line for line in log.read_text().splitlines() if not line.startswith("{")
    )


def _ask_on_one_connection(base: str, times: int) -> list[tuple[int, str | None, bool]]:
    """GET the state `times` times over one HTTP/1.1 connection: each answer's status, its
    Connection header, and whether the server had closed the connection after it."""
    address = urlsplit(base)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    answers = []
    for _ in range(times):
        conn.request("GET", "/api/organisations/cicopa/state?at=1998")
        response = conn.getresponse()
        response.read()
        answers.append((response.status, response.getheader("Connection"), conn.sock is None))
        if conn.sock is None:
            break
    conn.close()
    return answers


def test_a_connection_is_kept_alive_for_a_limited_number_of_requests(tmp_path):
    env = environment(None)
    with serving(env, tmp_path, "--keepalive-requests", "3") as server:
        assert _ask_on_one_connection(server.base, 5) == [
            (200, None, False),
            (200, None, False),
            (200, "close", True),  # the third request is the connection's last
        ]


def test_keepalive_zero_closes_each_connection_after_one_answer(tmp_path):
    env = environment(None)
    with serving(env, tmp_path, "--keepalive", "0") as server:
        assert _ask_on_one_connection(server.base, 2) == [(200, "close", True)]


def _raw_answer(base: str, raw: bytes) -> tuple[int, str, dict]:
    """Send `raw` bytes as a request and read the answer: its status, its content type, and
    its JSON body."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(raw)
        reader = sock.makefile("rb")
        status_line = reader.readline().decode("latin-1")
        headers = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.lower()] = value.strip()
        body = reader.read(int(headers["content-length"]))
    return int(status_line.split()[1]), headers["content-type"], json.loads(body)


UNREADABLE = {
    "not HTTP": (b"NOT HTTP AT ALL\r\n\r\n", 400),
    "HTTP/9.9": (b"GET /api/organisations HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    "a method not in ASCII": ("GÉT / HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"), 400),
    "a bad header name": (b"GET /api/organisations HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
    "a long request line": (b"GET /api/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "a huge head": (
        b"GET /api/organisations HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        431,
    ),
    "no Host": (b"GET /api/organisations HTTP/1.1\r\n\r\n", 400),
    "two lengths": (
        b"POST /api/organisations/x/events HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        400,
    ),
}
"""Requests refused before or as the app reads them (timeline.front, the app's own limits), with
the status they get."""


def test_a_request_the_server_cannot_read_is_refused_as_problem_details(tmp_path):
    env = environment(None)
    with serving(env, tmp_path) as server:
        details = {}
        for case, (raw, status) in UNREADABLE.items():
            got, content_type, body = _raw_answer(server.base, raw)
            assert (got, content_type) == (status, "application/problem+json"), case
            assert body["status"] == status and body["type"] == "about:blank", case
            assert body["title"] and body["detail"], case
            details[case] = body["detail"]
        assert details["a method not in ASCII"] == "illegal request line: G\\xc9T / HTTP/1.1"
        assert server.get("/api/organisations/cicopa/state?at=1998").status == 200


@pytest.mark.postgres
def test_appends_and_questions_over_http_on_postgres(tmp_path, postgres_url):
    env = environment(postgres_url)
    token = create_token(env, tmp_path, "e2e writer")
    auth = {"Authorization": f"Bearer {token}"}
    with serving(env, tmp_path, "--workers", "2") as server:
        assert server.get("/api/organisations").json() == {"organisations": []}
        founded = {"type": "founded", "occurred_on": "1947", "data": {"name": "CICOPA"}}
        assert server.post("/api/organisations/cicopa/events", founded).status == 401
        created = server.post(
            "/api/organisations/cicopa/events", founded, headers={**auth, "Idempotency-Key": "one"}
        )
        assert created.status == 201
        assert created.headers["ETag"] == '"1"'
        replay = server.post(
            "/api/organisations/cicopa/events", founded, headers={**auth, "Idempotency-Key": "one"}
        )
        assert replay.json() == created.json()
        stale = server.post(
            "/api/organisations/cicopa/events", founded, headers={**auth, "If-Match": '"0"'}
        )
        assert stale.status == 412 and stale.headers["Content-Type"] == "application/problem+json"
        bad = server.request(
            "POST",
            "/api/organisations/cicopa/events",
            raw=b"{nope",
            headers={**auth, "Content-Type": "application/json"},
        )
        assert bad.status == 400
        assert server.get("/api/organisations/cicopa/state?at=1950").json()["name"] == "CICOPA"
        assert created.json()["recorded_by"] == "e2e writer"
    exported = cli(["export"], env, tmp_path).stdout.splitlines()
    assert [json.loads(line)["id"] for line in exported] == [created.json()["id"]]


def _read_answer(reader) -> tuple[int, bytes]:
    """One HTTP/1.1 answer with a Content-Length from a socket's file: its status and body."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, reader.read(length)


def test_a_kept_alive_connection_is_answered_whatever_the_pause_between_requests(tmp_path):
    # The next request, sent at once, after a pause, or in one packet with another (pipelined),
    # is answered all the same, in order.
    env = environment(None)
    with serving(env, tmp_path, "--workers", "1", "--threads", "2") as server:
        address = urlsplit(server.base)
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            reader = sock.makefile("rb")
            answers = []
            for pause, year in ((0, 1998), (0.0005, 2005), (0.005, 2010), (0.2, 2017)):
                time.sleep(pause)  # after the last answer
                sock.sendall(
                    f"GET /api/organisations/cicopa/state?at={year} HTTP/1.1\r\n"
                    "Host: x\r\n\r\n".encode()
                )
                answers.append(_read_answer(reader))
            sock.sendall(
                b"GET /api/organisations/cicopa/state?at=1990 HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /api/organisations/cicopa/state?at=2000 HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            answers += [_read_answer(reader), _read_answer(reader)]
            sock.sendall(  # the next one's first half in the same packet, its rest after
                b"GET /api/organisations/cicopa/state?at=1980 HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /api/organisations/cicopa/state?at=1985 HTTP/1.1\r\nHo"
            )
            answers.append(_read_answer(reader))
            time.sleep(0.2)
            sock.sendall(b"st: x\r\n\r\n")
            answers.append(_read_answer(reader))
    assert [status for status, _ in answers] == [200] * 8
    assert [json.loads(body)["at"] for _, body in answers] == [
        "1998",
        "2005",
        "2010",
        "2017",
        "1990",
        "2000",
        "1980",
        "1985",
    ]
