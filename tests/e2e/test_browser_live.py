"""The timeline page updates itself from the live stream, in a real browser."""

from __future__ import annotations

import pytest

from tests.e2e.server import create_token, environment, serving
from tests.e2e.test_browser import HOSTILE, page  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_event_recorded_elsewhere_appears_in_its_place_with_a_notice(tmp_path, page):  # noqa: F811
    env = environment(f"sqlite:///{tmp_path / 'live.db'}")
    token = create_token(env, tmp_path, "live")
    auth = {"Authorization": f"Bearer {token}"}
    with serving(env, tmp_path) as server:

        def record(headline: str, occurred_on: str) -> dict:
            event = {
                "type": "milestone",
                "occurred_on": occurred_on,
                "data": {"headline": headline},
            }
            reply = server.post("/api/organisations/live/events", event, headers=auth)
            assert reply.status == 201, reply.body
            return reply.json()

        record("First steps", "1990")
        record("Much later", "2020")
        page.goto(server.base + "/organisations/live")
        assert page.locator("article.event").count() == 2
        assert page.locator("link[rel=alternate][type='application/atom+xml']").count() == 1
        page.wait_for_timeout(500)  # the stream is open
        middle = record(f"In between {HOSTILE}", "2005")
        placed = page.locator(f"#event-{middle['id']}")
        placed.wait_for(timeout=10_000)
        headlines = page.locator("article.event .what").all_inner_texts()
        assert [h.split(" <")[0] for h in headlines] == ["First steps", "In between", "Much later"]
        assert HOSTILE in headlines[1]  # shown as text
        notice = page.get_by_role("status")
        assert "A new event was just recorded" in notice.inner_text()
        assert notice.get_by_role("link").get_attribute("href") == f"#event-{middle['id']}"
        assert page.evaluate("window.__pwned") is None
        assert page.errors == []
