"""The corpus of bad requests in corpus.json, sent to a real server over HTTP.

Each must get a 4xx answer in problem+json, leave the server answering, and write nothing.
Separately, SQL and HTML in free-text fields are valid text: they are stored as sent and
break nothing.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.e2e.server import Server, create_token, environment, serving

CORPUS = json.loads(Path(__file__).with_name("corpus.json").read_text(encoding="utf-8"))["requests"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("hostile")
    env = environment(None)
    token = create_token(env, cwd, "hostile")
    with serving(env, cwd) as server:
        yield server, token


def body_of(case: dict) -> bytes | None:
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


def send(server: Server, case: dict, token: str) -> tuple[int, dict[str, str], bytes]:
    target = urlparse(server.base)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    headers = dict(case["headers"])
    body = body_of(case)
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    if case["auth"]:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(case["method"], case["path"], body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def event_count(server: Server) -> int:
    return sum(o["version"] for o in server.get("/api/organisations").json()["organisations"])


def test_the_corpus_holds_at_least_fifty_bad_requests_of_every_kind():
    assert len(CORPUS) >= 50
    assert len({case["name"] for case in CORPUS}) == len(CORPUS)
    assert sum(case["method"] == "GET" for case in CORPUS) >= 10


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_a_bad_request_gets_a_problem_and_writes_nothing(served, case):
    server, token = served
    before = event_count(server)
    status, headers, body = send(server, case, token)
    assert 400 <= status < 500, (status, body[:300])
    content_type = {k.lower(): v for k, v in headers.items()}["content-type"]
    assert content_type.startswith("application/problem+json"), content_type
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert server.get("/healthz").status == 200
    assert event_count(server) == before


def test_sql_and_html_in_free_text_are_stored_as_sent_and_break_nothing(served):
    server, token = served
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
    stored = server.get(f"/api/organisations/cicopa/events/{created.json()['id']}").json()
    assert {k: stored[k] for k in payload} == payload
    assert event_count(server) == before + 1
    page = server.get("/organisations/cicopa/at/1999").body.decode()
    assert "<script>alert('x')</script>" not in page and "&lt;script&gt;" in page
    assert server.get("/api/people/bobby-tables").json()["name"] == hostile
