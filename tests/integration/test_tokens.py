"""Tokens as an operator manages them: listed, revoked, their use noted to the minute, and a
database made by the previous version upgraded. On an SQLite file and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    create_engine,
    event,
    inspect,
    select,
    text,
    update,
)

from api.app import create_app
from tests.e2e.server import cli, create_token, environment
from timeline.bootstrap import Services, build
from timeline.config import Config
from timeline.tables import metadata, tokens
from timeline.tokens import USE_RESOLUTION, Tokens, token_id_of

REVOCATION_SECONDS = 2
"""The contract: a revoked token is refused by every process within 2 s of the command's return."""


@pytest.fixture
def env(database_url):
    return environment(database_url)


def listed(env, cwd) -> list[dict]:
    result = cli(["token", "list"], env, cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def seconds(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def test_token_list_shows_each_token_once_a_line_without_its_secret_or_hash(env, tmp_path):
    first = create_token(env, tmp_path, "Jane Historian")
    second = create_token(env, tmp_path, "Jane Historian")
    other = create_token(env, tmp_path, "Archivist")
    before = time.time()
    lines = listed(env, tmp_path)
    names = {line["id"]: line["name"] for line in lines}
    assert len(lines) == len(names) == 3
    assert names == {
        token_id_of(first): "Jane Historian",
        token_id_of(second): "Jane Historian",
        token_id_of(other): "Archivist",
    }
    for line in lines:
        assert set(line) == {"id", "name", "created_at", "last_used_at", "revoked_at"}
        assert line["created_at"].endswith("Z") and seconds(line["created_at"]) <= before
        assert (line["last_used_at"], line["revoked_at"]) == (None, None)
    everything = cli(["token", "list"], env, tmp_path).stdout
    for token in (first, second, other):
        secret = token.split("_", 2)[2]
        assert secret not in everything
        assert hashlib.sha256(secret.encode()).hexdigest() not in everything


def test_a_revoked_token_is_refused_by_every_process_and_listed_as_revoked(env, tmp_path):
    token = create_token(env, tmp_path, "Jane Historian")
    kept = create_token(env, tmp_path, "Archivist")
    url = env["TIMELINE_DATABASE_URL"]
    processes = [build(Config(database_url=url)) for _ in range(2)]
    try:
        assert all(p.tokens.authenticate(token) for p in processes)  # remembered as valid
        revoked = cli(["token", "revoke", token_id_of(token)], env, tmp_path)
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout == ""
        time.sleep(REVOCATION_SECONDS)
        assert [p.tokens.authenticate(token) for p in processes] == [None, None]
        assert all(p.tokens.authenticate(kept) for p in processes)
    finally:
        for p in processes:
            p.close()
    lines = {line["id"]: line for line in listed(env, tmp_path)}
    assert lines[token_id_of(token)]["revoked_at"] is not None
    assert lines[token_id_of(kept)]["revoked_at"] is None


@pytest.mark.parametrize("which", ["unknown", "revoked already"])
def test_revoking_an_unknown_or_revoked_id_is_one_line_on_stderr_and_a_non_zero_exit(
    env, tmp_path, which
):
    token_id = token_id_of(create_token(env, tmp_path, "Jane Historian"))
    if which == "unknown":
        token_id = "0" * 16
    else:
        assert cli(["token", "revoke", token_id], env, tmp_path).returncode == 0
    result = cli(["token", "revoke", token_id], env, tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert token_id in result.stderr


def test_a_revoked_token_gets_401_with_www_authenticate_bearer(services: Services):
    token = services.tokens.create("Jane Historian")
    client = create_app(services).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"type": "founded", "occurred_on": "1947", "data": {"name": "CICOPA"}}
    assert (
        client.post("/api/organisations/cicopa/events", json=body, headers=headers).status_code
        == 201
    )
    services.tokens.revoke(token_id_of(token))
    time.sleep(REVOCATION_SECONDS)
    refused = client.post("/api/organisations/cicopa/events", json=body, headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.mimetype == "application/problem+json"


def stored_use(services: Services, token_id: str) -> int | None:
    with services.engine.connect() as conn:
        return conn.execute(
            select(tokens.c.last_used_at).where(tokens.c.token_id == token_id)
        ).scalar_one()


def test_last_used_at_is_written_once_a_minute_not_once_a_request(services: Services):
    token = services.tokens.create("Jane Historian")
    token_id = token_id_of(token)
    writes: list[str] = []

    @event.listens_for(services.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE") and "tl_tokens" in statement:
            writes.append(statement)

    before = int(time.time())
    for _ in range(20):  # as twenty processes would, each remembering nothing yet
        assert Tokens(services.engine).authenticate(token) is not None
    assert len(writes) == 1
    first = stored_use(services, token_id)
    assert first is not None and before <= first <= time.time()

    recent = int(time.time()) - USE_RESOLUTION // 2
    with services.engine.begin() as conn:
        conn.execute(
            update(tokens).where(tokens.c.token_id == token_id).values(last_used_at=recent)
        )
    writes.clear()  # that UPDATE was the test's
    Tokens(services.engine).authenticate(token)
    assert (writes, stored_use(services, token_id)) == ([], recent)

    stale = int(time.time()) - USE_RESOLUTION - 1
    with services.engine.begin() as conn:
        conn.execute(update(tokens).where(tokens.c.token_id == token_id).values(last_used_at=stale))
    writes.clear()
    Tokens(services.engine).authenticate(token)
    assert len(writes) == 1 and stored_use(services, token_id) >= stale + USE_RESOLUTION
    event.remove(services.engine, "before_cursor_execute", count)


def previous_version_tables(url: str) -> str:
    """The tables as the previous version made them (without the token's use and revocation,
    nor the index on the keys' age), with one token in: returns the token."""
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE tl_tokens DROP COLUMN last_used_at"))
            conn.execute(text("ALTER TABLE tl_tokens DROP COLUMN revoked_at"))
            conn.execute(text("DROP INDEX tl_idempotency_created_at"))
            secret = "an-old-secret"
            conn.execute(
                text("INSERT INTO tl_tokens VALUES (:id, :name, :sha256, :created_at)"),
                {
                    "id": "0123456789abcdef",
                    "name": "Old Hand",
                    "sha256": hashlib.sha256(secret.encode()).hexdigest(),
                    "created_at": 1_700_000_000,
                },
            )
        assert {c["name"] for c in inspect(engine).get_columns("tl_tokens")} == {
            "token_id",
            "name",
            "secret_sha256",
            "created_at",
        }
    finally:
        engine.dispose()
    return f"tl_0123456789abcdef_{secret}"


def test_timeline_init_upgrades_a_database_made_by_the_previous_version(env, tmp_path):
    url = env["TIMELINE_DATABASE_URL"]
    token = previous_version_tables(url)
    result = cli(["init"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert listed(env, tmp_path) == [
        {
            "id": "0123456789abcdef",
            "name": "Old Hand",
            "created_at": datetime.fromtimestamp(1_700_000_000, UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "last_used_at": None,
            "revoked_at": None,
        }
    ]
    engine = create_engine(url)
    try:
        indexes = {index["name"] for index in inspect(engine).get_indexes("tl_idempotency")}
        assert "tl_idempotency_created_at" in indexes
    finally:
        engine.dispose()
    services = build(Config(database_url=url))  # a second upgrade finds nothing to do
    try:
        assert services.tokens.authenticate(token) is not None
        assert stored_use(services, "0123456789abcdef") is not None
    finally:
        services.close()
    assert cli(["token", "revoke", "0123456789abcdef"], env, tmp_path).returncode == 0
