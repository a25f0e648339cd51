"""Recording history in a real browser (Debian's chromium through playwright) against a real
`timeline serve`: sign in with a token made by the CLI, record, watch the date preview, make
mistakes and see the form kept, correct and retract, with JavaScript on and off; and axe-core
(npm, pinned in tests/e2e/axe, installed by .ci/test) over the forms and the pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.server import create_token, environment, serving
from tests.e2e.test_browser import shot

pytestmark = pytest.mark.browser

AXE = Path(__file__).with_name("axe") / "node_modules" / "axe-core" / "axe.min.js"
WRITER = "Browser Historian"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`timeline serve` on the embedded default (it seeds CICOPA), and a token for a writer."""
    cwd = tmp_path_factory.mktemp("forms")
    env = environment(None)
    token = create_token(env, cwd, WRITER)
    with serving(env, cwd) as running:
        running.token = token
        yield running


def _page(browser, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    opened = context.new_page()
    opened.errors = []
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.on("console", lambda message: _console(opened, message))
    return context, opened


def _console(page, message) -> None:
    """Note a console error, but not the browser's own line for a refused form (a 422 page)."""
    if message.type == "error" and "status of 422" not in message.text:
        page.errors.append(message.text)


@pytest.fixture(params=["js", "no-js"])
def page(browser, request):
    context, opened = _page(browser, java_script_enabled=request.param == "js")
    opened.javascript = request.param == "js"
    yield opened
    context.close()


def sign_in(server, page) -> None:
    page.goto(server.base + "/organisations/cicopa")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Token").fill(server.token)
    page.get_by_role("button", name="Sign in").click()
    assert page.url == server.base + "/organisations/cicopa"
    assert f"Signed in as {WRITER}" in page.locator("header").inner_text()


def open_form(page, kind: str) -> None:
    page.get_by_role("link", name="Record an event of CICOPA").click()
    page.get_by_label("Kind of event").select_option(kind)
    page.get_by_role("button", name="Choose").click()
    page.wait_for_load_state()  # the preview's script has run
    assert f"type={kind}" in page.url


def recorded(server, event_id: str) -> dict:
    reply = server.get(f"/api/organisations/cicopa/events/{event_id}")
    assert reply.status == 200
    return reply.json()


def event_id_of(page) -> str:
    found = re.search(r"#event-([0-9a-f-]{36})$", page.url)
    assert found, page.url
    return found[1]


def test_record_a_mistake_then_correct_and_retract_it(server, page):
    sign_in(server, page)
    open_form(page, "office_holder_appointed")
    date = page.get_by_label("Date")
    if page.javascript:  # the preview reads the date back as the pages will
        date.fill("2019~")
        assert page.locator("#f-occurred_on-preview").inner_text() == "Reads as: c. 2019"
        date.fill("../2018-02")
        assert page.locator("#f-occurred_on-preview").inner_text() == "Reads as: by Feb 2018"
        date.fill("2005-02-30")
        assert "Feb 2005 has 28 days" in page.locator("#f-occurred_on-preview").inner_text()
        assert date.get_attribute("aria-invalid") == "true"
    date.fill("2017-13")
    page.locator("#f-data-role").fill("Treasurer")
    page.locator("#f-data-person-name").fill("Ada <b>Lovelace</b>")
    page.locator("#f-sources-0-title").fill("Minutes of the <script>window.__pwned=1</script>")
    page.locator("#f-sources-0-url").fill("https://example.org/minutes")
    page.get_by_role("button", name="Record the event").click()
    # refused: everything as typed, the error beside the date
    assert page.get_by_label("Date").input_value() == "2017-13"
    assert page.locator("#f-data-role").input_value() == "Treasurer"
    assert page.locator("#f-sources-0-title").input_value().startswith("Minutes of the <script>")
    assert "no month 13" in page.locator("#f-occurred_on-error").inner_text()
    assert page.get_by_label("Date").get_attribute("aria-invalid") == "true"
    assert page.locator("#problems").get_by_role("link", name="Date").count() == 1
    if page.javascript:
        assert page.evaluate("document.activeElement.id") == "problems"
    shot(page, f"form-refused-{'js' if page.javascript else 'nojs'}")
    page.get_by_label("Date").fill("2017")
    page.get_by_role("button", name="Record the event").click()
    event_id = event_id_of(page)
    article = page.locator(f"#event-{event_id}")
    assert "Ada <b>Lovelace</b> appointed Treasurer" in article.inner_text()
    assert page.evaluate("window.__pwned") is None
    stored = recorded(server, event_id)
    assert stored["recorded_by"] == WRITER
    assert stored["data"]["person"] == {"id": "ada-b-lovelace-b", "name": "Ada <b>Lovelace</b>"}
    # correct it from the event itself
    article.get_by_role("link", name=re.compile("^Correct")).click()
    assert page.get_by_label("Date").input_value() == "2017"
    assert page.locator("#f-data-role").input_value() == "Treasurer"
    page.get_by_label("Date").fill("2016~")
    page.get_by_label("Reason for the correction").fill("the minutes are of 2016")
    page.get_by_role("button", name="Record the correction").click()
    assert "#event-" in page.url
    assert recorded(server, event_id)["occurred_on"] == "2016~"
    assert "corrected: the minutes are of 2016" in page.locator(f"#event-{event_id}").inner_text()
    # and retract it
    page.locator(f"#event-{event_id}").get_by_role("link", name=re.compile("^Retract")).click()
    assert (
        "Ada <b>Lovelace</b> appointed Treasurer" in page.locator(".retracted-event").inner_text()
    )
    page.get_by_role("button", name="Retract the event").click()
    assert page.locator("#f-reason-error").count() == 1  # a reason is required
    page.get_by_label("Reason for the retraction").fill("recorded by mistake")
    page.get_by_role("button", name="Retract the event").click()
    retraction_id = event_id_of(page)
    assert page.locator(f"#event-{event_id}").count() == 0
    assert "recorded by mistake" in page.locator(f"#event-{retraction_id}").inner_text()
    assert recorded(server, event_id)["status"] == "retracted"
    assert recorded(server, retraction_id)["recorded_by"] == WRITER
    assert page.errors == []


def test_figures_with_more_sources_than_the_form_shows_at_first(server, page):
    sign_in(server, page)
    open_form(page, "figures_reported")
    page.get_by_label("Date").fill("2020")
    page.locator("#f-data-figures-0-name").fill("jobs")
    page.locator("#f-data-figures-0-value").fill("4000000")
    page.locator("#f-data-figures-0-qualifier").select_option("about")
    page.locator("#f-sources-0-title").fill("First report")
    page.locator("#f-sources-1-title").fill("Second report")
    page.get_by_role("button", name="Add another source").click()
    page.locator("#f-sources-2-title").fill("Third report")
    assert page.locator("#f-data-figures-0-value").input_value() == "4000000"
    page.get_by_role("button", name="Record the event").click()
    stored = recorded(server, event_id_of(page))
    assert stored["data"] == {"figures": {"jobs": 4000000}, "qualifiers": {"jobs": "about"}}
    assert [s["title"] for s in stored["sources"]] == [
        "First report",
        "Second report",
        "Third report",
    ]
    assert "about 4,000,000 jobs" in page.locator(f"#event-{stored['id']}").inner_text()


def test_the_forms_work_from_the_keyboard(server, browser):
    context, page = _page(browser)
    try:
        page.goto(server.base + "/sign-in")
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")
        for _ in range(10):
            if page.evaluate("document.activeElement.id") == "f-token":
                break
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "f-token"
        page.keyboard.type(server.token)
        page.keyboard.press("Enter")
        page.wait_for_url(server.base + "/")
        page.goto(server.base + "/organisations/cicopa/events/new?type=milestone")
        page.get_by_label("Date").focus()
        page.keyboard.type("2021-22")
        page.keyboard.press("Tab")
        page.keyboard.type("Typed from the keyboard")
        page.get_by_label("Headline").press("Enter")  # Enter in a text field submits the form
        stored = recorded(server, event_id_of(page))
        assert stored["data"]["headline"] == "Typed from the keyboard"
        assert stored["occurred_on"] == "2021-22"
    finally:
        context.close()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document).then(r => r.violations)")
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found
    ]


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_violations_on_the_forms_and_the_pages(server, browser, width):
    if not AXE.exists():
        pytest.fail("axe-core is needed in tests/e2e/axe (npm ci there; .ci/test does)")
    # axe is injected as a script of the test's own: only this context lets it past the CSP
    context, page = _page(browser, bypass_csp=True)
    page.set_viewport_size({"width": width, "height": 900})
    try:
        page.goto(server.base + "/sign-in")
        assert axe_violations(page) == []
        sign_in(server, page)
        event = server.get("/api/organisations/cicopa/events?limit=1").json()["events"][0]
        paths = [
            "/",
            "/organisations/cicopa",
            "/organisations/cicopa/at/1998",
            "/people/bruno-roelants",
            "/organisations/cicopa/events/new",
            "/organisations/cicopa/events/new?type=office_holder_appointed",
            "/organisations/cicopa/events/new?type=figures_reported",
            "/organisations/cicopa/events/new?type=renamed",
            f"/organisations/cicopa/events/{event['id']}/correct",
            f"/organisations/cicopa/events/{event['id']}/retract",
            "/new-organisation",
            "/sign-out",
        ]
        found = {}
        for path in paths:
            page.goto(server.base + path)
            found[path] = axe_violations(page)
        assert {path: v for path, v in found.items() if v} == {}
        page.goto(server.base + "/organisations/cicopa/events/new?type=member_joined")
        page.get_by_label("Date").fill("2017-13")
        page.get_by_role("button", name="Record the event").click()
        assert page.locator(".error").count() >= 2
        assert axe_violations(page) == [], "a refused form"
        if width < 500:
            shot(page, "form-refused-phone")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, "the form is wider than a phone"
    finally:
        context.close()
