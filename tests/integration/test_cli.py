"""The `timeline` command, run as a real process on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.e2e.server import cli, environment
from timeline.bootstrap import build
from timeline.cli import main
from timeline.commands import seed_lines
from timeline.config import Config

SHIPPED = sum(1 for line in seed_lines() if line.strip())
"""Lines in the shipped history: its events, and the corrections and retractions amending it."""


def comparable(state: dict) -> dict:
    """A state without the recording times and versions that import does not keep."""
    recorded = ("recorded_at", "recorded_by", "version")
    uncertain = [{k: v for k, v in e.items() if k not in recorded} for e in state["uncertain"]]
    return {**state, "uncertain": uncertain}


@pytest.fixture
def env(database_url):
    return environment(database_url)


def test_seed_then_state_at_1998_shows_the_1998_document_and_seeding_twice_adds_nothing(
    env, tmp_path
):
    first = cli(["seed"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"imported": SHIPPED, "skipped": 0}
    assert json.loads(cli(["seed"], env, tmp_path).stdout) == {"imported": 0, "skipped": SHIPPED}
    state = json.loads(cli(["state", "cicopa", "--at", "1998"], env, tmp_path).stdout)
    presidents = [h["person"]["name"] for h in state["office_holders"] if h["role"] == "President"]
    assert presidents == ["Marian Rybar"]
    assert (
        state["figures"]["member_organisations"]["value"],
        state["figures"]["countries"]["value"],
    ) == (65, 45)
    assert (
        state["figures"]["member_organisations"]["sources"][0]["file"] == "003_8246a2747768bb40.txt"
    )


def test_export_then_import_into_an_empty_database_gives_the_same_states(env, tmp_path, sqlite_url):
    cli(["seed"], env, tmp_path)
    exported = cli(["export"], env, tmp_path).stdout
    lines = exported.splitlines()
    assert len(lines) == SHIPPED and all(json.loads(line)["sources"] for line in lines)
    other = environment(f"sqlite:///{tmp_path / 'other.db'}")
    imported = cli(["import", "-"], other, tmp_path, stdin=exported)
    assert json.loads(imported.stdout) == {"imported": SHIPPED, "skipped": 0}
    ours = json.loads(cli(["state", "cicopa", "--at", "2018"], env, tmp_path).stdout)
    theirs = json.loads(cli(["state", "cicopa", "--at", "2018"], other, tmp_path).stdout)
    assert theirs == ours
    original = build(Config(database_url=env["TIMELINE_DATABASE_URL"]))
    copy = build(Config(database_url=other["TIMELINE_DATABASE_URL"]))
    try:
        for org in ("cicopa", "ica", "cecop", "cicopa-americas", "cicopa-north-america"):
            for at in [str(year) for year in range(1890, 2027)] + ["2018-01", "2011-11-16"]:
                assert comparable(copy.queries.state(org, at)) == comparable(
                    original.queries.state(org, at)
                ), (org, at)
    finally:
        original.close()
        copy.close()
    only_ica = cli(["export", "--org", "ica"], env, tmp_path).stdout.splitlines()
    assert {json.loads(line)["organisation"] for line in only_ica} == {"ica"}


def test_a_bad_import_line_is_one_clear_line_on_stderr_and_writes_nothing(env, tmp_path):
    lines = [
        json.dumps(
            {
                "organisation": "cicopa",
                "type": "founded",
                "occurred_on": "1947",
                "data": {"name": "CICOPA"},
            }
        ),
        json.dumps(
            {
                "organisation": "cicopa",
                "type": "founded",
                "occurred_on": "1947-02-30",
                "data": {"name": "X"},
            }
        ),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = cli(["import", str(path)], env, tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("Error: line 2: occurred_on:")
    assert "nothing was imported" in result.stderr
    assert cli(["export"], env, tmp_path).stdout == ""


def test_token_create_prints_the_token_alone_on_the_last_line(env, tmp_path):
    result = cli(["token", "create", "Jane Historian"], env, tmp_path)
    assert result.returncode == 0
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("tl_") and " " not in token
    assert "Jane Historian" in result.stderr
    second = (
        cli(["token", "create", "Jane Historian"], env, tmp_path).stdout.strip().splitlines()[-1]
    )
    assert second != token


def test_errors_are_one_line_on_stderr_with_a_non_zero_exit(env, tmp_path):
    for args in (
        ["state", "nobody"],
        ["state", "cicopa", "--at", "1998-13"],
        ["state", "cicopa", "--known-at", "noon"],
    ):
        result = cli(args, env, tmp_path)
        assert result.returncode == 1
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    missing = cli(["import", str(tmp_path / "absent.jsonl")], env, tmp_path)
    assert missing.returncode == 2 and "No such file" in missing.stderr


def test_rebuilding_the_projections_keeps_every_answer(env, tmp_path):
    cli(["seed"], env, tmp_path)
    before = cli(["state", "cicopa", "--at", "2019"], env, tmp_path).stdout
    rebuilt = cli(["projections", "rebuild"], env, tmp_path)
    assert rebuilt.returncode == 0 and json.loads(rebuilt.stdout)["rebuilt_to"] >= 60
    assert cli(["state", "cicopa", "--at", "2019"], env, tmp_path).stdout == before


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["seed"],
        ["import"],
        ["export"],
        ["state"],
        ["token", "create"],
        ["token", "list"],
        ["token", "revoke"],
        ["keys", "purge"],
        ["projections", "rebuild"],
        ["serve"],
        ["init"],
    ],
)
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert len(result.output.splitlines()) > 3
