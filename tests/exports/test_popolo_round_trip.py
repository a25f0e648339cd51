"""Popolo out and back in: an export of the CICOPA history imported into an empty database
gives the same states for what Popolo expresses (existence, names, office holders, members),
and a Popolo file written by hand becomes events that cite it."""

from __future__ import annotations

import json

import pytest

from timeline.exports.popolo_import import PopoloRejected
from timeline.exports.service import Exports

YEARS = [
    "1950",
    "1996",
    "1997",
    "1998",
    "2002",
    "2003",
    "2006",
    "2011",
    "2014",
    "2017",
    "2018",
    "2019",
    "2023",
    "2026",
]


def expressed(state: dict) -> dict:
    """The parts of a state that Popolo carries."""
    return {
        "exists": state["exists"],
        "name": state["name"],
        "names": {lang: named["name"] for lang, named in state["names"].items()},
        "office_holders": [
            (h["role"], h["person"]["id"], h["person"]["name"], h["since"])
            for h in state["office_holders"]
        ],
        "roles_without_known_holder": [
            (r["role"], r["since"], r["last_holder"]["id"])
            for r in state["roles_without_known_holder"]
        ],
        "members": [(m["id"], m["name"], m["since"]) for m in state["members"]],
    }


def test_an_exported_history_imported_into_an_empty_database_gives_the_same_states(seeded, empty):
    document = Exports(seeded.queries).popolo(None, "http://timeline.test/")
    report = Exports(empty.queries, empty.commands).import_popolo(
        json.dumps(document), "cicopa.popolo.json"
    )
    assert report.imported > 0
    for org in ("cicopa", "cecop", "ica"):
        for year in YEARS:
            before = expressed(seeded.queries.state(org, year))
            after = expressed(empty.queries.state(org, year))
            assert after == before, (org, year)
    again = Exports(empty.queries, empty.commands).import_popolo(
        json.dumps(document), "cicopa.popolo.json"
    )
    assert again.imported == 0


HAND_WRITTEN = {
    "organizations": [
        {
            "id": "guild",
            "name": "Weavers' Guild",
            "founding_date": "1901",
            "other_names": [
                {"name": "Weavers' Society", "start_date": "1901", "end_date": "1920"},
                {"name": "Weavers' Guild", "start_date": "1920-05"},
                {"name": "Guilde des tisserands", "start_date": "1950", "language": "fr"},
            ],
            "sources": [{"url": "https://example.org/guild-history", "note": "Guild history"}],
        },
        {
            "id": "mill-coop",
            "name": "Mill Co-operative",
            "founding_date": "1934",
            "other_names": [{"name": "Mill Society", "end_date": "1950-04"}],
        },
    ],
    "persons": [{"id": "ada-loom", "name": "Ada Loom"}, {"id": "ben-warp", "name": "Ben Warp"}],
    "posts": [{"id": "chair", "label": "Chair", "organization_id": "guild"}],
    "memberships": [
        {
            "person_id": "ada-loom",
            "organization_id": "guild",
            "post_id": "chair",
            "start_date": "1930",
            "end_date": "1945-06-30",
        },
        {
            "person_id": "ben-warp",
            "organization_id": "guild",
            "role": "Treasurer",
            "start_date": "1931-02",
        },
        {
            "member": {"@type": "Organization", "id": "mill-coop"},
            "organization_id": "guild",
            "start_date": "1935",
            "end_date": "1960",
        },
    ],
}


def test_a_hand_written_popolo_file_becomes_events_that_cite_it(services):
    exports = Exports(services.queries, services.commands)
    report = exports.import_popolo(json.dumps(HAND_WRITTEN), "guild.json")
    # guild: founded, 2 renamed, 3 for the offices, joined and left; mill-coop: founded, renamed
    assert report.imported == 10
    in_1925 = services.queries.state("guild", "1925")
    assert (in_1925["exists"], in_1925["name"]) == (True, "Weavers' Guild")
    assert services.queries.state("guild", "1919")["name"] == "Weavers' Society"
    in_1940 = services.queries.state("guild", "1940")
    assert [(h["role"], h["person"]["name"], h["since"]) for h in in_1940["office_holders"]] == [
        ("Chair", "Ada Loom", "1930"),
        ("Treasurer", "Ben Warp", "1931-02"),
    ]
    assert [(m["id"], m["name"], m["since"]) for m in in_1940["members"]] == [
        ("mill-coop", "Mill Co-operative", "1935")
    ]
    mill = [services.queries.state("mill-coop", year)["name"] for year in ("1940", "1950")]
    assert mill == ["Mill Society", "Mill Co-operative"]
    in_1961 = services.queries.state("guild", "1961")
    assert in_1961["members"] == []
    assert in_1961["names"]["fr"]["name"] == "Guilde des tisserands"
    assert [r["role"] for r in in_1961["roles_without_known_holder"]] == ["Chair"]
    sources = in_1940["office_holders"][0]["sources"]
    assert {"title": "Popolo file guild.json", "file": "guild.json"} in sources
    founding = next(services.queries.all_events("guild", types="founded"))
    assert {"title": "Guild history", "url": "https://example.org/guild-history"} in founding[
        "sources"
    ]
    assert exports.import_popolo(json.dumps(HAND_WRITTEN), "guild.json").imported == 0


def test_a_popolo_membership_with_no_date_is_refused_and_nothing_is_written(services):
    undated = {
        **HAND_WRITTEN,
        "memberships": [
            *HAND_WRITTEN["memberships"],
            {"person_id": "ben-warp", "organization_id": "guild", "role": "Secretary"},
        ],
    }
    with pytest.raises(PopoloRejected, match=r"memberships\[3\]"):
        Exports(services.queries, services.commands).import_popolo(json.dumps(undated), "x.json")
    assert services.queries.organisations() == []


def test_a_popolo_event_the_domain_refuses_names_its_place_in_the_file(services):
    bad = {"organizations": [{"id": "guild", "name": "G", "founding_date": "1901-02-30"}]}
    with pytest.raises(PopoloRejected, match=r"organizations\[0\]"):
        Exports(services.queries, services.commands).import_popolo(json.dumps(bad), "x.json")


def test_an_organisation_known_only_from_its_figures_still_cites_its_sources_in_popolo(services):
    source = {"title": "Annual report", "url": "https://example.org/report"}
    payload = {"type": "figures_reported", "occurred_on": "2001", "data": {"figures": {"jobs": 4}}}
    services.commands.append("counted", {**payload, "sources": [source]}, recorded_by="test")
    document = Exports(services.queries).popolo(["counted"], "http://timeline.test/")
    assert document["organizations"] == [
        {
            "id": "counted",
            "name": None,
            "sources": [{"url": "https://example.org/report", "note": "Annual report"}],
            "other_names": [],
        }
    ]


def test_a_dissolution_is_dated_in_popolo_unless_the_organisation_was_founded_again(services):
    def record(kind, occurred_on, data):
        payload = {"type": kind, "occurred_on": occurred_on, "data": data}
        services.commands.append("phoenix", payload, recorded_by="test")

    record("founded", "1901", {"name": "Phoenix"})
    record("dissolved", "1930-21", {})
    dissolved = Exports(services.queries).popolo(["phoenix"], "http://timeline.test/")
    phoenix = dissolved["organizations"][0]
    assert (phoenix["founding_date"], phoenix["dissolution_date"]) == ("1901", "1930-05")
    assert phoenix["edtf_dissolution_date"] == "1930-21"
    record("founded", "1950", {"name": "Phoenix"})
    refounded = Exports(services.queries).popolo(["phoenix"], "http://timeline.test/")
    phoenix = refounded["organizations"][0]
    assert phoenix["founding_date"] == "1950" and "dissolution_date" not in phoenix


def test_memberships_nested_in_persons_and_organizations_are_imported_too(services):
    document = {
        "organizations": [
            {
                "id": "league",
                "name": "League",
                "founding_date": "1990",
                "memberships": [
                    {
                        "member": {"@type": "Organization", "id": "club", "name": "Club"},
                        "start_date": "1995",
                    }
                ],
            }
        ],
        "posts": [{"id": "p1", "label": "Captain", "organization_id": "league"}],
        "persons": [
            {
                "id": "cy-kick",
                "name": "Cy Kick",
                "memberships": [{"post_id": "p1", "start_date": "1991", "end_date": "1999"}],
            },
            {
                "id": "di-goal",
                "name": "Di Goal",
                "memberships": [{"post_id": "p1", "start_date": "1999"}],
            },
        ],
    }
    Exports(services.queries, services.commands).import_popolo(json.dumps(document), "l.json")
    state = services.queries.state("league", "1999")
    assert [(h["role"], h["person"]["name"]) for h in state["office_holders"]] == [
        ("Captain", "Di Goal")
    ]
    assert state["roles_without_known_holder"] == []  # the successor ended the first tenure
    assert [m["id"] for m in state["members"]] == ["club"]
