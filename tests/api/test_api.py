"""Every endpoint and every error status of the contract, through Flask's test client.

Each test runs on an SQLite file and on PostgreSQL (the `services` fixture).
"""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.http import generate_etag

from timeline.bootstrap import Services

EVENTS = "/api/organisations/cicopa/events"
FOUNDED = {
    "type": "founded",
    "occurred_on": "1947",
    "data": {"name": "CICOPA", "acronym": "CICOPA"},
}
RYBAR = {
    "type": "office_holder_appointed",
    "occurred_on": "1998",
    "data": {"role": "President", "person": {"id": "marian-rybar", "name": "Marian Rybar"}},
    "sources": [
        {
            "title": "What is CICOPA? (1998)",
            "file": "003_8246a2747768bb40.txt",
            "quote": "President : Mr. Marian Rybar",
        }
    ],
    "note": "the document gives only the year",
}


def stored_count(services: Services) -> int:
    return services.app.recorder.max_notification_id() or 0


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def post(client, payload, auth, org="cicopa", **headers):
    return client.post(
        f"/api/organisations/{org}/events", json=payload, headers={**auth, **headers}
    )


# --- appending -----------------------------------------------------------------------------


def test_an_append_returns_201_with_the_stored_event_location_and_etag(client, auth):
    response = post(client, RYBAR, auth)
    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in ("type", "occurred_on", "data", "sources", "note")} == RYBAR
    assert (body["organisation"], body["version"], body["status"]) == ("cicopa", 1, "active")
    assert body["recorded_by"] == "api tester"
    assert response.headers["Location"] == f"{EVENTS}/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert client.get(response.headers["Location"]).get_json() == body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer tl_0000000000000000_wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
def test_a_write_without_a_valid_token_is_401_and_writes_nothing(client, services, headers):
    response = client.post(EVENTS, json=FOUNDED, headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored_count(services) == 0


def test_another_content_type_is_415(client, auth, services):
    response = client.post(
        EVENTS, data=json.dumps(FOUNDED), headers={**auth, "Content-Type": "text/plain"}
    )
    assert_problem(response, 415)
    response = client.post(EVENTS, data={"type": "founded"}, headers=auth)
    assert_problem(response, 415)
    assert stored_count(services) == 0


def test_a_body_over_64_kib_is_413(client, auth, services):
    big = {**FOUNDED, "note": "x" * (64 * 1024)}
    assert_problem(post(client, big, auth), 413)
    assert stored_count(services) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"NaN",
        b'{"type": "founded", "occurred_on": "1947", "data": {"name": Infinity}}',
        b"\xff\xfe{}",
        b"",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_a_body_that_is_not_json_is_400(client, auth, services, raw):
    response = client.post(EVENTS, data=raw, headers={**auth, "Content-Type": "application/json"})
    assert_problem(response, 400)
    assert stored_count(services) == 0


def test_an_invalid_event_is_422_naming_each_bad_field_and_writes_nothing(client, auth, services):
    payload = {
        "type": "office_holder_appointed",
        "occurred_on": "2005-02-30",
        "data": {"role": "", "person": {"id": "Bad Id"}},
        "sources": [{"url": "javascript:alert(1)"}],
        "extra": 1,
    }
    body = assert_problem(post(client, payload, auth), 422)
    assert set(body["errors"]) == {
        "occurred_on",
        "data.role",
        "data.person.id",
        "data.person.name",
        "sources.0.title",
        "sources.0.url",
        "extra",
    }
    assert "Feb 2005 has 28 days" in body["errors"]["occurred_on"]
    assert stored_count(services) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {
            "type": "retracted",
            "occurred_on": "2000",
            "data": {"event_id": "7e1bd1c3-6f0f-4f53-9c43-4e1a1f8f1a11", "reason": "x"},
        },
        {
            "type": "retracted",
            "data": {"event_id": "7e1bd1c3-6f0f-4f53-9c43-4e1a1f8f1a11", "reason": "x"},
        },
        {"type": "nonsense", "occurred_on": "2000"},
        {"type": "founded", "occurred_on": "2000", "data": {"name": "A\u0000B"}},
        [FOUNDED],
        "founded",
    ],
)
def test_events_the_contract_refuses_are_422(client, auth, services, payload):
    assert_problem(post(client, payload, auth), 422)
    assert stored_count(services) == 0


def test_a_stale_if_match_is_412_and_writes_nothing(client, auth, services):
    post(client, FOUNDED, auth)
    assert post(client, RYBAR, auth, **{"If-Match": '"1"'}).status_code == 201
    assert_problem(post(client, RYBAR, auth, **{"If-Match": '"1"'}), 412)
    assert_problem(post(client, RYBAR, auth, **{"If-Match": 'W/"2"'}), 412)
    assert_problem(post(client, RYBAR, auth, **{"If-Match": "version two"}), 400)
    assert stored_count(services) == 2
    assert post(client, RYBAR, auth, **{"If-Match": '"2"'}).headers["ETag"] == '"3"'
    assert_problem(post(client, FOUNDED, auth, org="new-org", **{"If-Match": "*"}), 412)


def test_an_idempotency_key_replays_the_first_response(client, services, auth):
    first = post(client, FOUNDED, auth, **{"Idempotency-Key": "abc-1"})
    again = post(client, FOUNDED, auth, **{"Idempotency-Key": "abc-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stored_count(services) == 1
    reused = assert_problem(post(client, RYBAR, auth, **{"Idempotency-Key": "abc-1"}), 422)
    assert "Idempotency-Key" in reused["errors"]
    other = {"Authorization": f"Bearer {services.tokens.create('someone else')}"}
    assert (
        post(client, FOUNDED, other, **{"Idempotency-Key": "abc-1"}).get_json()["id"]
        != first.get_json()["id"]
    )
    assert_problem(post(client, FOUNDED, auth, **{"Idempotency-Key": "k" * 256}), 422)
    assert stored_count(services) == 2


def test_concurrent_appends_over_http_all_succeed(app, auth, services):
    statuses: list[int] = []

    def write(n: int) -> None:
        client = app.test_client()
        for i in range(10):
            payload = {"type": "milestone", "occurred_on": "2001", "data": {"headline": f"{n}.{i}"}}
            statuses.append(post(client, payload, auth).status_code)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 60
    assert services.queries.version("cicopa") == 60


# --- reading -------------------------------------------------------------------------------


@pytest.fixture
def history(client, auth) -> dict:
    events = {
        "founded": post(client, FOUNDED, auth).get_json(),
        "rybar": post(client, RYBAR, auth).get_json(),
        "figures": post(
            client,
            {
                "type": "figures_reported",
                "occurred_on": "1998",
                "data": {"figures": {"member_organisations": 65, "countries": 45}},
            },
            auth,
        ).get_json(),
        "mariscal": post(
            client,
            {
                "type": "office_holder_appointed",
                "occurred_on": "2011-11-16",
                "data": {
                    "role": "President",
                    "person": {"id": "manuel-mariscal", "name": "Manuel Mariscal"},
                },
            },
            auth,
        ).get_json(),
        "cecop": post(
            client,
            {"type": "affiliated", "occurred_on": "1997-09-18", "data": {"parent": "cicopa"}},
            auth,
            org="cecop",
        ).get_json(),
        "wrong": post(
            client,
            {
                "type": "milestone",
                "occurred_on": "2003",
                "data": {"headline": "<script>alert('x')</script>"},
            },
            auth,
        ).get_json(),
    }
    post(
        client,
        {"type": "retracted", "data": {"event_id": events["wrong"]["id"], "reason": "not so"}},
        auth,
    )
    return events


def test_the_state_at_a_year_answers_as_the_contract_shows(client, history):
    response = client.get("/api/organisations/cicopa/state?at=1998")
    assert response.status_code == 200
    state = response.get_json()
    assert (state["organisation"], state["at"], state["known_at"], state["exists"]) == (
        "cicopa",
        "1998",
        None,
        True,
    )
    assert state["name"] == "CICOPA"
    assert [(h["role"], h["person"]["id"], h["since"]) for h in state["office_holders"]] == [
        ("President", "marian-rybar", "1998")
    ]
    assert state["figures"]["member_organisations"]["value"] == 65
    assert state["figures"]["member_organisations"]["sources"] == []
    assert state["sub_organisations"] == [{"id": "cecop", "name": None}]
    assert response.headers["ETag"].startswith('W/"')
    assert (
        client.get(
            "/api/organisations/cicopa/state?at=1998",
            headers={"If-None-Match": response.headers["ETag"]},
        ).status_code
        == 304
    )
    stale = client.get("/api/organisations/cicopa/state?at=1998", headers={"If-Match": '"0"'})
    assert stale.status_code == 412


def test_a_states_etag_is_its_bodys_hash_and_moves_when_the_state_does(client, auth):
    url = "/api/organisations/etagged/state?at=2001"
    renamed = {"type": "renamed", "occurred_on": "2000", "data": {"name": "First"}}
    assert (
        client.post("/api/organisations/etagged/events", json=renamed, headers=auth).status_code
        == 201
    )
    first, again = client.get(url), client.get(url)
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    assert first.headers["ETag"] == f'W/"{generate_etag(first.data)}"'
    renamed["data"]["name"] = "Second"
    assert (
        client.post("/api/organisations/etagged/events", json=renamed, headers=auth).status_code
        == 201
    )
    second = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.get_json()["name"] == "Second"
    assert second.headers["ETag"] == f'W/"{generate_etag(second.data)}"' != first.headers["ETag"]


def test_the_state_as_known_at_a_recording_time(client, history):
    known = history["rybar"]["recorded_at"]
    state = client.get(f"/api/organisations/cicopa/state?at=2020&known_at={known}").get_json()
    assert state["known_at"] == known
    assert [h["person"]["id"] for h in state["office_holders"]] == ["marian-rybar"]


@pytest.mark.parametrize(
    "query",
    [
        "at=1998-13",
        "at=1998~",
        "at=nineteen",
        "known_at=yesterday",
        "known_at=2020-01-01T00:00:00",
        "known_at=0001-01-01T01:00:00%2B08:08",  # year 0 in UTC (found by schemathesis)
        "known_at=9999-12-31T23:00:00-08:00",  # year 10000 in UTC
    ],
)
def test_a_bad_date_parameter_is_422_naming_it(client, history, query):
    body = assert_problem(client.get(f"/api/organisations/cicopa/state?{query}"), 422)
    assert set(body["errors"]) == {query.split("=")[0]}


@pytest.mark.parametrize(
    "path",
    [
        "/api/organisations/nobody/state",
        "/api/organisations/nobody/events",
        "/api/organisations/NOT%20A%20SLUG/state",
        "/api/people/nobody",
        "/api/organisations/nobody/diff?from=1990",
    ],
)
def test_unknown_organisations_and_people_are_404(client, history, path):
    assert_problem(client.get(path), 404)


def test_events_are_listed_in_occurrence_order_a_page_at_a_time(client, history):
    response = client.get(f"{EVENTS}?limit=2")
    assert response.headers["ETag"] == '"6"'
    page = response.get_json()
    assert [e["occurred_on"] for e in page["events"]] == ["1947", "1998"]
    seen = [e["id"] for e in page["events"]]
    while page["next"]:
        page = client.get(f"{EVENTS}?limit=2&cursor={page['next']}").get_json()
        seen.extend(e["id"] for e in page["events"])
    assert history["wrong"]["id"] not in seen
    assert len(seen) == 5  # 4 dated events, then the retraction
    assert client.get(EVENTS, headers={"If-None-Match": '"6"'}).status_code == 304
    assert client.get(EVENTS, headers={"If-Match": '"999"'}).status_code == 412
    assert client.get(EVENTS, headers={"If-Match": '"6"'}).status_code == 200
    assert client.get(EVENTS, headers={"If-None-Match": '"5"'}).status_code == 200


def test_event_lists_filter_by_type_period_and_status(client, history):
    only = client.get(f"{EVENTS}?type=office_holder_appointed,figures_reported").get_json()[
        "events"
    ]
    assert {e["type"] for e in only} == {"office_holder_appointed", "figures_reported"}
    period = client.get(f"{EVENTS}?from=1998&to=2003").get_json()["events"]
    assert [e["id"] for e in period] == [history["rybar"]["id"], history["figures"]["id"]]
    retracted = client.get(f"{EVENTS}?include_retracted=true&from=2003&to=2003").get_json()[
        "events"
    ]
    assert [(e["id"], e["status"], e["amendment"]["reason"]) for e in retracted] == [
        (history["wrong"]["id"], "retracted", "not so")
    ]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=1.5",
        "limit=x",
        "type=bogus",
        "from=1998-02-30",
        "include_retracted=maybe",
    ],
)
def test_bad_list_parameters_are_422(client, history, query):
    body = assert_problem(client.get(f"{EVENTS}?{query}"), 422)
    assert body["errors"]


@pytest.mark.parametrize("cursor", ["garbage", "WzAsIDEsIDFd.AAAA", "....", "W10"])
def test_a_cursor_the_service_did_not_make_is_400(client, history, cursor):
    assert_problem(client.get(f"{EVENTS}?cursor={cursor}"), 400)


def test_one_event_is_found_only_in_its_organisation(client, history):
    event_id = history["rybar"]["id"]
    assert client.get(f"{EVENTS}/{event_id}").get_json()["id"] == event_id
    assert client.get(f"{EVENTS}/{history['wrong']['id']}").get_json()["status"] == "retracted"
    assert_problem(client.get(f"/api/organisations/cecop/events/{event_id}"), 404)
    assert_problem(client.get(f"{EVENTS}/not-a-uuid"), 404)


def test_the_diff_holds_only_what_changed(client, history):
    diff = client.get("/api/organisations/cicopa/diff?from=1998&to=2017").get_json()
    assert (diff["organisation"], diff["from"], diff["to"]) == ("cicopa", "1998", "2017")
    assert set(diff["changes"]) == {"office_holders"}
    assert [h["person"]["id"] for h in diff["changes"]["office_holders"]["added"]] == [
        "manuel-mariscal"
    ]
    assert_problem(client.get("/api/organisations/cicopa/diff?to=2017"), 422)


def test_the_timeline_spans_organisations(client, history):
    events = client.get("/api/timeline").get_json()["events"]
    assert {e["organisation"] for e in events} == {"cicopa", "cecop"}
    only = client.get("/api/timeline?org=cecop").get_json()["events"]
    assert [e["organisation"] for e in only] == ["cecop"]
    assert_problem(client.get("/api/timeline?org=Bad!"), 422)


def test_people_are_listed_with_their_positions(client, history):
    person = client.get("/api/people/marian-rybar").get_json()
    assert person == {
        "id": "marian-rybar",
        "name": "Marian Rybar",
        "positions": [
            {
                "organisation": "cicopa",
                "role": "President",
                "from": "1998",
                "to": "2011-11-16",
                "attested": None,
            }
        ],
    }


def test_organisations_are_listed_with_their_versions(client, history):
    listed = client.get("/api/organisations").get_json()["organisations"]
    assert [(o["id"], o["name"], o["version"]) for o in listed] == [
        ("cecop", None, 1),
        ("cicopa", "CICOPA", 6),
    ]


def test_timelinejs_escapes_every_text(client, auth, history):
    hostile = {
        "type": "milestone",
        "occurred_on": "2004-02-17",
        "data": {"headline": "<img src=x onerror=alert(1)>"},
        "sources": [{"title": "<b>t</b>", "quote": '"q" & <q>'}],
    }
    post(client, hostile, auth)
    document = client.get("/api/organisations/cicopa/timelinejs").get_json()
    text = json.dumps(document)
    assert "<img" not in text and "<b>" not in text and "<q>" not in text
    slide = next(
        e
        for e in document["events"]
        if e["start_date"] == {"year": 2004, "month": 2, "day": 17, "display_date": "17 Feb 2004"}
    )
    assert slide["text"]["headline"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert slide["group"] == "Milestones"
    assert slide["media"]["credit"] == "&lt;b&gt;t&lt;/b&gt;"


# --- the rest of HTTP ------------------------------------------------------------------------


def test_unknown_paths_and_methods_are_problems(client):
    assert_problem(client.get("/api/nothing-here"), 404)
    response = client.delete("/api/organisations")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_the_openapi_document_describes_every_endpoint_and_its_docs_load_offline(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {
        "/api/organisations",
        "/api/organisations/{org}/events",
        "/api/organisations/{org}/events/{event_id}",
        "/api/organisations/{org}/state",
        "/api/organisations/{org}/diff",
        "/api/organisations/{org}/timelinejs",
        "/api/timeline",
        "/api/people/{person}",
    }
    post_op = spec["paths"]["/api/organisations/{org}/events"]["post"]
    assert post_op["security"] == [{"bearerAuth": []}]
    assert (
        "application/problem+json"
        in spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    )
    assert "OfficeHolderAppointedData" in spec["components"]["schemas"]
    page = client.get("/api/docs")
    assert page.status_code == 200 and b'lang="en"' in page.data
    assert b"http" not in page.data.split(b"<body>")[0]  # every asset is served from here
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and b"SwaggerUIBundle" in asset.data
    asset.close()


def test_healthz_is_200_when_the_database_answers(client):
    assert client.get("/healthz").status_code == 200


# --- how a fact is known, names by language, qualified figures --------------------------------

SEEN_IN_GENEVA = {
    "type": "headquarters_moved",
    "occurred_on": "1998",
    "basis": "attestation",
    "data": {"location": "Geneva"},
    "sources": [{"title": "What is CICOPA? (1998)", "quote": "Geneva"}],
}


def test_a_stored_event_shows_its_basis_and_change_where_none_was_sent(client, auth):
    seen = post(client, SEEN_IN_GENEVA, auth).get_json()
    assert seen["basis"] == "attestation"
    moved = post(client, {**SEEN_IN_GENEVA, "basis": None, "occurred_on": "2003"}, auth)
    assert moved.get_json()["basis"] == "change"
    founded = post(client, FOUNDED, auth).get_json()
    assert "basis" not in founded
    listed = client.get(EVENTS).get_json()["events"]
    assert [e.get("basis") for e in listed] == [None, "attestation", "change"]


def test_a_basis_on_a_type_that_takes_none_is_a_422_naming_it(client, auth, services):
    body = assert_problem(post(client, {**FOUNDED, "basis": "attestation"}, auth), 422)
    assert "renamed" in body["errors"]["basis"]
    founded = post(client, FOUNDED, auth).get_json()
    correction = {
        "type": "corrected",
        "basis": "attestation",
        "data": {"event_id": founded["id"], "reason": "seen"},
    }
    body = assert_problem(post(client, correction, auth), 422)
    assert "takes no basis" in body["errors"]["basis"]
    assert stored_count(services) == 1


def test_a_correction_of_the_basis_shows_on_the_corrected_event(client, auth):
    moved = post(client, {**SEEN_IN_GENEVA, "basis": None}, auth).get_json()
    correction = {
        "type": "corrected",
        "basis": "attestation",
        "data": {"event_id": moved["id"], "reason": "the document only shows it"},
    }
    assert post(client, correction, auth).status_code == 201
    shown = client.get(f"{EVENTS}/{moved['id']}").get_json()
    assert (shown["status"], shown["basis"]) == ("corrected", "attestation")


def test_languages_replaced_roles_and_qualifiers_are_stored_as_sent(client, auth):
    sent = [
        {"type": "renamed", "occurred_on": "2014", "data": {"name": "Un", "language": "fr-CA"}},
        {
            "type": "office_holder_appointed",
            "occurred_on": "2018",
            "data": {**RYBAR["data"], "replaces_role": "Chair"},
        },
        {
            "type": "figures_reported",
            "occurred_on": "2017",
            "data": {"figures": {"jobs": 4000000}, "qualifiers": {"jobs": "about"}},
        },
    ]
    for payload in sent:
        assert post(client, payload, auth).get_json()["data"] == payload["data"]


def test_a_qualifier_for_a_figure_not_reported_is_a_422(client, auth):
    payload = {
        "type": "figures_reported",
        "occurred_on": "2017",
        "data": {"figures": {"jobs": 4000000}, "qualifiers": {"countries": "over"}},
    }
    body = assert_problem(post(client, payload, auth), 422)
    assert list(body["errors"]) == ["data.qualifiers.countries"]


def test_the_state_says_how_each_value_is_known(client, auth):
    for payload in (
        FOUNDED,
        SEEN_IN_GENEVA,
        {**SEEN_IN_GENEVA, "occurred_on": "2005"},
        {"type": "renamed", "occurred_on": "1998", "data": {"name": "Comité", "language": "fr"}},
        RYBAR,
        {
            "type": "office_holder_left",
            "occurred_on": "2009",
            "data": {"role": "President", "person_id": "marian-rybar"},
        },
        {
            "type": "figures_reported",
            "occurred_on": "2009",
            "data": {"figures": {"jobs": 4000000}, "qualifiers": {"jobs": "about"}},
        },
    ):
        assert post(client, payload, auth).status_code == 201
    state = client.get("/api/organisations/cicopa/state?at=2010").get_json()
    assert state["names"] == {
        "en": {"name": "CICOPA", "acronym": "CICOPA"},
        "fr": {"name": "Comité", "acronym": None},
    }
    assert state["provenance"]["headquarters"]["since"] is None
    assert state["provenance"]["headquarters"]["attested"] == {
        "first": "1998",
        "last": "2005",
        "count": 2,
    }
    assert state["provenance"]["name"]["since"] == "1947"
    assert state["roles_without_known_holder"] == [
        {
            "role": "President",
            "since": "2009",
            "last_holder": {"id": "marian-rybar", "name": "Marian Rybar"},
        }
    ]
    assert state["figures"]["jobs"]["qualifier"] == "about"
    changes = client.get("/api/organisations/cicopa/diff?from=1997&to=2010").get_json()["changes"]
    assert changes["names"]["fr"] == {"before": None, "after": {"name": "Comité", "acronym": None}}
    assert changes["figures"]["jobs"]["after_qualifier"] == "about"


def test_a_person_known_only_from_attestations_has_positions_without_a_start(client, auth):
    seen = {**RYBAR, "basis": "attestation"}
    post(client, seen, auth)
    post(client, {**seen, "occurred_on": "2001"}, auth)
    person = client.get("/api/people/marian-rybar").get_json()
    assert person["positions"] == [
        {
            "organisation": "cicopa",
            "role": "President",
            "from": None,
            "to": None,
            "attested": {"first": "1998", "last": "2001", "count": 2},
        }
    ]


def test_timelinejs_shows_names_by_language_and_qualified_figures(client, auth):
    post(client, FOUNDED, auth)
    post(
        client,
        {"type": "renamed", "occurred_on": "1998", "data": {"name": "Comité", "language": "fr"}},
        auth,
    )
    post(
        client,
        {
            "type": "figures_reported",
            "occurred_on": "2017",
            "data": {"figures": {"jobs": 4000000}, "qualifiers": {"jobs": "about"}},
        },
        auth,
    )
    document = client.get("/api/organisations/cicopa/timelinejs").get_json()
    assert "French: Comité" in document["title"]["text"]["text"]
    headlines = [e["text"]["headline"] for e in document["events"]]
    assert "Renamed Comité, in French" in headlines
    assert "Reported: about 4,000,000 jobs" in headlines
