"""The corpus of hostile requests in corpus.json, sent to a real server process on an SQLite
file and on PostgreSQL.

Each bad request must get the status its case names (by default a 4xx) as problem+json (or an
HTML page, for pages), with the headers every answer carries, leave the server answering, and
write nothing. Requests that look hostile but are valid (`accepted`) are answered, and a write
among them is stored. Afterwards the export (`timeline export`) holds every acknowledged event
once and nothing else. Free text that looks like SQL or HTML is stored as sent.

Requests that `http.client` would refuse to send (a raw NUL, a malformed or doubled `Host`) are
written to a socket by hand; the HTTP server may then refuse them itself (as it may a method of
40 letters), so for those only the status is required of its answer. Nothing here depends on which server `timeline serve`
runs.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.server import Reply, Server, cli, create_token, environment, serving

CORPUS = json.loads(Path(__file__).with_name("corpus.json").read_text(encoding="utf-8"))
REFUSED: list[dict[str, Any]] = CORPUS["requests"]
ACCEPTED: list[dict[str, Any]] = CORPUS["accepted"]
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}


@dataclass
class Target:
    """A served database, a token for it, and the ids of the events it acknowledged."""

    server: Server
    token: str
    env: dict[str, str]
    cwd: Path
    seeded: set[str]
    acknowledged: list[str] = field(default_factory=list)

    def export(self) -> list[dict[str, Any]]:
        exported = cli(["export"], self.env, self.cwd)
        assert exported.returncode == 0, exported.stderr
        return [json.loads(line) for line in exported.stdout.splitlines()]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def target(request, tmp_path_factory) -> Iterator[Target]:
    cwd = tmp_path_factory.mktemp(f"hostile-{request.param}")
    url = None
    if request.param == "postgres":
        databases = request.getfixturevalue("postgres")
        url = databases.create()
        request.addfinalizer(lambda: databases.drop(url))
    env = environment(url)
    seeded = cli(["seed"], env, cwd)
    assert seeded.returncode == 0, seeded.stderr
    token = create_token(env, cwd, "hostile")
    with serving(env, cwd, "--no-seed") as server:
        found = Target(server, token, env, cwd, set())
        found.seeded = {event["id"] for event in found.export()}
        yield found


def body_of(case: dict[str, Any]) -> bytes | None:
    if "json" in case:
        return json.dumps(case["json"]).encode()
    if "body" in case:
        return case["body"].encode("utf-8", "surrogatepass")
    if "body_hex" in case:
        return bytes.fromhex(case["body_hex"])
    if "repeat" in case:
        r = case["repeat"]
        if "unit" in r:
            return (r["prefix"] + r["unit"] * r["times"] + r["suffix"]).encode()
        return (r["prefix"] * r["times"] + r.get("middle", "") + r["suffix"] * r["times"]).encode()
    return None


def send(target: Target, case: dict[str, Any]) -> Reply:
    """Send a case as it is written: through http.client, or by hand for `raw` ones."""
    path = case["path"]
    if "cursor_from" in case:
        cursor = target.server.get(case["cursor_from"]).json()["next"]
        assert cursor, case["cursor_from"]
        path = path.replace("{cursor}", cursor)
    headers = dict(case["headers"])
    body = body_of(case)
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    if case["auth"]:
        headers["Authorization"] = f"Bearer {target.token}"
    address = urlparse(target.server.base)
    if case.get("raw"):
        return send_raw(address.hostname or "", address.port or 80, case, path, headers, body)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        conn.request(case["method"], path, body=body, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, _lower(response.getheaders()), response.read())
    finally:
        conn.close()


def send_raw(
    host: str,
    port: int,
    case: dict[str, Any],
    path: str,
    headers: dict[str, str],
    body: bytes | None,
) -> Reply:
    """Write the request line and headers byte for byte (a `Host` of the case's own, if it has
    one), then read the answer."""
    if not any(name.lower() == "host" for name in headers):
        headers = {"Host": f"{host}:{port}", **headers}
    lines = [f"{case['method']} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    lines += ["Connection: close", f"Content-Length: {len(body or b'')}", "", ""]
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall("\r\n".join(lines).encode("utf-8") + (body or b""))
        response = http.client.HTTPResponse(sock, method=case["method"])
        response.begin()
        return Reply(response.status, _lower(response.getheaders()), response.read())


def _lower(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def event_count(server: Server) -> int:
    return sum(o["version"] for o in server.get("/api/organisations").json()["organisations"])


def assert_status(case: dict[str, Any], status: int) -> None:
    expected = case.get("status")
    if expected == "not 5xx":
        assert 200 <= status < 500, status
    elif expected is not None:
        assert status in expected, (status, expected)
    else:
        assert 400 <= status < 500, status


def assert_protected(answer: Reply) -> None:
    """The headers every answer carries, and the policy every page carries."""
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"]
    if answer.headers["content-type"].startswith("text/html"):
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        script_src = re.search(r"script-src ([^;]*)", policy)
        assert script_src and "'unsafe-inline'" not in script_src.group(1)


def test_the_corpus_holds_every_class_of_hostile_request():
    assert len(REFUSED) >= 200 and len(ACCEPTED) >= 5
    assert len({case["name"] for case in REFUSED + ACCEPTED}) == len(REFUSED + ACCEPTED)
    for marker in ("NUL", "Host", "unknown method", "source URL", "cursor", "known_at"):
        assert sum(marker in case["name"] for case in REFUSED) >= 5, marker


@pytest.mark.parametrize("case", REFUSED, ids=[case["name"] for case in REFUSED])
def test_a_hostile_request_is_refused_as_the_contract_says_and_writes_nothing(target, case):
    server = target.server
    before = event_count(server)
    answer = send(target, case)
    assert_status(case, answer.status)
    host = next((v for k, v in case["headers"].items() if k.lower() == "host"), None)
    if host and "location" in answer.headers:  # no redirect is built from the Host header
        assert host not in answer.headers["location"], answer.headers["location"]
    by_app = "x-request-id" in answer.headers  # not refused by the HTTP server itself
    if by_app or not (case.get("raw") or case.get("server_may_refuse")):
        assert_protected(answer)
        content_type = answer.headers["content-type"]
        if case.get("page"):
            assert content_type.startswith("text/html"), content_type
        elif answer.status >= 400:
            assert content_type.startswith("application/problem+json"), content_type
            problem = answer.json()
            assert problem["status"] == answer.status and problem["title"] and problem["detail"]
            assert set(case.get("errors", [])) <= set(problem.get("errors", {})), problem
    assert server.get("/healthz").status == 200
    assert event_count(server) == before


@pytest.mark.parametrize("case", ACCEPTED, ids=[case["name"] for case in ACCEPTED])
def test_a_hostile_looking_but_valid_request_is_answered(target, case):
    answer = send(target, case)
    assert answer.status == case["status"], answer.body[:300]
    assert_protected(answer)
    body = answer.json()
    assert {k: body[k] for k in case.get("echo", {})} == case.get("echo", {})
    if answer.status == 201:
        target.acknowledged.append(body["id"])
        stored = target.server.get(answer.headers["location"]).json()
        assert {k: stored[k] for k in case["json"]} == case["json"]


def test_sql_and_html_in_free_text_are_stored_as_sent_and_break_nothing(target):
    server, token = target.server, target.token
    hostile = "Robert'); DROP TABLE tl_events;-- <script>alert('x')</script> \" OR 1=1 --"
    payload = {
        "type": "office_holder_appointed",
        "occurred_on": "1999",
        "data": {"role": hostile, "person": {"id": "bobby-tables", "name": hostile}},
        "sources": [{"title": hostile, "quote": hostile, "file": hostile}],
        "note": hostile,
    }
    before = event_count(server)
    created = server.post(
        "/api/organisations/cicopa/events", payload, headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status == 201
    target.acknowledged.append(created.json()["id"])
    stored = server.get(f"/api/organisations/cicopa/events/{created.json()['id']}").json()
    assert {k: stored[k] for k in payload} == payload
    assert event_count(server) == before + 1
    page = server.get("/organisations/cicopa/at/1999").body.decode()
    assert "<script>alert('x')</script>" not in page and "&lt;script&gt;" in page
    assert server.get("/api/people/bobby-tables").json()["name"] == hostile


def test_the_metrics_name_each_method_route_and_status_from_a_bounded_set(target):
    text = target.server.get("/metrics").body.decode()
    labels = re.findall(r"^timeline_http_requests_total\{([^}]*)\}", text, re.M)
    assert labels
    for found in labels:
        values = dict(re.findall(r'(\w+)="([^"]*)"', found))
        assert values["method"] in KNOWN_METHODS, values
        assert values["route"] == "unmatched" or "%" not in values["route"], values
        assert re.fullmatch(r"[1-5][0-9][0-9]", values["status"]), values
    assert any('method="OTHER"' in found for found in labels)
    assert not any("/no-such-page" in found or "cicopa" in found for found in labels)


def test_the_export_holds_every_acknowledged_event_once_and_nothing_refused(target):
    """Run last: by then every case above has been sent to this database."""
    exported = [event["id"] for event in target.export()]
    assert len(exported) == len(set(exported))
    assert set(exported) == target.seeded | set(target.acknowledged)
    assert len(exported) == len(target.seeded) + len(target.acknowledged)
