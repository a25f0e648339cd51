"""Real server processes: two on one PostgreSQL database, a crash mid-load, a graceful stop.

Every acknowledged event (a 201) must be stored exactly once; nothing unacknowledged may be
half there (in the log but not in the read model, or the other way round).
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest

from tests.e2e.server import Server, cli, create_token, environment, serving

pytestmark = pytest.mark.slow


@dataclass
class Outcome:
    """What a writer saw: acknowledged events, and requests with no answer."""

    acknowledged: list[dict] = field(default_factory=list)
    keyed: list[tuple[str, str, dict, dict]] = field(default_factory=list)
    unanswered: int = 0
    other: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def post(base: str, path: str, body: dict, headers: dict) -> tuple[int, dict | None]:
    """One request on a connection of its own; (0, None) if it got no answer."""
    target = urlparse(base)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Connection": "close", **headers},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


def writer(
    bases: list[str],
    token: str,
    number: int,
    count: int,
    outcome: Outcome,
    stop: threading.Event,
    keyed_every: int = 3,
) -> None:
    for i in range(count):
        if stop.is_set():
            return
        org = "shared" if i % 2 == 0 else f"writer-{number}"
        body = {
            "type": "milestone",
            "occurred_on": str(1900 + (i * 7 + number) % 120),
            "data": {"headline": f"{number}-{i}"},
        }
        headers = {"Authorization": f"Bearer {token}"}
        key = None
        if i % keyed_every == 0:
            key = f"key-{number}-{i}-{uuid.uuid4().hex[:6]}"
            headers["Idempotency-Key"] = key
        status, reply = post(
            bases[i % len(bases)], f"/api/organisations/{org}/events", body, headers
        )
        with outcome.lock:
            if status == 201:
                outcome.acknowledged.append(reply)
                if key:
                    outcome.keyed.append((org, key, body, reply))
            elif status == 0:
                outcome.unanswered += 1
            else:
                outcome.other[status] += 1


def run_writers(
    bases: list[str], token: str, writers: int, count: int, stop: threading.Event | None = None
) -> tuple[Outcome, list[threading.Thread]]:
    outcome, stop = Outcome(), stop or threading.Event()
    threads = [
        threading.Thread(target=writer, args=(bases, token, n, count, outcome, stop))
        for n in range(writers)
    ]
    for thread in threads:
        thread.start()
    return outcome, threads


def listed(server: Server, org: str) -> list[dict]:
    events, cursor = [], ""
    while True:
        page = server.get(
            f"/api/organisations/{org}/events?limit=1000&include_retracted=true{cursor}"
        ).json()
        events.extend(page["events"])
        if not page["next"]:
            return events
        cursor = f"&cursor={page['next']}"


def logged(env: dict, cwd) -> list[dict]:
    """The event log itself, through `timeline export`."""
    result = cli(["export"], env, cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def assert_log_and_read_model_agree(server: Server, log: list[dict]) -> None:
    """Every logged event is listed once, and nothing is listed that the log lacks."""
    by_org: dict[str, list[str]] = {}
    for event in log:
        by_org.setdefault(event["organisation"], []).append(event["id"])
    for org, ids in by_org.items():
        shown = [event["id"] for event in listed(server, org)]
        assert len(shown) == len(set(shown)), f"duplicates in {org}"
        assert sorted(shown) == sorted(ids), f"the read model of {org} differs from the log"
        versions = sorted(event["version"] for event in log if event["organisation"] == org)
        assert versions == list(range(1, len(versions) + 1)), f"versions of {org} have gaps"


@pytest.mark.postgres
def test_two_servers_on_one_postgres_database_store_every_acknowledged_event_once_and_agree(
    tmp_path, postgres_url
):
    env = environment(postgres_url)
    token = create_token(env, tmp_path, "two servers")
    with (
        serving(env, tmp_path, "--workers", "2", log=tmp_path / "a.log") as one,
        serving(env, tmp_path, "--workers", "2", log=tmp_path / "b.log") as two,
    ):
        outcome, threads = run_writers([one.base, two.base], token, writers=8, count=30)
        for thread in threads:
            thread.join()
        assert (outcome.unanswered, dict(outcome.other)) == (0, {})
        assert len(outcome.acknowledged) == 240
        log = logged(env, tmp_path)
        assert sorted(e["id"] for e in log) == sorted(e["id"] for e in outcome.acknowledged)
        assert_log_and_read_model_agree(one, log)
        for path in [
            "/api/organisations",
            "/api/timeline?limit=1000",
            "/api/organisations/shared/events?limit=1000",
        ] + [
            f"/api/organisations/{org}/state?at={at}"
            for org in ("shared", "writer-3")
            for at in ("1950", "2000", "2019")
        ]:
            assert one.get(path).json() == two.get(path).json(), path


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_crash_mid_load_loses_no_acknowledged_event_and_leaves_nothing_half_there(
    tmp_path, backend, request
):
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgres"
        else f"sqlite:///{tmp_path / 'crash.db'}"
    )
    env = environment(url)
    token = create_token(env, tmp_path, "crash")
    stop = threading.Event()
    with serving(env, tmp_path, "--workers", "2", log=tmp_path / "before.log") as server:
        outcome, threads = run_writers([server.base], token, writers=8, count=10_000, stop=stop)
        deadline = time.monotonic() + 20
        while len(outcome.acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.crash()
        stop.set()
        for thread in threads:
            thread.join()
    assert len(outcome.acknowledged) >= 150
    with serving(env, tmp_path, log=tmp_path / "after.log") as restarted:
        log = logged(env, tmp_path)
        stored = {event["id"] for event in log}
        assert {e["id"] for e in outcome.acknowledged} <= stored
        assert len(stored) - len(outcome.acknowledged) <= 8  # at most one in flight per writer
        assert_log_and_read_model_agree(restarted, log)
        assert (
            restarted.get("/metrics").body.decode().count("timeline_read_model_lag_events 0.0") == 1
        )
        org, key, body, first = outcome.keyed[-1]
        replay = restarted.post(
            f"/api/organisations/{org}/events",
            body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        )
        assert replay.status == 201 and replay.json() == first
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert cli(["projections", "rebuild"], env, tmp_path).returncode == 0
    with serving(env, tmp_path, log=tmp_path / "rebuilt.log") as rebuilt:
        assert_log_and_read_model_agree(rebuilt, logged(env, tmp_path))


def test_sigterm_lets_requests_in_flight_finish(tmp_path):
    env = environment(f"sqlite:///{tmp_path / 'term.db'}")
    token = create_token(env, tmp_path, "graceful")
    stop = threading.Event()
    with serving(env, tmp_path, "--workers", "2", log=tmp_path / "term.log") as server:
        outcome, threads = run_writers([server.base], token, writers=8, count=10_000, stop=stop)
        while len(outcome.acknowledged) < 50:
            time.sleep(0.02)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
        stop.set()
        for thread in threads:
            thread.join()
    # Every request the server took up was answered: what it stored is what it acknowledged.
    stored = {event["id"] for event in logged(env, tmp_path)}
    assert stored == {event["id"] for event in outcome.acknowledged}
    assert dict(outcome.other) == {}
