"""GroupCommit on its own: which waiting appends join a leader's batch."""

from __future__ import annotations

import threading
import time

from events.validation import parse_event
from timeline.commands import Appended, GroupCommit, PendingAppend


def _pending(organisation: str, headline: str) -> PendingAppend:
    draft = parse_event(
        {"type": "milestone", "occurred_on": "2001", "data": {"headline": headline}}
    )
    return PendingAppend(organisation, draft, "t", None, "cli", None, "")


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.002)


def test_appends_arriving_during_the_wait_for_a_turn_join_up_to_the_limit():
    batches: list[list[str]] = []
    turn_free = threading.Event()

    def store(batch: list[PendingAppend]) -> None:
        turn_free.wait(10)  # the leader waits for its turn: others arrive meanwhile
        group.join(batch)
        batches.append([request.draft.data["headline"] for request in batch])
        for request in batch:
            request.outcome = Appended({"headline": request.draft.data["headline"]})

    group = GroupCommit(store, limit=3)
    requests = [_pending("a", "lead")]
    requests += [_pending(org, name) for org, name in (("a", "x1"), ("b", "x2"), ("a", "x3"))]
    requests += [_pending("a", "x4")]
    threads = [threading.Thread(target=group.submit, args=(requests[0],))]
    threads[0].start()
    _until(lambda: group.leading and group.waiting == 0, "the first append leads")
    for n, request in enumerate(requests[1:], start=1):
        threads.append(threading.Thread(target=group.submit, args=(request,)))
        threads[-1].start()
        _until(lambda n=n: group.waiting == n, f"{n} appends wait")
    turn_free.set()
    for thread in threads:
        thread.join(10)
    # whatever their organisation, in arrival order; x3 and x4 are over the limit of 3
    assert batches == [["lead", "x1", "x2"], ["x3", "x4"]]
    assert all(request.done and request.outcome is not None for request in requests)
