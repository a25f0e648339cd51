"""The pages in a real browser (Debian's chromium driven by playwright) against a real server.

Screenshots of every page go to test-output/screenshots/ (TIMELINE_TEST_OUTPUT overrides).
TimelineJS3 comes from the npm package pinned in tests/e2e/timelinejs (installed by .ci/test).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

from tests.e2e.server import create_token, environment, serving

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("TIMELINE_TEST_OUTPUT", ROOT / "test-output")) / "screenshots"
TIMELINEJS = (
    Path(__file__).with_name("timelinejs") / "node_modules" / "@knight-lab" / "timelinejs" / "dist"
)
CHROMIUM = "/usr/bin/chromium"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`timeline serve` on the embedded default (it seeds CICOPA), plus one hostile event."""
    cwd = tmp_path_factory.mktemp("browser")
    env = environment(None)
    token = create_token(env, cwd, "browser test")
    with serving(env, cwd) as running:
        hostile = {
            "type": "milestone",
            "occurred_on": "2004-02",
            "data": {"headline": HOSTILE, "text": "</p><b>bold?</b>"},
            "sources": [
                {
                    "title": f"Hostile {HOSTILE}",
                    "url": "https://example.org/?q=%3Cx%3E",
                    "quote": HOSTILE,
                }
            ],
            "note": HOSTILE,
        }
        created = running.post(
            "/api/organisations/cicopa/events",
            hostile,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status == 201, created.body
        yield running


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.errors = []
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.on(
        "console",
        lambda message: opened.errors.append(message.text) if message.type == "error" else None,
    )
    opened.on(
        "dialog",
        lambda dialog: (opened.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()),
    )
    yield opened
    context.close()


def shot(page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def test_the_index_lists_the_organisations(server, page):
    page.goto(server.base + "/")
    assert page.locator("h1").count() == 1
    page.get_by_role(
        "link", name="International Organisation of Industrial and Service Cooperatives"
    ).click()
    assert page.url.endswith("/organisations/cicopa")
    page.goto(server.base + "/")
    shot(page, "index")
    assert page.errors == []


def test_the_timeline_renders_the_cicopa_history_in_order(server, page):
    page.goto(server.base + "/organisations/cicopa")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").count() == 1
    events = page.locator("article.event")
    assert events.count() == 69  # the 45 first shipped, and the amended history's own
    dates = events.locator(".when .date").all_inner_texts()
    assert dates[0] == "1947" and "17 Feb 2004" in dates and "c. 2017" in dates and "2023?" in dates
    assert page.get_by_text("Marian Rybar appointed President").count() == 1
    assert page.locator("section.figures svg").count() >= 4
    assert page.locator("section.figures svg circle").count() >= 8
    shot(page, "timeline")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "timeline-phone")
    assert page.errors == []


def test_a_filter_narrows_the_timeline_to_a_shareable_link(server, page):
    page.goto(server.base + "/organisations/cicopa")
    page.get_by_label("Appointment", exact=True).check()
    page.get_by_label("From", exact=True).fill("1990")
    page.get_by_label("To", exact=True).fill("2015")
    page.get_by_role("button", name="Show").click()
    assert "type=office_holder_appointed" in page.url and "from=1990" in page.url
    texts = page.locator("article.event .what").all_inner_texts()
    assert [t.split(" [")[0] for t in texts] == [
        "Marian Rybar appointed President",
        "Arsenio Invernizzi appointed Secretary",
        "Jan-Eirik Imbsen seen as Secretary",
        "Marian Rybar seen as President",
        "Bruno Roelants appointed Secretary General (continuing Secretary)",
        "Javier Salaberria appointed President",
        "Manuel Mariscal appointed President",
        "Bruno Roelants seen as Secretary General",
        "Manuel Mariscal seen as President",
        "Manuel Mariscal seen as President",
    ]
    shot(page, "timeline-filtered")
    page.goto(page.url)  # the same link shows the same view
    assert page.locator("article.event").count() == 10


def test_the_year_page_for_1998_shows_marian_rybar_as_president(server, page):
    page.goto(server.base + "/organisations/cicopa/at/1998")
    assert page.locator("h1").inner_text() == "CICOPA in 1998"
    president = page.locator("#holders").locator("..").locator("tr", has_text="President")
    assert "Marian Rybar" in president.inner_text()
    figures = page.locator("#figures").locator("..").inner_text()
    assert "65" in figures and "45" in figures and "What is CICOPA? (1998)" in figures
    shot(page, "cicopa-1998")
    page.get_by_role("link", name="1999 →").click()
    assert page.url.endswith("/organisations/cicopa/at/1999")


def test_the_diff_form_compares_two_years(server, page):
    page.goto(server.base + "/organisations/cicopa/at/1998")
    page.get_by_label("Year (or YYYY-MM, YYYY-MM-DD)").fill("2017")
    page.get_by_role("button", name="Compare").click()
    assert "compare=2017" in page.url
    diff = page.locator(".diff").inner_text()
    assert "Manuel Mariscal" in diff and "Marian Rybar" in diff
    shot(page, "cicopa-1998-vs-2017")


def test_a_hostile_headline_is_shown_as_text(server, page):
    page.goto(server.base + "/organisations/cicopa?from=2004&to=2004")
    assert page.get_by_text(HOSTILE, exact=False).count() >= 1
    assert page.evaluate("window.__pwned") is None
    assert page.locator("article.event script").count() == 0
    assert page.locator("article.event b").count() == 0
    shot(page, "hostile-event")
    assert page.errors == []


def test_a_person_page_shows_positions_across_organisations(server, page):
    page.goto(server.base + "/people/bruno-roelants")
    rows = page.locator("tbody tr").all_inner_texts()
    assert any("Secretary General" in row and "2002" in row for row in rows)
    assert any("Director-General" in row for row in rows)
    assert page.locator("figure.tenures rect").count() == 3
    shot(page, "bruno-roelants")


def test_the_api_docs_render_under_the_pages_policy(server, page):
    response = page.goto(server.base + "/api/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 8
    assert page.get_by_text("/api/organisations/{org}/state").count() >= 1
    shot(page, "api-docs")
    assert page.errors == []  # a script or style the policy refused would be logged here


def test_unknown_pages_are_404_pages(server, page):
    for path in ("/organisations/nobody", "/organisations/cicopa/at/1998-13", "/people/nobody"):
        response = page.goto(server.base + path)
        assert response.status == 404
        assert page.locator("h1").inner_text().startswith("404")


def test_timelinejs3_renders_the_export_offline(server, page, tmp_path):
    if not TIMELINEJS.exists():
        pytest.fail(
            "TimelineJS3 is needed in tests/e2e/timelinejs (npm install there; .ci/test does)"
        )
    document = server.get("/api/organisations/cicopa/timelinejs").json()
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/dist/css/timeline.css"></head><body>'
        '<div id="timeline" style="width:100%;height:640px"></div>'
        '<script src="/dist/js/timeline.js"></script><script>'
        f"window.timeline = new TL.Timeline('timeline', {json.dumps(document)}, "
        "{script_path: location.origin + '/dist/js/', font: null, hash_bookmark: false});"
        "</script></body></html>"
    )
    (tmp_path / "dist").symlink_to(TIMELINEJS)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{static.server_address[1]}/index.html")
        page.wait_for_selector(".tl-slide", timeout=30_000)
        headlines = page.locator(".tl-slide .tl-headline").all_inner_texts()
        assert len(headlines) == len(document["events"]) + 1
        assert any("Marian Rybar appointed President" in h for h in headlines)
        assert any(HOSTILE in h for h in headlines)  # shown as text, not run
        assert page.evaluate("window.__pwned") is None
        shot(page, "timelinejs")
    finally:
        static.shutdown()
        static.server_close()
