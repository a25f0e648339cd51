"""The HTML pages through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from timeline.presentation import how_known, qualified_number

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def seeded(services, client, auth):
    services.commands.seed()
    first = client.get("/api/organisations/cicopa/events?limit=3").get_json()["events"]
    hostile = {
        "type": "milestone",
        "occurred_on": "2004-02",
        "data": {"headline": HOSTILE},
        "sources": [{"title": HOSTILE, "url": "https://example.org/?a=<b>", "quote": HOSTILE}],
        "note": HOSTILE,
    }
    assert (
        client.post("/api/organisations/cicopa/events", json=hostile, headers=auth).status_code
        == 201
    )
    correction = {
        "type": "corrected",
        "data": {"event_id": first[2]["id"], "reason": "a better date", "occurred_on": "1976"},
    }
    assert (
        client.post("/api/organisations/cicopa/events", json=correction, headers=auth).status_code
        == 201
    )
    return client


def assert_page(response, status=200):
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert len(re.findall(r"<h1\b", html)) == 1
    assert 'href="#content"' in html and '<main id="content"' in html
    return html


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/organisations/cicopa",
        "/organisations/cicopa?type=office_holder_appointed&type=member_joined&from=1990&to=2015",
        "/organisations/cicopa/at/1998",
        "/organisations/cicopa/at/2017-06?compare=1998",
        "/organisations/ica/at/2019",
        "/people/bruno-roelants",
    ],
)
def test_every_page_is_well_formed_and_escapes_user_text(seeded, path):
    html = assert_page(seeded.get(path))
    assert "<script>alert" not in html and "<img src=x" not in html


def test_the_timeline_shows_dates_at_their_precision_with_sources_and_badges(seeded):
    html = assert_page(seeded.get("/organisations/cicopa"))
    assert (
        ">1947</span>" in html
        and ">17 Feb 2004</span>" in html
        and ">c. 2017</span>" in html
        and ">2002?</span>" in html
    )
    assert "Marian Rybar appointed President" in html
    assert "003_8246a2747768bb40.txt" in html
    assert "corrected: a better date" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.count("<svg viewBox") >= 4
    assert 'id="year-1998"' in html and 'href="#year-1998"' in html


def test_filters_narrow_the_timeline_and_bad_ones_are_400(seeded):
    html = assert_page(
        seeded.get("/organisations/cicopa?type=office_holder_appointed&from=1990&to=2015")
    )
    assert html.count('<article class="event') == 4
    bad = assert_page(seeded.get("/organisations/cicopa?from=1998-13"), 400)
    assert "cannot be used" in bad


def test_the_year_page_shows_the_state_and_links_to_the_neighbouring_years(seeded):
    html = assert_page(seeded.get("/organisations/cicopa/at/1998"))
    assert "CICOPA in 1998" in html and "Marian Rybar" in html
    assert (
        'href="/organisations/cicopa/at/1997"' in html
        and 'href="/organisations/cicopa/at/1999"' in html
    )
    diff = assert_page(seeded.get("/organisations/cicopa/at/1998?compare=2017"))
    assert "What changed from 1998 to 2017" in diff and "Manuel Mariscal" in diff


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/organisations/nobody", 404),
        ("/organisations/cicopa/at/1998-13", 404),
        ("/organisations/cicopa/at/1998~", 404),
        ("/organisations/nobody/at/1998", 404),
        ("/people/nobody", 404),
        ("/no/such/page", 404),
        ("/organisations/cicopa/at/1998?compare=soon", 400),
    ],
)
def test_unknown_pages_are_html_error_pages(seeded, path, status):
    assert_page(seeded.get(path), status)


# --- how each value is known -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "at_year", "text"),
    [
        ({"since": "1998", "attested": None}, 2000, "since 1998"),
        (
            {"since": None, "attested": {"first": "1998", "last": "1998", "count": 1}},
            1998,
            "attested 1998",
        ),
        (
            {"since": None, "attested": {"first": "1998", "last": "2017", "count": 3}},
            2017,
            "attested 1998-2017, 3 times",
        ),
        (
            {"since": "1998", "attested": {"first": "2005", "last": "2005", "count": 1}},
            2019,
            "since 1998; attested 2005",
        ),
        (
            {"since": None, "attested": {"first": "1998", "last": "2004-02", "count": 2}},
            2019,
            "attested 1998-Feb 2004, 2 times; last seen in 2004",
        ),
        (None, 2019, ""),
    ],
)
def test_how_a_value_is_known_reads_as_a_historian_says_it(known, at_year, text):
    assert how_known(known, at_year) == text


def test_a_qualified_figure_is_printed_with_its_qualifier():
    assert qualified_number(4000000, "about") == "about 4,000,000"
    assert qualified_number(65, None) == "65"


@pytest.fixture
def attested(services, client, auth):
    def post(payload):
        response = client.post("/api/organisations/cicopa/events", json=payload, headers=auth)
        assert response.status_code == 201, response.data
        return response.get_json()

    post(
        {"type": "founded", "occurred_on": "1947", "data": {"name": "CICOPA", "acronym": "CICOPA"}}
    )
    post(
        {
            "type": "renamed",
            "occurred_on": "1998",
            "data": {"name": "Comité international", "language": "fr"},
        }
    )
    for year in ("1998", "2005", "2010"):
        post(
            {
                "type": "headquarters_moved",
                "occurred_on": year,
                "basis": "attestation",
                "data": {"location": "Geneva"},
            }
        )
    rybar = {"role": "President", "person": {"id": "marian-rybar", "name": "Marian Rybar"}}
    post({"type": "office_holder_appointed", "occurred_on": "1998", "data": rybar})
    roelants = {
        "role": "Secretary General",
        "person": {"id": "bruno-roelants", "name": "Bruno Roelants"},
    }
    post({"type": "office_holder_appointed", "occurred_on": "2002", "data": roelants})
    post(
        {
            "type": "office_holder_left",
            "occurred_on": "2017-12",
            "data": {"role": "Secretary General", "person_id": "bruno-roelants"},
        }
    )
    mariscal = {"role": "President", "person": {"id": "manuel-mariscal", "name": "Manuel Mariscal"}}
    post(
        {
            "type": "office_holder_appointed",
            "occurred_on": "2014",
            "basis": "attestation",
            "data": mariscal,
        }
    )
    post(
        {
            "type": "figures_reported",
            "occurred_on": "2017",
            "data": {
                "figures": {"jobs": 4000000, "countries": 48},
                "qualifiers": {"jobs": "about"},
            },
        }
    )
    return client


def test_the_state_page_says_how_each_value_is_known_and_lists_roles_without_a_holder(attested):
    html = assert_page(attested.get("/organisations/cicopa/at/2019"))
    assert "since 1947" in html
    assert "attested 1998-2010, 3 times; last seen in 2010" in html
    assert "attested 2014" in html and "Manuel Mariscal" in html
    assert "Roles without a known holder" in html
    assert "Secretary General</strong>: holder not known since" in html and "Bruno Roelants" in html
    assert "French</span>: Comité international" in html
    assert "about 4,000,000" in html and ">48<" in html
    assert "since 1998" in assert_page(attested.get("/organisations/cicopa/at/2000"))


def test_the_timeline_says_what_was_only_seen_and_marks_a_qualified_figure(attested):
    html = assert_page(attested.get("/organisations/cicopa"))
    assert "Seen with headquarters in Geneva" in html
    assert html.count('class="badge attested"') == 4
    assert "Manuel Mariscal seen as President" in html
    assert "Renamed Comité international, in French" in html
    assert "Reported: about 4,000,000 jobs, 48 countries" in html
    assert html.count('class="point qualified"') == 1
    assert "Hollow points are figures the source did not give exactly" in html


def test_a_person_known_only_from_attestations_shows_no_start_but_the_attestations(attested):
    html = assert_page(attested.get("/people/manuel-mariscal"))
    assert "not known" in html and "attested 2014" in html
    assert 'class="bar open attested"' in html
