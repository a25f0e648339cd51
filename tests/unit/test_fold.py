"""The pure fold: the contract's rules for the state at a date, with no database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from projections.state import Offices, diff_states
from tests.history import History, appointed, joined


def holders(state: dict) -> list[tuple[str, str, str]]:
    return [(h["role"], h["person"]["id"], h["since"]) for h in state["office_holders"]]


def members(state: dict) -> list[tuple[str, str]]:
    return [(m["id"], m["since"]) for m in state["members"]]


def test_an_organisation_exists_once_its_first_event_counts():
    history = History()
    history.add("founded", "1947", {"name": "CICOPA"})
    assert history.state("1946")["exists"] is False
    assert history.state("1946")["name"] is None
    assert history.state("1947")["exists"] is True
    assert history.state("1947")["name"] == "CICOPA"


def test_any_counted_event_makes_the_organisation_exist_even_without_a_founding():
    history = History()
    history.add("milestone", "2001", {"headline": "A school"})
    assert history.state("2000")["exists"] is False
    assert history.state("2001")["exists"] is True


def test_appointing_a_president_ends_the_previous_presidency():
    history = History()
    history.add("office_holder_appointed", "1998", appointed("President", "marian-rybar"))
    history.add("office_holder_appointed", "2009", appointed("President", "manuel-mariscal"))
    assert holders(history.state("2008")) == [("President", "marian-rybar", "1998")]
    assert holders(history.state("2009")) == [("President", "manuel-mariscal", "2009")]


def test_each_role_has_its_own_holder():
    history = History()
    history.add("office_holder_appointed", "1998", appointed("President", "marian-rybar"))
    history.add("office_holder_appointed", "1998", appointed("Secretary", "jan-eirik-imbsen"))
    assert holders(history.state("1998")) == [
        ("President", "marian-rybar", "1998"),
        ("Secretary", "jan-eirik-imbsen", "1998"),
    ]


def test_a_holder_leaving_vacates_the_role():
    history = History()
    history.add("office_holder_appointed", "2002", appointed("Secretary General", "bruno-roelants"))
    history.add(
        "office_holder_left",
        "2017-12~",
        {"role": "Secretary General", "person_id": "bruno-roelants"},
    )
    assert holders(history.state("2017-11")) == [("Secretary General", "bruno-roelants", "2002")]
    assert holders(history.state("2018")) == []


def test_a_leaving_that_matches_nobody_changes_nothing():
    history = History()
    history.add("office_holder_appointed", "1998", appointed("President", "marian-rybar"))
    history.add("office_holder_left", "1999", {"role": "President", "person_id": "someone-else"})
    history.add("office_holder_left", "1999", {"role": "Treasurer", "person_id": "marian-rybar"})
    assert holders(history.state("2000")) == [("President", "marian-rybar", "1998")]


def test_a_member_joining_twice_keeps_its_first_since():
    history = History()
    history.add("member_joined", "2003", joined("cgscop", "France"))
    history.add("member_joined", "2005", joined("cgscop", "France"))
    state = history.state("2010")
    assert members(state) == [("cgscop", "2003")]
    assert state["members"][0]["country"] == "France"


def test_a_member_who_left_and_rejoined_is_a_member_since_rejoining():
    history = History()
    history.add("member_joined", "2003", joined("cgscop"))
    history.add("member_left", "2006", {"member_id": "cgscop"})
    history.add("member_joined", "2008-03", joined("cgscop"))
    assert members(history.state("2005")) == [("cgscop", "2003")]
    assert members(history.state("2007")) == []
    assert members(history.state("2008")) == [("cgscop", "2008-03")]


def test_a_member_leaving_before_joining_changes_nothing():
    history = History()
    history.add("member_left", "2001", {"member_id": "cgscop"})
    history.add("member_joined", "2003", joined("cgscop"))
    assert members(history.state("2004")) == [("cgscop", "2003")]


def test_a_year_precise_event_is_uncertain_within_its_year_and_counts_at_its_end():
    history = History()
    event = history.add("renamed", "2003", {"name": "New name"})
    mid_year = history.state("2003-06")
    assert mid_year["name"] is None
    assert [e["id"] for e in mid_year["uncertain"]] == [event.id]
    assert mid_year["uncertain"][0]["status"] == "active"
    end_of_year = history.state("2003")
    assert end_of_year["name"] == "New name"
    assert end_of_year["uncertain"] == []
    assert history.state("2002")["uncertain"] == []


def test_events_apply_in_occurrence_order_not_recording_order():
    history = History()
    history.add(
        "renamed",
        "2017",
        {"name": "International organisation of industrial and service cooperatives"},
    )
    history.add("founded", "1947", {"name": "Comité International", "acronym": "CICOPA"})
    state = history.state("2018")
    assert state["name"] == "International organisation of industrial and service cooperatives"
    assert state["acronym"] == "CICOPA"
    assert history.state("1950")["name"] == "Comité International"


def test_ties_on_the_first_day_are_broken_by_recording_order():
    history = History()
    history.add("headquarters_moved", "2004-02-17", {"location": "Geneva"})
    history.add("headquarters_moved", "2004-02-17", {"location": "Brussels"})
    assert history.state("2004")["headquarters"] == "Brussels"


def test_a_year_sorts_before_a_day_within_it_so_the_day_wins_at_the_years_end():
    history = History()
    history.add("headquarters_moved", "2003-02-01", {"location": "Brussels"})
    history.add("headquarters_moved", "2003", {"location": "Geneva"})
    assert history.state("2003-06")["headquarters"] == "Brussels"
    assert history.state("2003")["headquarters"] == "Brussels"


def test_renaming_without_an_acronym_keeps_it_and_founding_without_one_clears_it():
    history = History()
    history.add("founded", "1947", {"name": "A", "acronym": "X"})
    history.add("renamed", "1960", {"name": "B"})
    history.add("renamed", "1970", {"name": "C", "acronym": "Y"})
    assert (history.state("1965")["name"], history.state("1965")["acronym"]) == ("B", "X")
    assert history.state("1975")["acronym"] == "Y"
    history.add("founded", "1980", {"name": "D"})
    assert history.state("1980")["acronym"] is None


def test_dissolution_ends_existence_and_a_new_founding_restores_it():
    history = History()
    history.add("founded", "1947", {"name": "A"})
    history.add("dissolved", "1990", {})
    history.add("founded", "2000", {"name": "A again"})
    assert history.state("1989")["exists"] is True
    assert history.state("1995")["exists"] is False
    assert history.state("2000")["exists"] is True


def test_figures_show_each_figures_latest_report_with_every_overlapping_report():
    history = History()
    old = history.add(
        "figures_reported", "1998", {"figures": {"member_organisations": 65, "countries": 45}}
    )
    a = history.add("figures_reported", "2017", {"figures": {"member_organisations": 46}})
    b = history.add("figures_reported", "2017-11~", {"figures": {"member_organisations": 52}})
    state = history.state("2018")
    members_figure = state["figures"]["member_organisations"]
    assert members_figure["value"] == 52
    assert members_figure["reported_on"] == "2017-11~"
    assert members_figure["event_id"] == b.id
    assert [(r["value"], r["reported_on"]) for r in members_figure["reports"]] == [
        (46, "2017"),
        (52, "2017-11~"),
    ]
    assert state["figures"]["countries"]["value"] == 45
    assert state["figures"]["countries"]["event_id"] == old.id
    assert history.state("1998")["figures"]["member_organisations"]["value"] == 65
    assert a.id not in [
        r["event_id"]
        for r in history.state("2017-06")["figures"]["member_organisations"]["reports"]
    ]


def test_documents_accumulate_in_occurrence_order_with_their_stages():
    history = History()
    history.add("document_adopted", "2005", {"title": "World Declaration", "stage": "ICA"})
    history.add("document_adopted", "2003", {"title": "World Declaration", "stage": "in principle"})
    history.add(
        "document_adopted", "2004-02-17", {"title": "World Declaration", "stage": "final draft"}
    )
    stages = [(d["stage"], d["occurred_on"]) for d in history.state("2010")["documents"]]
    assert stages == [("in principle", "2003"), ("final draft", "2004-02-17"), ("ICA", "2005")]
    assert len(history.state("2004")["documents"]) == 2


def test_a_retraction_removes_the_event_from_its_recording_time_on():
    history = History()
    wrong = history.add("office_holder_appointed", "1998", appointed("President", "someone"))
    before_retraction = history.clock
    history.retract(wrong)
    assert holders(history.state("2000")) == []
    assert holders(history.state("2000", known_at=before_retraction)) == [
        ("President", "someone", "1998")
    ]


def test_a_retracted_event_is_not_uncertain_either():
    history = History()
    wrong = history.add("renamed", "2003", {"name": "X"})
    history.retract(wrong)
    assert history.state("2003-06")["uncertain"] == []


def test_a_correction_makes_the_event_count_with_its_new_date_and_data():
    history = History()
    founding = history.add("founded", "1949", {"name": "Wrong"})
    before_correction = history.clock
    history.correct(founding, occurred_on="1947", data={"name": "Right"})
    assert history.state("1947")["name"] == "Right"
    assert history.state("1947", known_at=before_correction)["exists"] is False
    assert history.state("1949", known_at=before_correction)["name"] == "Wrong"


def test_a_later_correction_replaces_an_earlier_one_whole():
    history = History()
    founding = history.add("founded", "1949", {"name": "Original"})
    history.correct(founding, occurred_on="1947")
    history.correct(founding, data={"name": "Renamed by correction"})
    # The second correction replaces the first: the date goes back to the original 1949.
    assert history.state("1948")["exists"] is False
    assert history.state("1949")["name"] == "Renamed by correction"


def test_a_corrected_event_shows_its_status_and_corrected_fields_when_uncertain():
    history = History()
    event = history.add("renamed", "2001", {"name": "X"})
    history.correct(event, occurred_on="2003")
    uncertain = history.state("2003-06")["uncertain"]
    assert [(e["id"], e["occurred_on"], e["status"]) for e in uncertain] == [
        (event.id, "2003", "corrected")
    ]


def test_events_recorded_after_known_at_are_not_seen():
    history = History()
    history.add("founded", "1947", {"name": "A"})
    moment = history.clock
    history.add("renamed", "1950", {"name": "B"})
    assert history.state("1960", known_at=moment)["name"] == "A"
    assert history.state("1960", known_at=moment - timedelta(seconds=1))["exists"] is False


def test_sub_organisations_are_those_whose_parent_is_this_one_at_the_date():
    history = History()
    history.add("founded", "1979", {"name": "CECOP"}, org="cecop")
    history.add("affiliated", "1990", {"parent": "cicopa"}, org="cecop")
    history.add("affiliated", "1995", {"parent": "cicopa"}, org="cicopa-americas")
    history.add("disaffiliated", "2000", {"parent": "cicopa"}, org="cicopa-americas")
    assert history.state("1989")["sub_organisations"] == []
    assert history.state("1996")["sub_organisations"] == [
        {"id": "cecop", "name": "CECOP"},
        {"id": "cicopa-americas", "name": None},
    ]
    assert history.state("2001")["sub_organisations"] == [{"id": "cecop", "name": "CECOP"}]
    assert history.state("1996", org="cecop")["parent"] == "cicopa"


def test_disaffiliation_clears_only_the_matching_parent():
    history = History()
    history.add("affiliated", "1947", {"parent": "ica"})
    history.add("disaffiliated", "1950", {"parent": "someone-else"})
    assert history.state("1960")["parent"] == "ica"
    history.add("disaffiliated", "1970", {"parent": "ica"})
    assert history.state("1970")["parent"] is None


def test_the_diff_lists_only_what_changed():
    history = History()
    history.add("founded", "1947", {"name": "A"})
    history.add("office_holder_appointed", "1998", appointed("President", "marian-rybar"))
    history.add("figures_reported", "1998", {"figures": {"member_organisations": 65}})
    history.add("office_holder_appointed", "2009", appointed("President", "manuel-mariscal"))
    history.add("figures_reported", "2017", {"figures": {"member_organisations": 46}})
    history.add("headquarters_moved", "2017", {"location": "Brussels"})
    changes = diff_states(history.state("1998"), history.state("2017"))
    assert set(changes) == {"headquarters", "office_holders", "figures"}
    assert changes["headquarters"] == {"before": None, "after": "Brussels"}
    assert [h["person"]["id"] for h in changes["office_holders"]["added"]] == ["manuel-mariscal"]
    assert [h["person"]["id"] for h in changes["office_holders"]["removed"]] == ["marian-rybar"]
    assert changes["figures"] == {
        "member_organisations": {
            "before": 65,
            "after": 46,
            "before_qualifier": None,
            "after_qualifier": None,
        }
    }
    assert diff_states(history.state("2017"), history.state("2017")) == {}


def test_tenures_end_with_the_successors_own_date_and_span_organisations():
    history = History()
    history.add(
        "office_holder_appointed",
        "2002?",
        appointed("Secretary General", "bruno-roelants", "Bruno Roelants"),
    )
    history.add(
        "office_holder_appointed", "2018-01~", appointed("Secretary General", "diana-dovgan")
    )
    history.add(
        "office_holder_appointed",
        "2018-01~",
        appointed("Director-General", "bruno-roelants", "Bruno Roelants"),
        org="ica",
    )
    name, positions = history.positions("bruno-roelants")
    assert name == "Bruno Roelants"
    assert positions == [
        {
            "organisation": "cicopa",
            "role": "Secretary General",
            "from": "2002?",
            "to": "2018-01~",
            "attested": None,
        },
        {
            "organisation": "ica",
            "role": "Director-General",
            "from": "2018-01~",
            "to": None,
            "attested": None,
        },
    ]


def test_a_reappointment_of_the_holder_continues_the_tenure_it_began():
    history = History()
    history.add("office_holder_appointed", "2009", appointed("President", "manuel-mariscal"))
    second = history.add(
        "office_holder_appointed", "2013", appointed("President", "manuel-mariscal")
    )
    _, positions = history.positions("manuel-mariscal")
    assert [(p["from"], p["to"]) for p in positions] == [("2009", None)]
    holder = history.state("2014")["office_holders"][0]
    assert (holder["since"], holder["attested"], holder["event_id"]) == ("2009", None, second.id)


# How a fact is known: changes and attestations (CONTRACT.md §2).


def hq(state: dict) -> tuple:
    known = state["provenance"].get("headquarters")
    return state["headquarters"], known and known["since"], known and known["attested"]


def test_an_attestation_of_the_value_held_adds_to_its_evidence():
    history = History()
    history.add("headquarters_moved", "1998", {"location": "Geneva"})
    history.attest("headquarters_moved", "2005", {"location": "Geneva"})
    last = history.attest("headquarters_moved", "2010", {"location": "Geneva"})
    assert hq(history.state("2012")) == (
        "Geneva",
        "1998",
        {"first": "2005", "last": "2010", "count": 2},
    )
    assert history.state("2012")["provenance"]["headquarters"]["event_id"] == last.id


def test_an_attestation_of_another_value_replaces_it_with_no_known_start():
    history = History()
    history.add("headquarters_moved", "1998", {"location": "Geneva"})
    history.attest("headquarters_moved", "2010", {"location": "Brussels"})
    assert hq(history.state("2009")) == ("Geneva", "1998", None)
    assert hq(history.state("2010")) == (
        "Brussels",
        None,
        {"first": "2010", "last": "2010", "count": 1},
    )


def test_a_change_to_the_value_held_keeps_its_attestations_and_gives_it_a_since():
    history = History()
    history.attest("headquarters_moved", "2005", {"location": "Brussels"})
    history.add("headquarters_moved", "2008", {"location": "Brussels"})
    assert hq(history.state("2009")) == (
        "Brussels",
        "2008",
        {"first": "2005", "last": "2005", "count": 1},
    )


def test_a_change_to_the_value_held_keeps_the_since_it_already_had():
    history = History()
    history.add("headquarters_moved", "1998", {"location": "Geneva"})
    later = history.add("headquarters_moved", "2003", {"location": "Geneva"})
    state = history.state("2004")
    assert hq(state) == ("Geneva", "1998", None)
    assert state["provenance"]["headquarters"]["event_id"] == later.id


def test_only_the_attestations_that_count_at_the_date_are_counted():
    history = History()
    history.add("headquarters_moved", "1998", {"location": "Geneva"})
    history.attest("headquarters_moved", "2005", {"location": "Geneva"})
    history.attest("headquarters_moved", "2010", {"location": "Geneva"})
    history.attest("headquarters_moved", "2012-06", {"location": "Geneva"})
    assert hq(history.state("2006"))[2] == {"first": "2005", "last": "2005", "count": 1}
    assert hq(history.state("2012-05"))[2] == {"first": "2005", "last": "2010", "count": 2}
    assert hq(history.state("1999"))[2] is None


def test_attestations_of_an_earlier_value_do_not_count_for_the_value_that_replaced_it():
    history = History()
    history.attest("headquarters_moved", "1998", {"location": "Geneva"})
    history.add("headquarters_moved", "2003", {"location": "Brussels"})
    history.attest("headquarters_moved", "2010", {"location": "Brussels"})
    assert hq(history.state("2011")) == (
        "Brussels",
        "2003",
        {"first": "2010", "last": "2010", "count": 1},
    )


def test_the_sources_are_those_of_the_latest_event_in_occurrence_order_not_recording_order():
    history = History()
    late = history.attest(
        "headquarters_moved", "2010", {"location": "Geneva"}, sources=[{"title": "2010 report"}]
    )
    history.attest(
        "headquarters_moved", "2005", {"location": "Geneva"}, sources=[{"title": "2005 report"}]
    )
    known = history.state("2011")["provenance"]["headquarters"]
    assert (known["event_id"], known["sources"]) == (late.id, [{"title": "2010 report"}])
    assert known["attested"] == {"first": "2005", "last": "2010", "count": 2}


def test_provenance_covers_name_acronym_headquarters_and_parent_only_when_they_have_a_value():
    history = History()
    history.add("founded", "1947", {"name": "CICOPA"})
    assert set(history.state("1950")["provenance"]) == {"name"}
    history.attest("renamed", "1998", {"name": "CICOPA", "acronym": "CICOPA"})
    history.attest("affiliated", "1998", {"parent": "ica"})
    state = history.state("1999")
    assert set(state["provenance"]) == {"name", "acronym", "parent"}
    assert state["provenance"]["name"]["since"] == "1947"
    assert state["provenance"]["name"]["attested"] == {"first": "1998", "last": "1998", "count": 1}
    assert state["provenance"]["acronym"]["since"] is None
    assert state["provenance"]["parent"]["since"] is None
    assert state["parent"] == "ica"


def test_an_event_stored_without_a_basis_is_a_change():
    history = History()
    history.add("headquarters_moved", "1998", {"location": "Geneva"}, basis=None)
    history.add("headquarters_moved", "2001", {"location": "Geneva"}, basis="change")
    assert hq(history.state("2002")) == ("Geneva", "1998", None)


def test_a_correction_may_turn_a_change_into_an_attestation():
    history = History()
    seen = history.add("headquarters_moved", "1998", {"location": "Geneva"})
    history.correct(seen, basis="attestation")
    assert hq(history.state("1999")) == (
        "Geneva",
        None,
        {"first": "1998", "last": "1998", "count": 1},
    )
    assert history.state("1998-06")["uncertain"][0]["basis"] == "attestation"


def test_an_attested_office_holder_is_shown_with_no_start_and_their_evidence():
    history = History()
    history.attest("office_holder_appointed", "2014", appointed("President", "manuel-mariscal"))
    history.attest("office_holder_appointed", "2016", appointed("President", "manuel-mariscal"))
    holder = history.state("2017")["office_holders"][0]
    assert (holder["since"], holder["attested"]) == (
        None,
        {"first": "2014", "last": "2016", "count": 2},
    )


def test_an_attested_successor_ends_the_other_tenure_on_or_before_the_attestation():
    history = History()
    history.add("office_holder_appointed", "2002", appointed("Secretary General", "bruno"))
    history.attest("office_holder_appointed", "2019", appointed("Secretary General", "diana"))
    _, positions = history.positions("bruno")
    assert [(p["from"], p["to"]) for p in positions] == [("2002", "../2019")]
    assert holders(history.state("2019")) == [("Secretary General", "diana", None)]


@pytest.mark.parametrize(
    ("occurred_on", "ended"),
    [
        ("2019", "../2019"),
        ("2018-02?", "../2018-02?"),
        ("2018/2019-02", "../2019-02"),
        ("../2018-02", "../2018-02"),
        ("2017~/2018~", "../2018~"),
    ],
)
def test_an_attested_successor_ends_a_tenure_on_or_before_the_end_side_of_its_date(
    occurred_on: str, ended: str
):
    offices = Offices()
    offices.appoint("Secretary General", {"id": "bruno", "name": "B"}, "2002")
    offices.appoint(
        "Secretary General", {"id": "diana", "name": "D"}, occurred_on, attestation=True
    )
    assert [(t.person["id"], t.to) for t in offices.ended] == [("bruno", ended)]


def test_a_position_known_only_from_attestations_has_no_start_and_says_so():
    history = History()
    history.attest("office_holder_appointed", "2014", appointed("President", "manuel-mariscal"))
    history.attest("office_holder_appointed", "2016-05", appointed("President", "manuel-mariscal"))
    _, positions = history.positions("manuel-mariscal")
    assert positions == [
        {
            "organisation": "cicopa",
            "role": "President",
            "from": None,
            "to": None,
            "attested": {"first": "2014", "last": "2016-05", "count": 2},
        }
    ]


def test_a_holder_leaving_with_no_later_appointment_leaves_the_role_without_a_known_holder():
    history = History()
    history.add("office_holder_appointed", "2002", appointed("Secretary General", "bruno", "B R"))
    history.add(
        "office_holder_left", "2017-12~", {"role": "Secretary General", "person_id": "bruno"}
    )
    state = history.state("2019")
    assert state["office_holders"] == []
    assert state["roles_without_known_holder"] == [
        {
            "role": "Secretary General",
            "since": "2017-12~",
            "last_holder": {"id": "bruno", "name": "B R"},
        }
    ]
    assert history.state("2017-11")["roles_without_known_holder"] == []


def test_a_later_appointment_or_attestation_gives_the_role_a_known_holder_again():
    history = History()
    history.add("office_holder_appointed", "2002", appointed("Secretary General", "bruno"))
    history.add(
        "office_holder_left", "2017-12", {"role": "Secretary General", "person_id": "bruno"}
    )
    history.attest("office_holder_appointed", "2019", appointed("Secretary General", "diana"))
    assert history.state("2018")["roles_without_known_holder"][0]["role"] == "Secretary General"
    state = history.state("2019")
    assert state["roles_without_known_holder"] == []
    assert holders(state) == [("Secretary General", "diana", None)]


def test_a_leaving_that_matches_nobody_leaves_no_role_without_a_known_holder():
    history = History()
    history.add("office_holder_left", "2017", {"role": "President", "person_id": "nobody"})
    assert history.state("2018")["roles_without_known_holder"] == []


def test_an_appointment_that_replaces_a_role_ends_its_tenure_and_takes_it_off_the_list():
    history = History()
    history.add("office_holder_appointed", "1998", appointed("Secretary", "jan"))
    history.add("office_holder_appointed", "2002", appointed("Director", "bruno"))
    history.add("office_holder_left", "2003", {"role": "Director", "person_id": "bruno"})
    data = {**appointed("Secretary General", "bruno"), "replaces_role": "Secretary"}
    history.add("office_holder_appointed", "2005", data)
    data = {**appointed("Director-General", "ann"), "replaces_role": "Director"}
    history.add("office_holder_appointed", "2006", data)
    state = history.state("2006")
    assert holders(state) == [
        ("Secretary General", "bruno", "2005"),
        ("Director-General", "ann", "2006"),
    ]
    assert state["roles_without_known_holder"] == []
    _, positions = history.positions("jan")
    assert [(p["role"], p["from"], p["to"]) for p in positions] == [("Secretary", "1998", "2005")]


def test_a_member_known_only_from_attestations_has_no_since_until_it_joins():
    history = History()
    history.attest("member_joined", "2003", joined("cgscop"))
    history.attest("member_joined", "2005", joined("cgscop"))
    member = history.state("2006")["members"][0]
    assert (member["since"], member["attested"]) == (
        None,
        {"first": "2003", "last": "2005", "count": 2},
    )
    history.add("member_joined", "2008", joined("cgscop"))
    assert history.state("2009")["members"][0]["since"] == "2008"
    assert history.state("2009")["members"][0]["attested"]["count"] == 2


def test_an_attestation_of_a_member_adds_to_the_evidence_of_its_joining():
    history = History()
    history.add("member_joined", "2003", joined("cgscop"))
    seen = history.attest("member_joined", "2010", joined("cgscop"))
    member = history.state("2011")["members"][0]
    assert (member["since"], member["attested"], member["event_id"]) == (
        "2003",
        {"first": "2010", "last": "2010", "count": 1},
        seen.id,
    )


# Names by language and qualified figures.


def test_a_name_in_another_language_does_not_replace_the_english_one():
    history = History()
    history.add("founded", "1947", {"name": "International Committee", "acronym": "CICOPA"})
    history.add(
        "renamed",
        "1950",
        {"name": "Comité international", "acronym": "CICOPA-FR", "language": "fr"},
    )
    state = history.state("1951")
    assert (state["name"], state["acronym"]) == ("International Committee", "CICOPA")
    assert state["names"] == {
        "en": {"name": "International Committee", "acronym": "CICOPA"},
        "fr": {"name": "Comité international", "acronym": "CICOPA-FR"},
    }
    assert state["provenance"]["name"]["since"] == "1947"


def test_with_no_english_name_the_latest_name_event_gives_the_name_and_acronym():
    history = History()
    history.add("founded", "1947", {"name": "Comité", "acronym": "C", "language": "fr"})
    history.add("renamed", "1950", {"name": "Comité", "acronym": "K", "language": "es"})
    assert (history.state("1948")["name"], history.state("1948")["acronym"]) == ("Comité", "C")
    assert history.state("1951")["acronym"] == "K"
    history.add("renamed", "1960", {"name": "Committee"})
    assert (history.state("1961")["name"], history.state("1961")["acronym"]) == ("Committee", None)


def test_a_language_is_the_primary_subtag_lower_cased_and_absent_means_english():
    history = History()
    history.add("founded", "1947", {"name": "A"})
    history.add("renamed", "1950", {"name": "B", "language": "fr-CA"})
    history.add("renamed", "1951", {"name": "C", "language": "FR"})
    history.add("renamed", "1952", {"name": "D", "language": "EN-gb"})
    assert history.state("1951")["names"] == {
        "en": {"name": "A", "acronym": None},
        "fr": {"name": "C", "acronym": None},
    }
    assert history.state("1952")["name"] == "D"


def test_a_name_event_without_an_acronym_keeps_that_languages_acronym():
    history = History()
    history.add("founded", "1947", {"name": "A", "acronym": "X"})
    history.add("renamed", "1950", {"name": "Un", "acronym": "Y", "language": "fr"})
    history.add("renamed", "1960", {"name": "Deux", "language": "fr"})
    assert history.state("1961")["names"]["fr"] == {"name": "Deux", "acronym": "Y"}
    assert history.state("1961")["acronym"] == "X"


def test_a_figure_carries_its_qualifier_and_an_exact_one_carries_none():
    history = History()
    history.add(
        "figures_reported",
        "2017",
        {"figures": {"jobs": 4000000, "countries": 48}, "qualifiers": {"jobs": "about"}},
    )
    figures = history.state("2018")["figures"]
    assert (figures["jobs"]["value"], figures["jobs"]["qualifier"]) == (4000000, "about")
    assert figures["countries"]["qualifier"] is None
    assert [r["qualifier"] for r in figures["jobs"]["reports"]] == ["about"]


def test_the_diff_compares_names_by_language_and_figures_qualifiers():
    history = History()
    history.add("founded", "1947", {"name": "A"})
    history.add("figures_reported", "2000", {"figures": {"jobs": 100}})
    history.add("renamed", "2005", {"name": "Un", "language": "fr"})
    history.add(
        "figures_reported", "2010", {"figures": {"jobs": 100}, "qualifiers": {"jobs": "over"}}
    )
    changes = diff_states(history.state("2001"), history.state("2011"))
    assert changes["names"] == {"fr": {"before": None, "after": {"name": "Un", "acronym": None}}}
    assert changes["figures"] == {
        "jobs": {"before": 100, "after": 100, "before_qualifier": None, "after_qualifier": "over"}
    }
    assert set(changes) == {"names", "figures"}


def test_the_diff_does_not_list_a_holder_whose_evidence_only_grew():
    history = History()
    history.add("office_holder_appointed", "1998", appointed("President", "marian-rybar"))
    history.attest("office_holder_appointed", "2001", appointed("President", "marian-rybar"))
    assert diff_states(history.state("1999"), history.state("2002")) == {}


def test_an_appointment_of_the_attested_holder_gives_the_tenure_its_start_and_keeps_its_evidence():
    history = History()
    history.attest("office_holder_appointed", "2014", appointed("President", "manuel-mariscal"))
    history.add("office_holder_appointed", "2015", appointed("President", "manuel-mariscal"))
    holder = history.state("2016")["office_holders"][0]
    assert (holder["since"], holder["attested"]) == (
        "2015",
        {"first": "2014", "last": "2014", "count": 1},
    )
    _, positions = history.positions("manuel-mariscal")
    assert [(p["from"], p["to"], p["attested"]["count"]) for p in positions] == [("2015", None, 1)]


def test_a_successor_appointed_by_a_change_ends_an_attested_tenure_on_its_own_date():
    history = History()
    history.attest("office_holder_appointed", "2014", appointed("President", "manuel-mariscal"))
    history.add("office_holder_appointed", "2018-05", appointed("President", "ann"))
    _, positions = history.positions("manuel-mariscal")
    assert [(p["from"], p["to"]) for p in positions] == [(None, "2018-05")]


def test_an_attestation_of_a_parent_after_a_disaffiliation_shows_it_again_with_no_start():
    history = History()
    history.add("affiliated", "1990", {"parent": "ica"})
    history.add("disaffiliated", "2000", {"parent": "ica"})
    history.attest("affiliated", "2010", {"parent": "ica"})
    assert history.state("2005")["parent"] is None
    known = history.state("2011")["provenance"]["parent"]
    assert (known["since"], known["attested"]["count"]) == (None, 1)


def test_a_holder_is_named_as_the_latest_event_that_set_or_attested_them_names_them():
    history = History()
    history.add("office_holder_appointed", "2009", appointed("President", "m", "M. Mariscal"))
    history.attest(
        "office_holder_appointed", "2014", appointed("President", "m", "Manuel Mariscal")
    )
    holder = history.state("2015")["office_holders"][0]
    assert (holder["person"]["name"], holder["since"]) == ("Manuel Mariscal", "2009")
