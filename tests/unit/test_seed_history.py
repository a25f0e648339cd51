"""The shipped CICOPA history: every line is a valid event, and every event rests on its sources.

These tests read the packaged `timeline/data/cicopa.jsonl` (as `timeline seed` does) and need
no database. The checks against the source documents read the five seed files kept beside the
repository, in `../shared/seeds`; they are skipped, saying so, where that folder is absent.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from events.dates import EDTFDate
from events.validation import EVENT_TYPES, is_slug, parse_event
from timeline.commands import seed_lines

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_FILES = (
    "000_7b168b10ffb2243d.txt",
    "001_36a86ec3056d1409.txt",
    "002_9841d91a04d69b9b.txt",
    "003_8246a2747768bb40.txt",
    "004_624ee45075fb9798.txt",
)
REGIONAL = ("cecop", "cicopa-americas", "cicopa-north-america", "cicopa-mercosur")
needs_seeds = pytest.mark.skipif(
    not SEEDS.is_dir(),
    reason=f"the seed documents are not at {SEEDS} (../shared/seeds beside the repository)",
)


def collapse(text: str) -> str:
    """Text with every run of whitespace (non-breaking spaces included) made one space."""
    return " ".join(text.split())


@cache
def events() -> tuple[dict[str, Any], ...]:
    """The shipped history, one dict per non-blank line."""
    return tuple(json.loads(line) for line in seed_lines() if line.strip())


@cache
def seed_text(name: str) -> str:
    return collapse((SEEDS / name).read_text(encoding="utf-8"))


def of(organisation: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [
        event
        for event in events()
        if event["organisation"] == organisation and (kind is None or event["type"] == kind)
    ]


def all_sources() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(event, source) for event in events() for source in event.get("sources", [])]


def test_the_history_is_shipped_and_not_empty() -> None:
    assert len(events()) >= 40


def test_every_line_is_a_json_object_with_an_id_and_an_organisation() -> None:
    for number, line in enumerate(seed_lines(), start=1):
        if not line.strip():
            continue
        event = json.loads(line)
        assert isinstance(event, dict), f"line {number} is not an object"
        assert {"id", "organisation", "type", "occurred_on"} <= event.keys(), f"line {number}"


def test_every_event_parses_as_a_valid_event_without_its_id_and_organisation() -> None:
    for event in events():
        payload = {k: v for k, v in event.items() if k not in ("id", "organisation")}
        draft = parse_event(payload)
        assert draft.type in EVENT_TYPES
        assert draft.occurred_on is not None, "the shipped history has no corrections"


def test_ids_are_unique_uuids() -> None:
    ids = [event["id"] for event in events()]
    for event_id in ids:
        assert str(uuid.UUID(event_id)) == event_id, f"{event_id!r} is not a canonical UUID"
    duplicated = [event_id for event_id, count in Counter(ids).items() if count > 1]
    assert not duplicated


def test_every_organisation_id_is_a_slug() -> None:
    for event in events():
        assert is_slug(event["organisation"]), event["organisation"]


def test_the_expected_organisations_are_all_there() -> None:
    organisations = {event["organisation"] for event in events()}
    assert {"cicopa", "ica", *REGIONAL} <= organisations


def test_every_event_has_at_least_one_source_with_a_title_and_a_quote() -> None:
    for event in events():
        assert event.get("sources"), f"event {event['id']} cites no source"
        for source in event["sources"]:
            assert source.get("title", "").strip(), event["id"]
            assert source.get("quote", "").strip(), f"event {event['id']} quotes nothing"


def test_every_source_is_a_seed_file_or_a_web_address() -> None:
    for event, source in all_sources():
        if "file" in source:
            assert source["file"] in SEED_FILES, f"{event['id']}: unknown file {source['file']}"
        else:
            assert re.match(r"https?://", source.get("url", "")), (
                f"{event['id']}: a source without a file needs an http(s) url"
            )


def test_every_qualified_or_external_date_explains_itself_in_a_note() -> None:
    for event in events():
        date = EDTFDate.parse(event["occurred_on"])
        external = any("file" not in source for source in event["sources"])
        if date.qualifier or external:
            assert event.get("note", "").strip(), (
                f"{event['id']} ({event['occurred_on']}) needs a note saying how it was dated"
            )


@needs_seeds
def test_every_quote_appears_verbatim_in_its_seed_file() -> None:
    for event, source in all_sources():
        if "file" in source:
            assert collapse(source["quote"]) in seed_text(source["file"]), (
                f"event {event['id']}: {source['quote']!r} is not in {source['file']}"
            )


@needs_seeds
def test_every_seed_document_is_cited() -> None:
    cited = {source["file"] for _, source in all_sources() if "file" in source}
    assert cited == set(SEED_FILES) == {path.name for path in SEEDS.glob("*.txt")}


def membership_reports() -> set[tuple[float, float]]:
    reports = set()
    for event in of("cicopa", "figures_reported"):
        figures = event["data"]["figures"]
        if "member_organisations" in figures:
            reports.add((figures["member_organisations"], figures.get("countries")))
    return reports


def test_the_three_conflicting_membership_figures_are_all_kept() -> None:
    assert {(65, 45), (46, 30), (52, 36)} <= membership_reports()


def test_the_conflicting_enterprise_and_job_figures_are_all_kept() -> None:
    enterprises, jobs = set(), set()
    for event in of("cicopa", "figures_reported"):
        figures = event["data"]["figures"]
        enterprises.add(figures.get("enterprises"))
        jobs.add(figures.get("jobs"))
    assert {65000, 68000} <= enterprises
    assert {3000000, 4000000} <= jobs


def test_the_1998_figures_hold_in_1998() -> None:
    (event,) = [
        e
        for e in of("cicopa", "figures_reported")
        if e["data"]["figures"].get("member_organisations") == 65
    ]
    assert event["occurred_on"] == "1998"
    (ica,) = of("ica", "figures_reported")
    assert ica["occurred_on"] == "1998"
    assert ica["data"]["figures"]["national_members"] == 232
    assert ica["data"]["figures"]["countries"] == 93


def test_cicopa_is_founded_in_1947_as_a_part_of_the_ica_founded_in_1895() -> None:
    (founded,) = of("cicopa", "founded")
    assert founded["occurred_on"] == "1947"
    assert founded["data"]["acronym"] == "CICOPA"
    assert [e["occurred_on"] for e in of("cicopa", "affiliated")] == ["1947"]
    assert of("cicopa", "affiliated")[0]["data"]["parent"] == "ica"
    assert [e["occurred_on"] for e in of("ica", "founded")] == ["1895"]


def test_cicopa_is_renamed_to_its_1998_and_current_english_names() -> None:
    names = {e["data"]["name"]: e["occurred_on"] for e in of("cicopa", "renamed")}
    english_1998 = (
        "International Organisation of Industrial, Artisanal and Service Producers' Co-operatives"
    )
    assert names[english_1998] == "1998"
    assert "International Organisation of Industrial and Service Cooperatives" in names


def test_the_world_declaration_has_its_three_stages_with_their_dates() -> None:
    stages = sorted(
        (e["occurred_on"], e["data"].get("body"), e["data"].get("place"))
        for e in of("cicopa", "document_adopted")
        if e["data"]["title"] == "World Declaration on Cooperative Worker Ownership"
    )
    assert stages == [
        ("2003", "CICOPA General Assembly", "Oslo, Norway"),
        ("2004-02-17", "CICOPA Executive Committee", None),
        ("2005", "ICA General Assembly", "Cartagena, Colombia"),
    ]


def test_the_world_standards_of_social_cooperatives_have_both_approvals() -> None:
    dates = sorted(
        (e["occurred_on"], e["data"].get("place"))
        for e in of("cicopa", "document_adopted")
        if e["data"]["title"] == "World Standards of Social Cooperatives"
    )
    assert dates == [("2009-11-18", "Geneva, Switzerland"), ("2011-11-16", "Cancun, Mexico")]


def appointments(organisation: str, role: str) -> list[tuple[str, str]]:
    return [
        (e["data"]["person"]["id"], e["occurred_on"])
        for e in of(organisation, "office_holder_appointed")
        if e["data"]["role"] == role
    ]


def departures(organisation: str, role: str) -> list[str]:
    return [
        e["data"]["person_id"]
        for e in of(organisation, "office_holder_left")
        if e["data"]["role"] == role
    ]


def test_the_presidents_and_the_1998_secretary_are_appointed() -> None:
    presidents = dict(appointments("cicopa", "President"))
    assert presidents["marian-rybar"] <= "1998"
    assert presidents["manuel-mariscal"] == "2011-11-16"
    assert appointments("cicopa", "Secretary") == [("jan-eirik-imbsen", "1998")]


def test_bruno_roelants_is_appointed_director_general_at_the_ica() -> None:
    assert [person for person, _ in appointments("ica", "Director-General")] == ["bruno-roelants"]
    (milestone,) = [e for e in of("ica", "milestone") if "Roelants" in e["data"]["headline"]]
    assert milestone["occurred_on"] == "2018-01-18"


def test_bruno_roelants_leaves_as_secretary_general_at_cicopa_and_cecop() -> None:
    assert "bruno-roelants" in departures("cicopa", "Secretary General")
    assert "bruno-roelants" in departures("cecop", "Secretary General")
    assert [p for p, _ in appointments("cicopa", "Secretary General")] == ["bruno-roelants"]


def test_roelants_leaves_cicopa_no_earlier_than_the_ica_announcement() -> None:
    (left,) = [
        e for e in of("cicopa", "office_holder_left") if e["data"]["person_id"] == "bruno-roelants"
    ]
    (announced,) = [e for e in of("ica", "milestone") if "Roelants" in e["data"]["headline"]]
    left_on = EDTFDate.parse(left["occurred_on"])
    assert left_on.last_day >= EDTFDate.parse(announced["occurred_on"]).first_day


def test_the_regional_organisations_are_affiliated_to_their_parents() -> None:
    parents = {
        organisation: [e["data"]["parent"] for e in of(organisation, "affiliated")]
        for organisation in REGIONAL
    }
    assert parents == {
        "cecop": ["cicopa"],
        "cicopa-americas": ["cicopa"],
        "cicopa-north-america": ["cicopa-americas"],
        "cicopa-mercosur": ["cicopa-americas"],
    }


def test_people_keep_one_id_and_one_spelling_of_their_name() -> None:
    names: dict[str, set[str]] = {}
    for event in events():
        if event["type"] == "office_holder_appointed":
            person = event["data"]["person"]
            names.setdefault(person["id"], set()).add(person["name"])
    for person_id, spellings in names.items():
        assert len(spellings) == 1, (person_id, spellings)
        (name,) = spellings
        assert person_id == re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def test_every_departure_ends_a_tenure_that_began_earlier() -> None:
    for event in events():
        if event["type"] != "office_holder_left":
            continue
        role, person = event["data"]["role"], event["data"]["person_id"]
        begun = [
            EDTFDate.parse(a["occurred_on"]).first_day
            for a in of(event["organisation"], "office_holder_appointed")
            if a["data"]["role"] == role and a["data"]["person"]["id"] == person
        ]
        assert begun, f"{person} leaves {role} at {event['organisation']} without appointment"
        assert min(begun) <= EDTFDate.parse(event["occurred_on"]).first_day
