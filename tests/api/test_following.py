"""Full-text search and the Atom feeds, through the Flask app on both databases."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from timeline.config import Config
from timeline.queries import Queries

ATOM = "{http://www.w3.org/2005/Atom}"


def post(client, auth, payload, org="cicopa"):
    response = client.post(f"/api/organisations/{org}/events", json=payload, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def document(title, occurred_on="2005", **data):
    return {
        "type": "document_adopted",
        "occurred_on": occurred_on,
        "data": {"title": title, **data},
    }


@pytest.fixture
def history(client, auth):
    """A few events whose words the tests look for."""
    return {
        "declaration": post(
            client, auth, document("World Declaration on Worker Cooperatives", place="Cartagena")
        ),
        "adopt": post(
            client,
            auth,
            {
                "type": "milestone",
                "occurred_on": "2011",
                "data": {"headline": "Members adopt a new strategy"},
                "sources": [
                    {"title": "Annual report", "quote": "the assembly voted 5 < 6 & <b>yes</b>"}
                ],
            },
        ),
        "adoption": post(
            client,
            auth,
            {
                "type": "milestone",
                "occurred_on": "2015",
                "data": {"headline": "Adoption of the statutes"},
                "note": "only the year is known",
            },
            org="ica",
        ),
    }


def search(client, **params):
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def ids(page):
    return [hit["event"]["id"] for hit in page["results"]]


def test_a_word_finds_its_inflections_in_headlines_titles_and_sources(client, history):
    found = set(ids(search(client, q="adopted")))
    assert found == {history["adopt"]["id"], history["adoption"]["id"]}
    assert ids(search(client, q="declarations cartagena")) == [history["declaration"]["id"]]
    assert ids(search(client, q="annual yes")) == [history["adopt"]["id"]]


def test_the_snippet_is_escaped_with_the_matched_words_marked(client, history):
    (hit,) = search(client, q="voted")["results"]
    assert "<mark>voted</mark>" in hit["snippet"]
    assert "5 &lt; 6 &amp;" in hit["snippet"]
    assert "<b>" not in hit["snippet"]


def test_filters_by_organisation_type_and_period(client, history):
    assert ids(search(client, q="adopt", org="ica")) == [history["adoption"]["id"]]
    assert ids(search(client, q="adopt", type="milestone", to="2012")) == [history["adopt"]["id"]]
    assert ids(search(client, q="adopt", **{"from": "2014"})) == [history["adoption"]["id"]]
    assert ids(search(client, q="declaration", type="milestone")) == []


def test_pages_follow_one_another_and_their_cursor_belongs_to_its_query(client, auth, history):
    for year in range(1990, 1995):
        post(client, auth, document(f"Charter of {year}", occurred_on=str(year)))
    first = search(client, q="charter", limit=2)
    second = search(client, q="charter", limit=2, cursor=first["next"])
    third = search(client, q="charter", limit=2, cursor=second["next"])
    assert third["next"] is None
    assert len(set(ids(first) + ids(second) + ids(third))) == 5
    other = client.get("/api/search", query_string={"q": "adopt", "cursor": first["next"]})
    assert other.status_code == 400


def test_a_retracted_event_is_left_out_and_a_corrected_one_is_found_by_its_new_text(
    client, auth, history
):
    post(
        client,
        auth,
        {"type": "retracted", "data": {"event_id": history["adopt"]["id"], "reason": "no source"}},
    )
    assert ids(search(client, q="strategy")) == []
    post(
        client,
        auth,
        {
            "type": "corrected",
            "data": {
                "event_id": history["declaration"]["id"],
                "reason": "misread",
                "data": {"title": "World Declaration on Social Cooperatives"},
            },
        },
    )
    assert ids(search(client, q="worker")) == []
    (hit,) = search(client, q="social")["results"]
    assert hit["event"]["id"] == history["declaration"]["id"]
    assert hit["event"]["status"] == "corrected"


@pytest.mark.parametrize("q", [None, "", "  ", "?!-"])
def test_a_query_without_a_word_is_422(client, q):
    response = client.get("/api/search", query_string={} if q is None else {"q": q})
    assert response.status_code == 422
    assert "q" in response.json["errors"]


def test_the_search_page_escapes_keeps_the_query_and_pages(client, auth, history):
    post(client, auth, document("<script>alert(1)</script> charter"))
    for year in range(1990, 1992):
        post(client, auth, document(f"Charter of {year}", occurred_on=str(year)))
    page = client.get("/search", query_string={"q": "charter <script>"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>alert" not in text
    assert 'value="charter &lt;script&gt;"' in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; charter adopted" in text
    assert "<mark>script</mark>" in text or "<mark>charter</mark>" in text
    assert "#event-" in text
    listed = client.get("/search", query_string={"q": "charter"}).get_data(as_text=True)
    assert listed.count('<li>\n      <a href="/organisations/cicopa#event-') == 3
    assert client.get("/search", query_string={"q": "!!"}).status_code == 400


def feed(client, path="/api/feed.atom", **headers):
    response = client.get(path, headers=headers)
    return response, (ET.fromstring(response.data) if response.status_code == 200 else None)


def test_the_feed_is_atom_with_the_latest_events_newest_first_as_sentences(client, auth, history):
    retraction = post(
        client,
        auth,
        {"type": "retracted", "data": {"event_id": history["adopt"]["id"], "reason": "no source"}},
    )
    response, root = feed(client)
    assert response.mimetype == "application/atom+xml"
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    entries = root.findall(f"{ATOM}entry")
    expected = [retraction, history["adoption"], history["adopt"], history["declaration"]]
    assert [e.find(f"{ATOM}id").text for e in entries] == [f"urn:uuid:{x['id']}" for x in expected]
    first = entries[0]
    for required in ("id", "title", "updated", "link"):
        assert first.find(f"{ATOM}{required}") is not None, required
    declaration = entries[3]
    assert (
        declaration.find(f"{ATOM}title").text == "World Declaration on Worker Cooperatives adopted"
    )
    link = declaration.find(f"{ATOM}link").get("href")
    assert link.endswith(f"/organisations/cicopa#event-{history['declaration']['id']}")


def test_an_organisation_feed_holds_its_events_only_and_an_unknown_one_is_404(client, history):
    _, root = feed(client, "/api/organisations/ica/feed.atom")
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}id").text for e in entries] == [f"urn:uuid:{history['adoption']['id']}"]
    assert client.get("/api/organisations/nobody/feed.atom").status_code == 404


def test_a_conditional_get_of_an_unchanged_feed_is_304_until_an_event_is_recorded(
    client, auth, history
):
    response, _ = feed(client, "/api/organisations/cicopa/feed.atom")
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    again, _ = feed(client, "/api/organisations/cicopa/feed.atom", **{"If-None-Match": etag})
    assert again.status_code == 304
    since, _ = feed(
        client, "/api/organisations/cicopa/feed.atom", **{"If-Modified-Since": modified}
    )
    assert since.status_code == 304
    post(client, auth, document("Another charter"))
    changed, _ = feed(client, "/api/organisations/cicopa/feed.atom", **{"If-None-Match": etag})
    assert changed.status_code == 200


def test_the_timeline_page_links_its_feed(client, history):
    text = client.get("/organisations/cicopa").get_data(as_text=True)
    assert '<link rel="alternate" type="application/atom+xml"' in text
    assert 'href="/api/organisations/cicopa/feed.atom"' in text


def test_without_the_servers_front_the_stream_answers_the_events_after_since_then_ends(
    client, history
):
    response = client.get("/api/stream", query_string={"since": 0, "org": "cicopa"})
    assert response.mimetype == "text/event-stream"
    blocks = [b for b in response.get_data(as_text=True).split("\n\n") if b.startswith("id:")]
    events = [json.loads(block.split("data: ", 1)[1]) for block in blocks]
    assert [e["id"] for e in events] == [history["declaration"]["id"], history["adopt"]["id"]]
    assert all("\nevent: recorded\n" in block for block in blocks)
    resumed = client.get("/api/stream", headers={"Last-Event-ID": blocks[0].split("\n")[0][4:]})
    assert resumed.get_data(as_text=True).count("event: recorded") == 2
    assert client.get("/api/stream", query_string={"since": "x"}).status_code == 422


def test_a_rebuild_of_the_read_model_rebuilds_the_search_index(client, auth, services, history):
    post(
        client,
        auth,
        {"type": "retracted", "data": {"event_id": history["adopt"]["id"], "reason": "no"}},
    )
    before = {q: ids(search(client, q=q)) for q in ("adopted", "cartagena", "statutes")}
    services.rebuild_projections()
    assert {q: ids(search(client, q=q)) for q in before} == before
    assert before["adopted"] == [history["adoption"]["id"]]


def test_many_matches_are_ranked_a_window_of_the_newest_at_a_time_and_all_paged(
    client, auth, services
):
    titles = ["Charter, charter and charter", "Charter of 1990", "Charter of 1991"]
    titles += ["Charter of 1992", "Charter, charter and charter again", "Charter of 1993"]
    made = [post(client, auth, document(title))["id"] for title in titles]
    older, newer = made[:3], made[3:]
    whole = services.queries.search("charter", limit=10).results
    assert {hit["event"]["id"] for hit in whole[:2]} == {made[0], made[4]}  # ranked whole
    assert Config.from_env({"TIMELINE_SEARCH_RANK_WINDOW": "3"}).search_rank_window == 3
    windowed = Queries(services.app, services.queries.cursors, services.reads, rank_window=3)
    found, cursor = [], None
    while True:
        page = windowed.search("charter", limit=2, cursor=cursor)
        found += [hit["event"]["id"] for hit in page.results]
        if page.next is None:
            break
        if cursor is None:  # a match recorded while paging is left to a new search
            post(client, auth, document("Charter, charter and charter at last"))
        cursor = page.next
    assert len(found) == 6
    assert found[0] == made[4] and set(found[:3]) == set(newer)
    assert found[3] == made[0] and set(found[3:]) == set(older)
    mixed = client.get("/api/search", query_string={"q": "charter", "cursor": cursor})
    assert mixed.status_code == 400  # a cursor of another window size is another query's
