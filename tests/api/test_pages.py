"""The HTML pages through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

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
        and ">2023?</span>" in html
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
    assert html.count('<article class="event') == 10  # 5 appointments and 5 attestations
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
