"""Idempotency keys past their retention are purged, in small batches beside the writers;
young keys stay and still replay. On an SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import event, insert, select, update

from api.app import create_app
from tests.e2e.server import cli, environment
from timeline.bootstrap import Services, build
from timeline.config import Config
from timeline.keys import IdempotencyKeys, Purger
from timeline.tables import idempotency_keys

EVENTS = "/api/organisations/cicopa/events"
HOUR = 3600 * 1_000_000


def milestone(n: int) -> dict:
    return {"type": "milestone", "occurred_on": "2001", "data": {"headline": f"step {n}"}}


def stored_keys(services: Services) -> set[str]:
    with services.engine.connect() as conn:
        return set(conn.execute(select(idempotency_keys.c.key)).scalars())


def age(services: Services, keys: list[str], hours: float) -> None:
    """Make these keys look `hours` old."""
    created_at = int(time.time() * 1_000_000 - hours * HOUR)
    with services.engine.begin() as conn:
        conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key.in_(keys))
            .values(created_at=created_at)
        )


def old_keys(services: Services, count: int, hours: float, prefix: str = "old") -> None:
    """`count` keys stored `hours` ago (rows as an append stores them, without the events)."""
    created_at = int(time.time() * 1_000_000 - hours * HOUR)
    rows = [
        {
            "token_id": "0" * 16,
            "organisation": "cicopa",
            "key": f"{prefix}-{n}",
            "request_sha256": "0" * 64,
            "status": 201,
            "response": "{}",
            "created_at": created_at,
        }
        for n in range(count)
    ]
    with services.engine.begin() as conn:
        conn.execute(insert(idempotency_keys), rows)


def test_old_keys_are_purged_young_ones_kept_and_a_young_key_still_replays(services):
    client = create_app(services).test_client()
    auth = {"Authorization": f"Bearer {services.tokens.create('Jane Historian')}"}
    first = {}
    for n in range(5):
        response = client.post(
            EVENTS, json=milestone(n), headers={**auth, "Idempotency-Key": f"k{n}"}
        )
        assert response.status_code == 201
        first[n] = response.get_json()
    age(services, ["k0", "k1", "k2"], hours=49)
    age(services, ["k3"], hours=47)

    purged = IdempotencyKeys(services.engine, retention_hours=48).purge(batch=2, pause=0)

    assert purged == 3
    assert stored_keys(services) == {"k3", "k4"}
    for n in (3, 4):
        again = client.post(EVENTS, json=milestone(n), headers={**auth, "Idempotency-Key": f"k{n}"})
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first[n]
    assert IdempotencyKeys(services.engine, retention_hours=48).purge() == 0


def test_appends_go_on_while_a_purge_deletes_thousands_of_keys(services):
    old_keys(services, 3000, hours=100)
    client = create_app(services).test_client()
    auth = {"Authorization": f"Bearer {services.tokens.create('Jane Historian')}"}
    keys = IdempotencyKeys(services.engine, retention_hours=48)
    purged: list[int] = []
    purge = threading.Thread(target=lambda: purged.append(keys.purge(batch=100, pause=0.001)))
    purge.start()
    statuses = []
    for n in range(20):
        headers = {**auth, "Idempotency-Key": f"new-{n}"}
        statuses.append(client.post(EVENTS, json=milestone(n), headers=headers).status_code)
    purge.join()
    assert statuses == [201] * 20
    assert purged == [3000]
    assert stored_keys(services) == {f"new-{n}" for n in range(20)}


def test_a_serving_process_purges_old_keys_in_the_background(services):
    old_keys(services, 10, hours=72)
    purger = Purger(IdempotencyKeys(services.engine, retention_hours=48), interval=0.05).start()
    try:
        deadline = time.monotonic() + 60
        while stored_keys(services) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        purger.stop()
    assert stored_keys(services) == set()


def test_keys_purge_on_the_command_line_follows_the_configured_retention(database_url, tmp_path):
    env = environment(database_url, TIMELINE_IDEMPOTENCY_RETENTION_HOURS="30")
    services = build(Config(database_url=database_url))
    try:
        old_keys(services, 2, hours=31, prefix="older")
        old_keys(services, 2, hours=29, prefix="younger")
        result = cli(["keys", "purge"], env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"purged": 2}
        assert stored_keys(services) == {"younger-0", "younger-1"}
    finally:
        services.close()


@pytest.mark.parametrize("value", ["0", "-1", "23.9", "two days", "nan", "inf"])
def test_a_retention_shorter_than_the_contracts_24_hours_or_not_a_number_is_refused(
    value, tmp_path, sqlite_url
):
    with pytest.raises(ValueError, match="TIMELINE_IDEMPOTENCY_RETENTION_HOURS"):
        Config.from_env({"TIMELINE_IDEMPOTENCY_RETENTION_HOURS": value})
    env = environment(sqlite_url, TIMELINE_IDEMPOTENCY_RETENTION_HOURS=value)
    result = cli(["keys", "purge"], env, tmp_path)
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_retention_is_48_hours_unless_configured():
    assert Config.from_env({}).idempotency_retention_hours == 48
    configured = Config.from_env({"TIMELINE_IDEMPOTENCY_RETENTION_HOURS": "24.5"})
    assert configured.idempotency_retention_hours == 24.5


def test_a_purge_that_finds_no_old_key_writes_nothing(services):
    old_keys(services, 3, hours=1, prefix="young")
    statements: list[str] = []

    @event.listens_for(services.engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lstrip().split()[0].upper())

    try:
        assert IdempotencyKeys(services.engine, retention_hours=48).purge() == 0
    finally:
        event.remove(services.engine, "before_cursor_execute", record)
    assert statements and set(statements) <= {"SELECT"}
    assert stored_keys(services) == {"young-0", "young-1", "young-2"}
