"""Hostile requests through Flask's test client, on SQLite and PostgreSQL: a NUL in the path or
the query, a malformed Host, unknown methods in the metrics, bad source URLs, cursors used with
another query, known_at in forms RFC 3339 does not have; and the headers every answer carries.

tests/hostile/ sends the same classes to a real server process.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.api.test_api import assert_problem, post

PAGES = [
    "/",
    "/organisations/cicopa",
    "/organisations/cicopa?type=milestone&from=1990&to=2020",
    "/organisations/cicopa/at/1998",
    "/organisations/cicopa/at/2020?compare=1998",
    "/people/marian-rybar",
    "/api/docs",
    "/organisations/nobody",
]
ENDPOINTS = [
    "/api/organisations",
    "/api/organisations/cicopa/state?at=1998",
    "/api/organisations/cicopa/events?limit=1",
    "/api/organisations/cicopa/diff?from=1990&to=2020",
    "/api/organisations/cicopa/timelinejs",
    "/api/timeline?org=cicopa",
    "/api/people/marian-rybar",
    "/api/openapi.json",
    "/healthz",
    "/metrics",
    "/api/nothing",
]
NUL_REQUESTS = [
    "/api/organisations/cic%00opa/state",
    "/api/organisations/%00/timelinejs",
    "/api/organisations/cicopa/events/%00",
    "/api/organisations/cicopa/events/6f1e8a3c-0000-4000-8000-000000000000%00",
    "/api/people/%00",
    "/api/organisations/cicopa/state?at=19%0098",
    "/api/organisations/cicopa/state?known_at=2026-01-01T00:00:00Z%00",
    "/api/organisations/cicopa/events?type=milestone%00",
    "/api/organisations/cicopa/events?cursor=%00",
    "/api/organisations/cicopa/events?x%00=1",
    "/api/timeline?org=cicopa%00",
    "/api/organisations/cicopa/diff?from=%00&to=1998",
    "/organisations/%00",
    "/organisations/cicopa?type=%00&from=%00",
    "/organisations/cicopa/at/%00",
    "/organisations/cicopa/at/1998?compare=%00",
    "/people/a%00",
    "/api/docs/assets/%00",
]
MALFORMED_HOSTS = ["a..b", "..", "[", "[::1", "a b", "host:port:x", "é" * 70, "-", "%00", ""]
SOURCE = {"title": "A page"}
MILESTONE = {"type": "milestone", "occurred_on": "2004", "data": {"headline": "A congress"}}


@pytest.fixture
def history(client, auth) -> dict:
    founded = {"type": "founded", "occurred_on": "1947", "data": {"name": "CICOPA"}}
    rybar = {
        "type": "office_holder_appointed",
        "occurred_on": "1998",
        "data": {"role": "President", "person": {"id": "marian-rybar", "name": "Marian Rybar"}},
    }
    events = {"founded": post(client, founded, auth).get_json()}
    events["rybar"] = post(client, rybar, auth).get_json()
    for year in ("2001", "2002", "2003"):
        post(client, {**MILESTONE, "occurred_on": year}, auth)
        post(client, {**MILESTONE, "occurred_on": year}, auth, org="cecop")
    return events


# --- a NUL anywhere in the path or the query ------------------------------------------------


def test_a_nul_anywhere_in_the_path_or_query_is_400_on_pages_and_endpoints(client, history):
    for path in NUL_REQUESTS:
        response = client.get(path)
        assert response.status_code == 400, path
        expected = "text/html" if path.startswith(("/organisations", "/people")) else None
        assert response.mimetype == (expected or "application/problem+json"), path


def test_a_nul_in_the_path_of_a_write_is_400_and_writes_nothing(client, auth, history):
    response = post(client, MILESTONE, auth, org="cic%00opa")
    assert_problem(response, 400)
    listed = client.get("/api/organisations").get_json()["organisations"]
    assert sum(o["version"] for o in listed) == 8


def test_an_idempotency_key_with_a_control_character_is_422_naming_it(client, auth):
    response = post(client, MILESTONE, auth, **{"Idempotency-Key": "key\x01"})
    assert set(assert_problem(response, 422)["errors"]) == {"Idempotency-Key"}


# --- a malformed Host --------------------------------------------------------------------------


def test_a_malformed_host_is_never_a_server_error_on_any_page_or_endpoint(client, history):
    for host in MALFORMED_HOSTS:
        for path in PAGES + ENDPOINTS:
            response = client.get(path, headers={"Host": host})
            assert response.status_code < 500, (host, path, response.status_code)


def test_a_host_that_cannot_be_a_name_gets_a_400_page_or_problem(client, history):
    page = client.get("/organisations/cicopa", headers={"Host": "a..b"})
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "<h1>400" in page.get_data(as_text=True)
    assert_problem(client.get("/api/organisations", headers={"Host": "a..b"}), 400)


@pytest.mark.parametrize(
    "path", ["/api//organisations", "/static//style.css", "/organisations/cicopa/"]
)
def test_no_redirect_is_built_from_the_host_header(client, history, path):
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code in (200, 404) and "Location" not in response.headers


# --- the headers every answer carries ----------------------------------------------------------


def test_every_response_says_nosniff_and_a_referrer_policy(client, auth, history):
    responses = [client.get(path) for path in PAGES + ENDPOINTS]
    responses += [
        client.get("/static/style.css"),
        client.get("/api/docs/assets/swagger-ui-bundle.js"),
        client.delete("/api/organisations"),
        client.get("/api/organisations/cicopa/state?at=1998-13"),
        client.get("/organisations/cicopa%00"),
        post(client, MILESTONE, auth),
        post(client, MILESTONE, {}),
    ]
    for response in responses:
        response.close()  # the files served are read lazily
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.request.path
        assert response.headers["Referrer-Policy"], response.request.path


class Scripts(HTMLParser):
    """Collects a page's inline scripts and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            source = dict(attrs).get("src")
            self._in_script = source is None
            if source:
                self.sources.append(source)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def test_every_page_has_a_policy_against_inline_script_and_framing_and_no_inline_script(
    client, history
):
    for path in PAGES:
        response = client.get(path)
        assert response.mimetype == "text/html", path
        policy = dict(
            part.strip().split(" ", 1)
            for part in response.headers["Content-Security-Policy"].split(";")
        )
        assert policy["frame-ancestors"] == "'none'"
        assert "'unsafe-inline'" not in policy["script-src"]
        assert "'unsafe-eval'" not in policy["script-src"]
        scripts = Scripts()
        scripts.feed(response.get_data(as_text=True))
        assert (scripts.inline, scripts.handlers) == ([], []), path


def test_the_api_docs_start_swagger_ui_from_a_script_file_of_the_service(client):
    page = client.get("/api/docs")
    scripts = Scripts()
    scripts.feed(page.get_data(as_text=True))
    assert scripts.sources[-1] == "/static/swagger-ui-start.js"
    for source in scripts.sources:
        with client.get(source) as script:
            assert script.status_code == 200 and script.mimetype in (
                "application/javascript",
                "text/javascript",
            )
    container = re.search(r'<div id="swagger-ui-container"[^>]*>', page.get_data(as_text=True))
    assert container and 'data-spec-url="/api/openapi.json"' in container.group(0)


def test_json_answers_carry_no_page_policy(client, history):
    assert "Content-Security-Policy" not in client.get("/api/organisations").headers


# --- /metrics labels ---------------------------------------------------------------------------


def test_unknown_methods_are_counted_under_one_label_in_the_metrics(client):
    for method in ("FOO", "BAR", "PURGE", "X" * 200):
        response = client.open("/api/organisations", method=method)
        assert response.status_code == 405
    client.open("/api/nothing", method="BAZ")
    text = client.get("/metrics").get_data(as_text=True)
    methods = set(re.findall(r'timeline_http_requests_total\{method="([^"]*)"', text))
    assert "OTHER" in methods and methods <= {"GET", "HEAD", "POST", "DELETE", "OTHER"}
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert all(route == "unmatched" or route.startswith("/") for route in routes)
    assert "/api/nothing" not in routes
    statuses = set(re.findall(r'status="([^"]*)"', text))
    assert all(re.fullmatch(r"[1-5][0-9][0-9]", status) for status in statuses)


# --- source URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        'https://example.org/?q="><script>alert(1)</script>',
        "https://example.org/a b",
        "javascript:alert(1)",
        "https://exa mple.org/",
        "https://example.org:99999/",
        "https://été.example/",
        "//example.org/",
    ],
)
def test_a_source_url_that_is_not_a_valid_http_url_is_422_naming_it(client, auth, url):
    payload = {**MILESTONE, "sources": [SOURCE, {**SOURCE, "url": url}]}
    body = assert_problem(post(client, payload, auth), 422)
    assert set(body["errors"]) == {"sources.1.url"}
    assert client.get("/api/organisations").get_json()["organisations"] == []


def test_a_valid_source_url_is_printed_escaped_on_pages_and_in_timelinejs(client, auth, history):
    url = "https://example.org/a?b=1&c='d'#e"
    assert post(client, {**MILESTONE, "sources": [{**SOURCE, "url": url}]}, auth).status_code == 201
    page = client.get("/organisations/cicopa").get_data(as_text=True)
    assert 'href="https://example.org/a?b=1&amp;c=%27d%27#e"' in page
    document = client.get("/api/organisations/cicopa/timelinejs").get_json()
    slide = next(e for e in document["events"] if e.get("media", {}).get("link"))
    assert slide["media"]["link"] == "https://example.org/a?b=1&c=%27d%27#e"
    assert '<a href="https://example.org/a?b=1&amp;c=%27d%27#e"' in slide["text"]["text"]


# --- cursors belong to their query -------------------------------------------------------------


def _next(client, path: str) -> str:
    cursor: str = client.get(path).get_json()["next"]
    assert cursor
    return cursor


def test_a_cursor_resumes_its_own_query_whatever_the_limit(client, history):
    cursor = _next(client, "/api/organisations/cicopa/events?type=milestone&limit=1")
    page = client.get(f"/api/organisations/cicopa/events?type=milestone&limit=5&cursor={cursor}")
    assert [e["occurred_on"] for e in page.get_json()["events"]] == ["2002", "2003"]


@pytest.mark.parametrize(
    ("made_by", "used_with"),
    [
        ("/api/organisations/cicopa/events?limit=1", "/api/organisations/cecop/events?"),
        (
            "/api/organisations/cicopa/events?limit=1",
            "/api/organisations/cicopa/events?type=milestone&",
        ),
        ("/api/organisations/cicopa/events?limit=1&from=2001", "/api/organisations/cicopa/events?"),
        ("/api/organisations/cicopa/events?limit=1", "/api/organisations/cicopa/events?to=2002&"),
        (
            "/api/organisations/cicopa/events?limit=1",
            "/api/organisations/cicopa/events?include_retracted=true&",
        ),
        (
            "/api/organisations/cicopa/events?limit=1",
            "/api/organisations/cicopa/events?known_at=2999-01-01T00:00:00Z&",
        ),
        ("/api/organisations/cicopa/events?limit=1", "/api/timeline?org=cicopa&"),
        ("/api/timeline?org=cicopa&limit=1", "/api/timeline?"),
        ("/api/timeline?org=cicopa&limit=1", "/api/organisations/cicopa/events?"),
        ("/api/timeline?limit=1", "/api/timeline?org=cecop&"),
    ],
)
def test_a_cursor_used_with_another_query_is_400(client, history, made_by, used_with):
    cursor = _next(client, made_by)
    body = assert_problem(client.get(f"{used_with}limit=1&cursor={cursor}"), 400)
    assert "another query" in body["detail"]


# --- known_at is RFC 3339 and nothing else -----------------------------------------------------


@pytest.mark.parametrize(
    "known_at",
    [
        "2026-W01-1T00:00:00Z",  # a week date
        "2026-001T00:00:00Z",  # an ordinal date
        "20260102T030405Z",  # basic format
        "2026-01-02T030405Z",
        "2026-01-02 03:04:05Z",  # a space for T
        "2026-01-02",  # a date alone
        "2026-01-02T03:04Z",  # no seconds
        "2026-01-02T03:04:05",  # no offset
        "2026-01-02T03:04:05+0100",
        "2026-01-02T03:04:05+01",
        "2026-01-02T03:04:05,5Z",  # a comma for the fraction
        "2026-01-02T03:04:05.Z",
        "2026-01-02T24:00:00Z",
        "2026-02-30T00:00:00Z",
        "\uff12\uff10\uff12\uff16-01-02T03:04:05Z",  # digits that are not ASCII
        " 2026-01-02T03:04:05Z",
    ],
)
def test_known_at_in_a_form_rfc_3339_does_not_have_is_422_naming_it(client, history, known_at):
    for path in ("/api/organisations/cicopa/state", "/api/organisations/cicopa/events"):
        response = client.get(path, query_string={"known_at": known_at})
        assert set(assert_problem(response, 422)["errors"]) == {"known_at"}


@pytest.mark.parametrize(
    "known_at",
    [
        "2999-01-02T03:04:05Z",
        "2999-01-02t03:04:05z",
        "2999-01-02T03:04:05.123456789+01:00",
        "2999-01-02T03:04:05.5-08:00",
        "2998-12-31T23:59:60Z",
    ],
)
def test_known_at_in_rfc_3339_is_answered_and_echoed_as_sent(client, history, known_at):
    state = client.get("/api/organisations/cicopa/state", query_string={"known_at": known_at})
    assert state.status_code == 200
    assert state.get_json()["known_at"] == known_at
    assert state.get_json()["office_holders"][0]["person"]["id"] == "marian-rybar"
    diff = client.get(
        "/api/organisations/cicopa/diff",
        query_string={"from": "1990", "to": "2000", "known_at": known_at},
    )
    assert diff.get_json()["known_at"] == known_at
