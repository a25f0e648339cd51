"""A token revoked with the CLI is refused by every server process on the database, on an
SQLite file and on PostgreSQL: two `timeline serve` processes, each with its workers."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.server import cli, create_token, environment, serving
from timeline.tokens import token_id_of

pytestmark = pytest.mark.slow

EVENTS = "/api/organisations/cicopa/events"
REVOCATION_SECONDS = 2
"""The contract: a revoked token is refused by every process within 2 s of the command's return."""
REQUESTS = 6
"""Requests sent to each server at each step, each on a connection of its own, so that they
reach its several workers."""


def append(server, token: str, n: int):
    body = {"type": "milestone", "occurred_on": "2001", "data": {"headline": f"step {n}"}}
    return server.post(EVENTS, body, headers={"Authorization": f"Bearer {token}"})


def test_a_token_revoked_on_the_command_line_is_refused_by_every_server_process(
    tmp_path, database_url
):
    env = environment(database_url)
    revoked, kept = (create_token(env, tmp_path, name) for name in ("Leaver", "Stayer"))
    with (
        serving(env, tmp_path, "--no-seed", log=tmp_path / "a.log") as one,
        serving(env, tmp_path, "--no-seed", log=tmp_path / "b.log") as two,
    ):
        servers = [one, two]
        for n in range(REQUESTS):  # every worker reached has verified it, and remembers
            assert [append(server, revoked, n).status for server in servers] == [201, 201]

        result = cli(["token", "revoke", token_id_of(revoked)], env, tmp_path)
        assert result.returncode == 0, result.stderr
        time.sleep(REVOCATION_SECONDS)

        for n in range(REQUESTS):
            for server in servers:
                refused = append(server, revoked, n)
                assert refused.status == 401
                assert refused.headers["WWW-Authenticate"].startswith("Bearer")
                assert append(server, kept, n).status == 201
    listed = cli(["token", "list"], env, tmp_path).stdout.splitlines()
    tokens = {line["name"]: line for line in map(json.loads, listed)}
    assert tokens["Leaver"]["revoked_at"] is not None and tokens["Stayer"]["revoked_at"] is None
    assert tokens["Leaver"]["last_used_at"] and tokens["Stayer"]["last_used_at"]
