"""What a stream remembers of its events, shared between the copies commands work on."""

from __future__ import annotations

import copy

from events.organisation import EventTypes, Organisation


def test_copies_do_not_see_each_others_events():
    original = EventTypes()
    original["a"] = "founded"
    clone = original.copy()
    clone["b"] = "renamed"
    original["c"] = "retracted"
    assert "b" in clone and "b" not in original
    assert "c" in original and "c" not in clone
    assert clone.get("a") == original.get("a") == "founded"
    assert clone.get("c") is None


def test_folding_keeps_every_event_and_leaves_copies_alone():
    types = EventTypes()
    for n in range(EventTypes.FOLD_AT - 1):
        types[f"e{n}"] = "milestone"
    before = types.copy()
    for n in range(EventTypes.FOLD_AT - 1, 3 * EventTypes.FOLD_AT):  # folds twice
        types[f"e{n}"] = "renamed"
    assert all(f"e{n}" in types for n in range(3 * EventTypes.FOLD_AT))
    assert types.get("e0") == "milestone" and types.get(f"e{EventTypes.FOLD_AT}") == "renamed"
    assert f"e{EventTypes.FOLD_AT}" not in before and before.get("e0") == "milestone"


def test_a_deep_copy_of_a_stream_remembers_its_own_events():
    stream = Organisation.start("copied")
    kept = copy.deepcopy(stream)
    stream._types["x"] = "founded"
    assert "x" in stream._types and "x" not in kept._types
