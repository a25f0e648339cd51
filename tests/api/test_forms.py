"""The forms that record history, through Flask's test client, on SQLite and PostgreSQL:
sessions, CSRF, a form for every type, every kind of error, corrections and retractions."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest

from api.app import create_app
from api.eventforms import FORM_TYPES, correction, values_of
from api.sessions import is_local
from timeline.config import Config
from timeline.tokens import Tokens

WRITER = "Ann Archivist"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return unescape(found[1])


def sign_in(client, token: str) -> None:
    page = client.get("/sign-in").text
    reply = client.post("/sign-in", data={"token": token, "csrf_token": hidden(page, "csrf_token")})
    assert reply.status_code == 303


def form_page(client, path: str) -> tuple[str, dict[str, str]]:
    """The form at `path` and its hidden fields (CSRF token, idempotency key, type, version)."""
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    html = reply.text
    fields = {"csrf_token": hidden(html, "csrf_token")}
    for name in ("idempotency_key", "type", "version"):
        if f'name="{name}" value=' in html:
            fields[name] = hidden(html, name)
    return html, fields


def submit(client, org: str, kind: str, values: dict[str, str]):
    _, fields = form_page(client, f"/organisations/{org}/events/new?type={kind}")
    return client.post(f"/organisations/{org}/events/new", data={**fields, **values})


def events(client, org: str, **query: str) -> list[dict]:
    reply = client.get(f"/api/organisations/{org}/events", query_string=query)
    return reply.get_json()["events"] if reply.status_code == 200 else []


def field_error(html: str, name: str) -> str | None:
    """The error shown beside a control, if it is marked invalid and described by it."""
    cid = "f-" + name.replace(".", "-")
    control = re.search(rf'<(?:input|textarea|select)[^>]*\bid="{re.escape(cid)}"[^>]*>', html)
    assert control, f"no control {cid}"
    if 'aria-invalid="true"' not in control[0]:
        return None
    assert f"{cid}-error" in control[0]  # aria-describedby names the error
    message = re.search(rf'id="{re.escape(cid)}-error">(.*?)</p>', html, re.S)
    assert message
    return unescape(re.sub(r"<[^>]+>", "", message[1]))


@pytest.fixture
def writer_token(services) -> str:
    return services.tokens.create(WRITER)


@pytest.fixture
def signed_in(client, writer_token):
    sign_in(client, writer_token)
    return client


@pytest.fixture
def founded(services):
    appended = services.commands.append(
        "coop",
        {
            "type": "founded",
            "occurred_on": "1947",
            "data": {"name": "Co-op Union", "acronym": "CU"},
            "sources": [{"title": "Statutes"}],
        },
        recorded_by="cli",
    )
    return appended.event


FILLED = {
    "founded": {"data.name": "Co-op Union", "data.acronym": "CU", "data.language": "en"},
    "renamed": {"data.name": "Union des coopératives", "data.language": "fr-CA"},
    "headquarters_moved": {"data.location": "Brussels, Belgium", "basis": "attestation"},
    "office_holder_appointed": {
        "data.role": "President",
        "pick.data.person": "new",
        "data.person.name": "Zoë Ångström",
    },
    "office_holder_left": {"data.role": "President", "data.person_id": "zoe-angstrom"},
    "member_joined": {"data.member.name": "Legacoop", "data.member.country": "Italy"},
    "member_left": {"data.member_id": "legacoop"},
    "figures_reported": {
        "data.figures.0.name": "member_organisations",
        "data.figures.0.value": "46",
        "data.figures.1.name": "jobs",
        "data.figures.1.value": "4000000",
        "data.figures.1.qualifier": "about",
    },
    "document_adopted": {"data.title": "World Declaration", "data.stage": "adopted"},
    "affiliated": {"data.parent": "ica"},
    "disaffiliated": {"data.parent": "ica"},
    "dissolved": {},
    "milestone": {"data.headline": "First congress", "data.text": "In Manchester"},
}
EXPECTED_DATA = {
    "founded": {"name": "Co-op Union", "acronym": "CU", "language": "en"},
    "renamed": {"name": "Union des coopératives", "language": "fr-CA"},
    "headquarters_moved": {"location": "Brussels, Belgium"},
    "office_holder_appointed": {
        "role": "President",
        "person": {"id": "zoe-angstrom", "name": "Zoë Ångström"},
    },
    "office_holder_left": {"role": "President", "person_id": "zoe-angstrom"},
    "member_joined": {"member": {"id": "legacoop", "name": "Legacoop", "country": "Italy"}},
    "member_left": {"member_id": "legacoop"},
    "figures_reported": {
        "figures": {"member_organisations": 46, "jobs": 4000000},
        "qualifiers": {"jobs": "about"},
    },
    "document_adopted": {"title": "World Declaration", "stage": "adopted"},
    "affiliated": {"parent": "ica"},
    "disaffiliated": {"parent": "ica"},
    "dissolved": {},
    "milestone": {"headline": "First congress", "text": "In Manchester"},
}


def test_every_type_has_a_form_and_records_through_the_api_path(signed_in):
    assert set(FILLED) == set(FORM_TYPES)
    for number, kind in enumerate(FORM_TYPES, start=1):
        values = {
            **FILLED[kind],
            "occurred_on": f"{1950 + number}~",
            "sources.0.title": f"Minutes {number}",
            "sources.0.url": "https://example.org/minutes",
            "sources.1.title": "Annual report",
            "sources.1.quote": "as reported",
            "note": "typed in a form",
        }
        reply = submit(signed_in, "coop", kind, values)
        assert reply.status_code == 303, reply.text
        stored = events(signed_in, "coop", type=kind)[-1]
        assert reply.headers["Location"] == f"/organisations/coop#event-{stored['id']}"
        assert stored["data"] == EXPECTED_DATA[kind]
        assert stored["occurred_on"] == f"{1950 + number}~"
        assert stored["recorded_by"] == WRITER
        assert stored["sources"] == [
            {"title": f"Minutes {number}", "url": "https://example.org/minutes"},
            {"title": "Annual report", "quote": "as reported"},
        ]
        assert stored["note"] == "typed in a form"
        if kind == "headquarters_moved":
            assert stored["basis"] == "attestation"
    assert len(events(signed_in, "coop")) == len(FORM_TYPES)


def test_a_person_already_recorded_can_be_picked(signed_in):
    submit(
        signed_in,
        "coop",
        "office_holder_appointed",
        {**FILLED["office_holder_appointed"], "occurred_on": "1990"},
    )
    html, _ = form_page(signed_in, "/organisations/coop/events/new?type=office_holder_appointed")
    assert '<option value="zoe-angstrom">Zoë Ångström (zoe-angstrom)</option>' in html
    reply = submit(
        signed_in,
        "coop",
        "office_holder_appointed",
        {"occurred_on": "1995", "data.role": "Secretary", "pick.data.person": "zoe-angstrom"},
    )
    assert reply.status_code == 303
    assert events(signed_in, "coop")[-1]["data"]["person"] == {
        "id": "zoe-angstrom",
        "name": "Zoë Ångström",
    }


REFUSED = [
    ("founded", {"occurred_on": "2005-02-30", "data.name": "X"}, "occurred_on", "not a real date"),
    ("founded", {"occurred_on": "", "data.name": "X"}, "occurred_on", "is required"),
    ("founded", {"occurred_on": "1947"}, "data.name", "is required"),
    (
        "founded",
        {"occurred_on": "1947", "data.name": "X", "data.language": "not a tag"},
        "data.language",
        "BCP 47",
    ),
    (
        "office_holder_appointed",
        {"occurred_on": "1990", "data.role": "President"},
        "data.person",
        "is required",
    ),
    (
        "office_holder_left",
        {"occurred_on": "1990", "data.role": "President", "data.person_id": "Not A Slug"},
        "data.person_id",
        "lowercase",
    ),
    (
        "member_joined",
        {"occurred_on": "1990", "data.member.id": "x"},
        "data.member.name",
        "is required",
    ),
    ("figures_reported", {"occurred_on": "1990"}, "data.figures", "is required"),
    (
        "figures_reported",
        {"occurred_on": "1990", "data.figures.0.name": "jobs", "data.figures.0.value": "many"},
        "data.figures.0.value",
        "non-negative number",
    ),
    (
        "figures_reported",
        {"occurred_on": "1990", "data.figures.0.value": "5"},
        "data.figures.0.name",
        "name the figure",
    ),
    (
        "figures_reported",
        {"occurred_on": "1990", "data.figures.0.name": "Jobs!", "data.figures.0.value": "5"},
        "data.figures.0.value",
        "figure's name",
    ),
    ("affiliated", {"occurred_on": "1990", "data.parent": ""}, "data.parent", "is required"),
    (
        "milestone",
        {"occurred_on": "1990", "data.headline": "bell\x07"},
        "data.headline",
        "control character",
    ),
    (
        "milestone",
        {"occurred_on": "1990", "data.headline": "x", "sources.0.url": "https://example.org/"},
        "sources.0.title",
        "is required",
    ),
    (
        "milestone",
        {
            "occurred_on": "1990",
            "data.headline": "x",
            "sources.0.title": "T",
            "sources.0.url": "javascript:alert(1)",
        },
        "sources.0.url",
        "http",
    ),
]


def test_a_refused_form_comes_back_as_typed_with_each_error_beside_its_field(signed_in):
    # one database for all the cases: each is refused, so none changes what the next sees
    for kind, values, field, message in REFUSED:
        reply = submit(signed_in, "coop", kind, values)
        assert reply.status_code == 422, (kind, values)
        html = reply.text
        if field in ("data.person", "data.figures"):  # an object or the figures as a whole
            assert message in unescape(html), (kind, values)
        else:
            shown = field_error(html, field)
            assert shown is not None and message in shown, (kind, values, shown)
        for name, value in values.items():
            if value and name != "pick.data.person":
                assert f'value="{value}"' in html or f">{value}</textarea>" in html, name
        assert 'id="problems"' in html and 'role="alert"' in html
    assert events(signed_in, "coop") == []


def test_an_unknown_type_is_refused_and_the_choice_offered_again(signed_in):
    _, fields = form_page(signed_in, "/organisations/coop/events/new?type=founded")
    reply = signed_in.post("/organisations/coop/events/new", data={**fields, "type": "retracted"})
    assert reply.status_code == 422
    assert "choose one of the kinds" in reply.text
    options = re.findall(r'<option value="([a-z_]+)"', reply.text)
    assert options == list(FORM_TYPES)


def test_script_in_every_field_is_stored_as_text_and_escaped(signed_in):
    values = {
        "occurred_on": "1990",
        "data.headline": HOSTILE,
        "data.text": HOSTILE,
        "sources.0.title": HOSTILE,
        "sources.0.quote": HOSTILE,
        "sources.0.file": HOSTILE,
        "note": HOSTILE,
    }
    assert submit(signed_in, "coop", "milestone", values).status_code == 303
    stored = events(signed_in, "coop")[-1]
    assert stored["data"]["headline"] == HOSTILE and stored["note"] == HOSTILE
    page = signed_in.get("/organisations/coop").text
    assert "<script>alert" not in page and "onerror=alert" not in page.replace(
        "onerror=alert(1)&gt;", ""
    )
    refused = submit(signed_in, "coop", "milestone", {**values, "occurred_on": HOSTILE})
    assert refused.status_code == 422
    assert "<script>alert" not in refused.text


def test_a_double_submission_records_one_event(signed_in):
    _, fields = form_page(signed_in, "/organisations/coop/events/new?type=milestone")
    data = {**fields, "occurred_on": "1990", "data.headline": "Once"}
    first = signed_in.post("/organisations/coop/events/new", data=data)
    second = signed_in.post("/organisations/coop/events/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(events(signed_in, "coop")) == 1
    changed = signed_in.post(
        "/organisations/coop/events/new", data={**data, "data.headline": "Twice"}
    )
    assert changed.status_code == 422
    assert "sent already" in changed.text
    assert hidden(changed.text, "idempotency_key") != fields["idempotency_key"]
    assert len(events(signed_in, "coop")) == 1


def test_more_source_and_figure_rows_can_be_added_without_javascript(signed_in):
    _, fields = form_page(signed_in, "/organisations/coop/events/new?type=figures_reported")
    data = {**fields, "occurred_on": "1990", "sources.1.title": "kept", "more": "sources"}
    reply = signed_in.post("/organisations/coop/events/new", data=data)
    assert reply.status_code == 200
    assert 'name="sources.2.title"' in reply.text and 'value="kept"' in reply.text
    reply = signed_in.post("/organisations/coop/events/new", data={**data, "more": "figures"})
    assert 'name="data.figures.4.name"' in reply.text
    assert events(signed_in, "coop") == []


def test_signed_out_the_forms_lead_to_sign_in_and_nothing_is_written(client, app, founded):
    for path in (
        "/organisations/coop/events/new",
        f"/organisations/coop/events/{founded['id']}/correct",
        f"/organisations/coop/events/{founded['id']}/retract",
        "/new-organisation",
    ):
        reply = client.get(path)
        assert reply.status_code == 303
        assert reply.headers["Location"].startswith("/sign-in?next=")
    page = client.get("/sign-in").text
    posted = client.post(
        "/organisations/coop/events/new",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "type": "milestone",
            "occurred_on": "1990",
            "data.headline": "x",
        },
    )
    assert posted.status_code == 303 and posted.headers["Location"].startswith("/sign-in")
    from_elsewhere = app.test_client().post(
        "/organisations/coop/events/new",
        data={"type": "milestone", "occurred_on": "1990", "data.headline": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert from_elsewhere.status_code == 403
    assert len(events(client, "coop")) == 1
    assert "Correct" not in client.get("/organisations/coop").text


def test_a_post_without_a_valid_csrf_token_is_403_and_writes_nothing(signed_in, app, writer_token):
    _, fields = form_page(signed_in, "/organisations/coop/events/new?type=milestone")
    data = {**fields, "occurred_on": "1990", "data.headline": "forged"}
    for forged in (
        {k: v for k, v in data.items() if k != "csrf_token"},
        {**data, "csrf_token": "x" + data["csrf_token"][1:]},
    ):
        reply = signed_in.post("/organisations/coop/events/new", data=forged)
        assert reply.status_code == 403
        assert "text/html" in reply.content_type
    other = app.test_client()  # another browser's token, with this browser's cookie
    sign_in(other, writer_token)
    _, theirs = form_page(other, "/organisations/coop/events/new?type=milestone")
    reply = signed_in.post(
        "/organisations/coop/events/new", data={**data, "csrf_token": theirs["csrf_token"]}
    )
    assert reply.status_code == 403
    assert events(signed_in, "coop") == []


def test_sign_in_sets_a_safe_cookie_and_rotates_the_session(client, writer_token):
    page = client.get("/sign-in").text
    before = hidden(page, "csrf_token")
    wrong = client.post(
        "/sign-in", data={"token": "tl_0000000000000000_nope", "csrf_token": before}
    )
    assert wrong.status_code == 403 and 'aria-invalid="true"' in wrong.text
    reply = client.post(
        "/sign-in", data={"token": writer_token, "csrf_token": before, "next": "//evil.example/"}
    )
    assert reply.status_code == 303 and reply.headers["Location"] == "/"
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie
    assert writer_token not in cookie and writer_token.split("_", 2)[2] not in cookie
    assert f"Signed in as {WRITER}" in client.get("/").text
    _, fields = form_page(client, "/organisations/coop/events/new?type=milestone")
    assert fields["csrf_token"] != before  # the session was begun anew
    stale = client.post(
        "/organisations/coop/events/new",
        data={**fields, "csrf_token": before, "occurred_on": "1990", "data.headline": "x"},
    )
    assert stale.status_code == 403


def test_the_cookie_is_secure_over_https(app, writer_token):
    client = app.test_client()
    page = client.get("/sign-in", base_url="https://localhost").text
    reply = client.post(
        "/sign-in",
        data={"token": writer_token, "csrf_token": hidden(page, "csrf_token")},
        base_url="https://localhost",
    )
    assert reply.status_code == 303
    assert "Secure" in reply.headers["Set-Cookie"]
    proxied = app.test_client().get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["Set-Cookie"]
    assert "Secure" not in app.test_client().get("/sign-in").headers["Set-Cookie"]


def test_the_cookie_can_be_made_secure_always(services):
    services.config = Config(database_url=services.config.database_url, secure_cookies=True)
    assert "Secure" in create_app(services).test_client().get("/sign-in").headers["Set-Cookie"]
    assert Config.from_env({"TIMELINE_SECURE_COOKIES": "true"}).secure_cookies


def test_sign_out_ends_the_session(signed_in):
    page = signed_in.get("/sign-out").text
    assert "<button" in page
    reply = signed_in.post("/sign-out", data={"csrf_token": hidden(page, "csrf_token")})
    assert reply.status_code == 303
    assert signed_in.get("/organisations/coop/events/new").status_code == 303


def test_revoking_the_token_ends_its_sessions(signed_in, services, writer_token):
    assert signed_in.get("/organisations/coop/events/new").status_code == 200
    services.tokens.revoke(writer_token.split("_")[1])
    time.sleep(Tokens.REMEMBER_SECONDS + 0.1)
    reply = signed_in.get("/organisations/coop/events/new")
    assert reply.status_code == 303 and reply.headers["Location"].startswith("/sign-in")


def test_the_session_key_is_kept_across_restarts_or_taken_from_the_configuration(services):
    first, second = create_app(services), create_app(services)
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    services.config = Config(database_url=services.config.database_url, secret_key="from-env")
    assert create_app(services).secret_key == "from-env"
    assert Config.from_env({"TIMELINE_SECRET_KEY": "k"}).secret_key == "k"


def test_a_new_organisation_starts_with_the_founding_form(signed_in):
    assert signed_in.get("/new-organisation?id=Not%20Ok").status_code == 422
    reply = signed_in.get("/new-organisation?id=ica-europe")
    assert reply.headers["Location"] == "/organisations/ica-europe/events/new?type=founded"
    reply = submit(
        signed_in,
        "ica-europe",
        "founded",
        {"occurred_on": "2006", "data.name": "Cooperatives Europe"},
    )
    assert reply.status_code == 303
    assert signed_in.get("/organisations/ica-europe").status_code == 200


def test_the_timeline_links_each_event_to_its_amendment_forms_when_signed_in(signed_in, founded):
    page = signed_in.get("/organisations/coop").text
    assert f'href="/organisations/coop/events/{founded["id"]}/correct"' in page
    assert f'href="/organisations/coop/events/{founded["id"]}/retract"' in page
    assert 'href="/organisations/coop/events/new"' in page


def test_the_correction_form_is_the_event_filled_in_and_records_what_changed(signed_in, founded):
    path = f"/organisations/coop/events/{founded['id']}/correct"
    html, fields = form_page(signed_in, path)
    assert 'value="1947"' in html and 'value="Co-op Union"' in html and 'value="CU"' in html
    assert fields["type"] == "founded" and fields["version"] == "1"
    values = {"occurred_on": "1946", "data.name": "Co-op Union", "data.acronym": "CU"}
    nothing = signed_in.post(path, data={**fields, **values, "occurred_on": "1947", "reason": "r"})
    assert nothing.status_code == 422 and "change at least one" in nothing.text
    no_reason = signed_in.post(path, data={**fields, **values})
    assert no_reason.status_code == 422 and field_error(no_reason.text, "reason")
    bad = signed_in.post(path, data={**fields, **values, "occurred_on": "1946-13", "reason": "r"})
    assert bad.status_code == 422 and "no month 13" in field_error(bad.text, "occurred_on")
    reply = signed_in.post(path, data={**fields, **values, "reason": "the statutes say 1946"})
    assert reply.status_code == 303
    stored = signed_in.get(f"/api/organisations/coop/events/{founded['id']}").get_json()
    assert stored["status"] == "corrected" and stored["occurred_on"] == "1946"
    correction = events(signed_in, "coop")[-1]
    assert correction["type"] == "corrected" and correction["recorded_by"] == WRITER
    assert correction["data"] == {
        "event_id": founded["id"],
        "reason": "the statutes say 1946",
        "occurred_on": "1946",
    }
    assert reply.headers["Location"] == f"/organisations/coop#event-{correction['id']}"


def test_a_correction_made_against_an_older_version_shows_the_newer_event(
    signed_in, services, founded
):
    path = f"/organisations/coop/events/{founded['id']}/correct"
    _, fields = form_page(signed_in, path)
    services.commands.append(
        "coop",
        {
            "type": "corrected",
            "data": {
                "event_id": founded["id"],
                "reason": "someone else's fix",
                "occurred_on": "1948",
            },
        },
        recorded_by="Bob",
    )
    values = {**fields, "occurred_on": "1946", "data.name": "Co-op Union", "reason": "mine"}
    reply = signed_in.post(path, data=values)
    assert reply.status_code == 409
    assert "changed since this form was opened" in reply.text
    assert "someone else&#39;s fix" in reply.text and "recorded by Bob" in reply.text
    assert hidden(reply.text, "version") == "2"
    assert len(events(signed_in, "coop", include_retracted="true")) == 2
    again = signed_in.post(path, data={**values, "version": "2"})
    assert again.status_code == 303
    assert (
        signed_in.get(f"/api/organisations/coop/events/{founded['id']}").get_json()["occurred_on"]
        == "1946"
    )


def test_the_retraction_form_shows_what_will_no_longer_count_and_retracts(signed_in, founded):
    path = f"/organisations/coop/events/{founded['id']}/retract"
    html, fields = form_page(signed_in, path)
    assert "Founded as Co-op Union (CU)" in html and "Statutes" in html
    missing = signed_in.post(path, data=fields)
    assert missing.status_code == 422 and "is required" in field_error(missing.text, "reason")
    reply = signed_in.post(path, data={**fields, "reason": "a forgery"})
    assert reply.status_code == 303
    stored = signed_in.get(f"/api/organisations/coop/events/{founded['id']}").get_json()
    assert stored["status"] == "retracted"
    retraction = events(signed_in, "coop", include_retracted="true")[-1]
    assert retraction["recorded_by"] == WRITER and retraction["data"]["reason"] == "a forgery"
    assert signed_in.get(path).status_code == 409
    assert (
        signed_in.get(f"/organisations/coop/events/{retraction['id']}/correct").status_code == 409
    )


def test_amending_an_unknown_event_is_404(signed_in, founded):
    for event_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert signed_in.get(f"/organisations/coop/events/{event_id}/correct").status_code == 404
    assert signed_in.get("/organisations/NOPE/events/new").status_code == 404


def test_the_form_pages_keep_the_strict_policy_and_carry_no_inline_script(signed_in, founded):
    for path in (
        "/sign-in",
        "/organisations/coop/events/new?type=figures_reported",
        f"/organisations/coop/events/{founded['id']}/correct",
        f"/organisations/coop/events/{founded['id']}/retract",
    ):
        reply = signed_in.get(path)
        policy = reply.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy
        assert re.findall(r"<script(?![^>]*\bsrc=)", reply.text) == []
        assert not re.search(r"\son[a-z]+=", reply.text)
        assert '<html lang="en">' in reply.text
        for control in re.findall(r"<(?:input|select|textarea)\b[^>]*>", reply.text):
            if 'type="hidden"' in control or 'type="radio"' in control:
                continue
            cid = re.search(r'id="([^"]+)"', control)
            assert cid and f'for="{cid[1]}"' in reply.text, control


@pytest.mark.parametrize(
    ("target", "local"),
    [
        ("/organisations/cicopa", True),
        ("/organisations/cicopa/events/new?type=founded", True),
        ("//evil.example/", False),
        ("/\\evil.example/", False),
        ("/\t/evil.example/", False),
        ("/ /evil.example/", False),
        ("https://evil.example/", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_only_a_path_on_this_site_is_a_place_to_return_to(target, local):
    assert is_local(target) is local


def test_a_correction_that_changes_nothing_keeps_the_recorded_name_of_a_picked_person():
    target = {
        "id": "6f1c1f8e-2f57-4f3c-9d9b-1d2f3e4a5b6c",
        "type": "office_holder_appointed",
        "occurred_on": "1998",
        "basis": "change",
        "data": {"role": "President", "person": {"id": "marian-rybar", "name": "Marian Rybár"}},
    }
    form = {**values_of(target), "pick.data.person": "marian-rybar", "reason": "r"}
    known = {"people": {"marian-rybar": "Marian Rybar"}}
    event, errors = correction(target, form, known)
    assert errors == {"correction": "change at least one of the date, the fields and the basis"}
    assert "data" not in event["data"]
    form["pick.data.person"] = "new"
    assert correction(target, form, known)[1] == errors
