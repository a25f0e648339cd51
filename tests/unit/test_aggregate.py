"""The Organisation aggregate: its stream, and how it judges retractions and corrections."""

from __future__ import annotations

import copy
import itertools
import uuid

import pytest

from events.errors import InvalidEvent
from events.organisation import (
    Corrected,
    Founded,
    Organisation,
    OrganisationEvent,
    Retracted,
)
from events.validation import parse_event


def record(org: Organisation, payload: dict) -> OrganisationEvent:
    return org.record(parse_event(payload), event_id=uuid.uuid4(), recorded_by="test")


FOUNDED = {"type": "founded", "occurred_on": "1947", "data": {"name": "CICOPA"}}


def test_a_new_organisation_is_at_version_zero_and_its_first_event_is_version_one():
    org = Organisation.start("cicopa")
    assert org.version == 0
    event = record(org, FOUNDED)
    assert isinstance(event, Founded)
    assert (event.originator_version, org.version) == (1, 1)
    assert event.originator_id == Organisation.id_for("cicopa")
    assert event.organisation == "cicopa"
    assert event.occurred_on == "1947"


def test_the_stream_can_start_with_any_type_of_event():
    org = Organisation.start("cecop")
    event = record(org, {"type": "affiliated", "occurred_on": "1990", "data": {"parent": "cicopa"}})
    rebuilt = event.mutate(None)
    assert isinstance(rebuilt, Organisation)
    assert (rebuilt.slug, rebuilt.version) == ("cecop", 1)
    assert rebuilt.has_event(str(event.event_id))


def test_recording_times_strictly_increase_within_a_stream():
    org = Organisation.start("cicopa")
    stamps = [record(org, FOUNDED).timestamp for _ in range(50)]
    assert all(earlier < later for earlier, later in itertools.pairwise(stamps))


def test_the_historical_date_is_kept_apart_from_the_recording_time():
    event = record(Organisation.start("cicopa"), FOUNDED)
    assert event.occurred_on == "1947"
    assert event.timestamp.year >= 2026


def test_an_event_id_can_be_stored_only_once():
    org = Organisation.start("cicopa")
    event_id = uuid.uuid4()
    org.record(parse_event(FOUNDED), event_id=event_id, recorded_by="test")
    with pytest.raises(InvalidEvent) as refused:
        org.record(parse_event(FOUNDED), event_id=event_id, recorded_by="test")
    assert "id" in refused.value.errors


def test_a_retraction_must_name_an_event_of_this_organisation():
    org = Organisation.start("cicopa")
    with pytest.raises(InvalidEvent) as refused:
        record(org, {"type": "retracted", "data": {"event_id": str(uuid.uuid4()), "reason": "x"}})
    assert "has no event" in refused.value.errors["data.event_id"]
    assert org.version == 0


def test_an_event_can_be_retracted_once_and_then_not_corrected():
    org = Organisation.start("cicopa")
    target = str(record(org, FOUNDED).event_id)
    retraction = record(org, {"type": "retracted", "data": {"event_id": target, "reason": "x"}})
    assert isinstance(retraction, Retracted)
    for payload in (
        {"type": "retracted", "data": {"event_id": target, "reason": "again"}},
        {"type": "corrected", "data": {"event_id": target, "reason": "x", "occurred_on": "1948"}},
    ):
        with pytest.raises(InvalidEvent) as refused:
            record(org, payload)
        assert "already been retracted" in refused.value.errors["data.event_id"]
    assert org.version == 2


def test_amendments_cannot_themselves_be_amended():
    org = Organisation.start("cicopa")
    target = str(record(org, FOUNDED).event_id)
    correction = record(
        org,
        {"type": "corrected", "data": {"event_id": target, "reason": "x", "occurred_on": "1948"}},
    )
    assert isinstance(correction, Corrected)
    with pytest.raises(InvalidEvent) as refused:
        record(
            org,
            {"type": "retracted", "data": {"event_id": str(correction.event_id), "reason": "x"}},
        )
    assert "corrected event" in refused.value.errors["data.event_id"]


def test_a_corrections_data_must_be_valid_for_the_target_type():
    org = Organisation.start("cicopa")
    target = str(record(org, FOUNDED).event_id)
    with pytest.raises(InvalidEvent) as refused:
        record(
            org,
            {
                "type": "corrected",
                "data": {"event_id": target, "reason": "x", "data": {"location": "Brussels"}},
            },
        )
    assert set(refused.value.errors) == {"data.data.location", "data.data.name"}
    corrected = record(
        org,
        {"type": "corrected", "data": {"event_id": target, "reason": "x", "data": {"name": "C"}}},
    )
    assert corrected.data["data"] == {"name": "C"}


def test_a_copy_from_the_cache_does_not_share_state_with_the_original():
    org = Organisation.start("cicopa")
    record(org, FOUNDED)
    clone = copy.deepcopy(org)
    record(clone, FOUNDED)
    assert (org.version, clone.version) == (1, 2)
    assert len(org.pending_events) == 1
    assert len(clone.pending_events) == 2


def test_a_correction_may_change_the_basis_of_an_event_whose_type_takes_one():
    org = Organisation.start("cicopa")
    seen = record(org, {"type": "renamed", "occurred_on": "2014", "data": {"name": "CICOPA"}})
    correction = record(
        org,
        {
            "type": "corrected",
            "basis": "attestation",
            "data": {"event_id": str(seen.event_id), "reason": "only seen in 2014"},
        },
    )
    assert correction.basis == "attestation"
    assert seen.basis is None


def test_a_correction_refuses_a_basis_for_an_event_whose_type_takes_none():
    org = Organisation.start("cicopa")
    founded = record(org, FOUNDED)
    with pytest.raises(InvalidEvent) as raised:
        record(
            org,
            {
                "type": "corrected",
                "basis": "attestation",
                "data": {"event_id": str(founded.event_id), "reason": "seen"},
            },
        )
    assert list(raised.value.errors) == ["basis"]
    assert "founded event, which takes no basis" in raised.value.errors["basis"]


def test_an_event_stored_before_basis_existed_is_read_back_as_a_change():
    event = record(Organisation.start("cicopa"), FOUNDED)
    state = {k: v for k, v in vars(event).items() if k != "basis"}
    OrganisationEvent.upcast_v1_v2(state)
    assert state["basis"] is None
