"""EDTF level 1 over HTTP: every form accepted or refused, and the `at` rule, the lists, the
pages and the TimelineJS export for intervals and open ends.

Each test runs on an SQLite file and on PostgreSQL (the `services` fixture).
"""

from __future__ import annotations

import random
from datetime import date

import pytest

from events.dates import ALLOWED
from timeline.bootstrap import Services

ORG = "dates"
EVENTS = f"/api/organisations/{ORG}/events"


def post(client, auth, occurred_on, kind="milestone", data=None):
    payload = {"type": kind, "occurred_on": occurred_on, "data": data or {"headline": "news"}}
    return client.post(EVENTS, json=payload, headers=auth)


def state(client, at):
    response = client.get(f"/api/organisations/{ORG}/state?at={at}")
    assert response.status_code == 200, response.data
    return response.get_json()


VALID = [
    "2004-02-17",
    "2017-09~",
    "1947?",
    "2003%",
    "201X",
    "19XX",
    "2017-XX",
    "2017-05-XX",
    "2017-XX-XX",
    "2018-21",
    "2017-24",
    "1998/2003",
    "../2018-02",
    "2018-02/..",
    "/2018-02",
    "2018-02/",
    "2004-06~/2006-08?",
]


@pytest.mark.parametrize("occurred_on", VALID)
def test_each_level_1_form_is_accepted_and_stored_as_sent(client, auth, occurred_on):
    response = post(client, auth, occurred_on)

    assert response.status_code == 201, response.data
    assert response.get_json()["occurred_on"] == occurred_on
    listed = client.get(EVENTS).get_json()["events"]
    assert [event["occurred_on"] for event in listed] == [occurred_on]


INVALID = [
    "1XXX",
    "201X-05",
    "201X-XX",
    "../..",
    "/",
    "2003/1998",
    "2005-02-30",
    "2017-13",
    "2018-25",
    "{1998,2003}",
    "2004-06-~11",
    "1985-04-12T23:20:30Z",
    "-1985",
    "Y170000002",
    "19470",
]


@pytest.mark.parametrize("occurred_on", INVALID)
def test_a_date_outside_level_0_and_1_is_422_saying_what_is_allowed(
    client, auth, services: Services, occurred_on
):
    response = post(client, auth, occurred_on)

    assert response.status_code == 422, response.data
    body = response.get_json()
    assert list(body["errors"]) == ["occurred_on"]
    assert body["errors"]["occurred_on"].endswith(ALLOWED)
    assert (services.app.recorder.max_notification_id() or 0) == 0


def test_an_interval_counts_at_the_end_of_its_last_day_and_is_uncertain_within_it(client, auth):
    post(client, auth, "1990", "founded", {"name": "Old"})
    renamed = post(client, auth, "1998/2003", "renamed", {"name": "New"}).get_json()

    assert state(client, "1997")["uncertain"] == []
    assert state(client, "1997")["name"] == "Old"
    during = state(client, "2000")
    assert during["name"] == "Old"
    assert [event["id"] for event in during["uncertain"]] == [renamed["id"]]
    after = state(client, "2003")
    assert after["name"] == "New"
    assert after["uncertain"] == []


def test_an_open_start_is_uncertain_before_its_end_and_counts_from_it(client, auth):
    post(client, auth, "1990", "founded", {"name": "Old"})
    renamed = post(client, auth, "../2018-02", "renamed", {"name": "New"}).get_json()

    for at in ("1989", "2017", "2018-01"):
        found = state(client, at)
        assert [event["id"] for event in found["uncertain"]] == [renamed["id"]], at
        assert found["name"] == ("Old" if at != "1989" else None)
    counted = state(client, "2018-02")
    assert counted["name"] == "New"
    assert counted["uncertain"] == []


@pytest.mark.parametrize("occurred_on", ["2018-02/..", "2018-02/"])
def test_an_open_or_unknown_end_never_counts_and_is_uncertain_from_its_start(
    client, auth, occurred_on
):
    post(client, auth, "1990", "founded", {"name": "Old"})
    renamed = post(client, auth, occurred_on, "renamed", {"name": "New"}).get_json()

    assert state(client, "2018-01")["uncertain"] == []
    for at in ("2018-02-01", "2018", "2500"):
        found = state(client, at)
        assert found["name"] == "Old", at
        assert [event["id"] for event in found["uncertain"]] == [renamed["id"]], at


def test_unspecified_digits_and_seasons_follow_the_same_rule(client, auth):
    decade = post(client, auth, "201X").get_json()
    winter = post(client, auth, "2017-24").get_json()

    assert {e["id"] for e in state(client, "2017-12-31")["uncertain"]} == {
        decade["id"],
        winter["id"],
    }
    assert [e["id"] for e in state(client, "2018-02")["uncertain"]] == [decade["id"]]
    assert state(client, "2019")["uncertain"] == []


def test_events_are_listed_by_their_first_day_or_without_one_by_their_last(client, auth):
    for occurred_on in ("2018-02/..", "../2018-01", "2017-24", "201X", "2018"):
        post(client, auth, occurred_on)

    listed = [e["occurred_on"] for e in client.get(EVENTS).get_json()["events"]]

    assert listed == ["201X", "2017-24", "2018", "../2018-01", "2018-02/.."]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from=2015&to=2015", ["201X", "../2018-01", "1998/2016"]),
        ("from=2019", ["201X", "2018-02/.."]),
        ("to=1999", ["../2018-01", "1998/2016"]),
        ("from=2018-02&to=2018-02", ["201X", "2018-02/.."]),
    ],
)
def test_a_list_period_holds_the_events_whose_range_overlaps_it(client, auth, query, expected):
    for occurred_on in ("2018-02/..", "../2018-01", "201X", "1998/2016"):
        post(client, auth, occurred_on)

    listed = client.get(f"{EVENTS}?{query}").get_json()["events"]

    assert sorted(e["occurred_on"] for e in listed) == sorted(expected)


@pytest.mark.parametrize("bad", ["201X", "1998/2003", "2018-21", "2018?"])
def test_at_from_and_to_stay_level_0(client, bad):
    for query in (f"state?at={bad}", f"events?from={bad}", f"events?to={bad}"):
        response = client.get(f"/api/organisations/{ORG}/{query}")
        assert response.status_code in (404, 422), (query, response.data)
        if response.status_code == 422:
            assert "YYYY, YYYY-MM or YYYY-MM-DD" in response.get_data(as_text=True), query


@pytest.mark.parametrize(
    ("occurred_on", "shown"),
    [
        ("201X", "2010s"),
        ("19XX", "1900s"),
        ("2017-XX", "2017"),
        ("2018-21", "spring 2018"),
        ("2017-24", "winter 2017-18"),
        ("../2018-02", "by Feb 2018"),
        ("2018-02/..", "Feb 2018 or later"),
        ("1998/2003", "between 1998 and 2003"),
        ("2019~", "c. 2019"),
        ("2003?", "2003?"),
        ("1984~/2004-06?", "between c. 1984 and Jun 2004?"),
    ],
)
def test_the_timeline_page_and_timelinejs_say_each_date_as_a_reader_does(
    client, auth, occurred_on, shown
):
    post(client, auth, occurred_on)

    assert f">{shown}<" in client.get(f"/organisations/{ORG}").get_data(as_text=True)
    slide = client.get(f"/api/organisations/{ORG}/timelinejs").get_json()["events"][0]
    assert slide["start_date"]["display_date"] == shown


@pytest.mark.parametrize(
    ("occurred_on", "start_date"),
    [
        ("../2018-02", {"year": 2018, "month": 2}),
        ("/2018", {"year": 2018}),
        ("2018-02-03/..", {"year": 2018, "month": 2, "day": 3}),
        ("201X", {"year": 2010}),
        ("2017-24", {"year": 2017, "month": 12}),
        ("1998/2003", {"year": 1998}),
    ],
)
def test_timelinejs_starts_each_slide_on_the_known_side(client, auth, occurred_on, start_date):
    post(client, auth, occurred_on)

    slide = client.get(f"/api/organisations/{ORG}/timelinejs").get_json()["events"][0]
    assert {k: v for k, v in slide["start_date"].items() if k != "display_date"} == start_date


def _pages(client, query: str) -> list[str]:
    """Every event of a list, followed page by page through its cursors, as ids."""
    page = client.get(f"{EVENTS}?{query}").get_json()
    seen = [e["id"] for e in page["events"]]
    while page["next"]:
        page = client.get(f"{EVENTS}?{query}&cursor={page['next']}").get_json()
        seen.extend(e["id"] for e in page["events"])
    return seen


def test_a_period_paged_a_few_at_a_time_holds_each_overlapping_event_once_in_order(
    client, auth, services
):
    """Short ranges near the period's start and the long ones that began long before it
    (decades, intervals over years, open ends) are two seeks merged: paged a few at a time,
    they give the events that overlap the period, in the list's own order, each once."""
    rng = random.Random(22)
    forms = [
        str,
        lambda y: f"{y}-{rng.randint(1, 12):02d}",
        lambda y: f"{y}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        lambda y: f"{y}/{y + rng.randint(2, 60)}",
        lambda y: f"{y}/..",
        lambda y: f"../{y}",
        lambda y: f"{str(y)[:3]}X",
        lambda y: f"{str(y)[:2]}XX",
    ]
    for _ in range(90):
        assert post(client, auth, rng.choice(forms)(rng.randint(1900, 2020))).status_code == 201
    whole = _pages(client, "limit=1000")
    with services.engine.connect() as conn:
        last_days = dict(
            conn.exec_driver_sql(
                f"SELECT event_id, last_day FROM tl_events WHERE organisation = '{ORG}'"
            ).all()
        )
    for year in (1930, 1975, 1999, 2019):
        start = date(year, 1, 1).toordinal()
        expected = [event for event in whole if last_days[event] >= start]
        assert _pages(client, f"from={year}&limit=7") == expected, year
        assert _pages(client, f"from={year}&type=milestone&limit=7") == expected, year
        assert _pages(client, f"from={year}&type=renamed&limit=7") == [], year
