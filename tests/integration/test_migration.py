"""A database made by the previous version (its events, its read model's shape) is brought to
this version's shape when the service starts, and follows the history shipped now."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from projections.tables import READ_MODEL_TABLES, shapes
from tests.fixtures import readmodel_4b2118f
from timeline.bootstrap import Services, build
from timeline.cli import main
from timeline.commands import seed_lines
from timeline.config import Config

PREVIOUS_HISTORY = Path(__file__).resolve().parents[1] / "fixtures" / "cicopa-4b2118f.jsonl"
ORGANISATIONS = ("cicopa", "ica", "cecop")
YEARS = ("1947", "1978", "1998", "2005", "2013", "2017", "2019", "2023")


def made_by_the_previous_version(url: str) -> None:
    """The history as it was shipped at 4b2118f, in a database whose read model tables have
    that version's shape and whose tracking position says they have applied the whole log."""
    services = build(Config(database_url=url))
    try:
        report = services.commands.import_lines(PREVIOUS_HISTORY.read_text("utf-8").splitlines())
        assert report.imported > 0
    finally:
        services.close()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            shapes.drop(conn)
            for table in READ_MODEL_TABLES:
                table.drop(conn)
            readmodel_4b2118f.metadata.create_all(conn)
    finally:
        engine.dispose()


def assert_states_follow_the_fold(services: Services) -> None:
    for org in ORGANISATIONS:
        for year in YEARS:
            expected = services.queries.state_by_replay(org, year)
            assert services.queries.state(org, year) == expected, (org, year)


def fact_columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns("tl_facts")}
    finally:
        engine.dispose()


def test_starting_on_a_database_of_the_previous_version_rebuilds_its_read_model_then_seeding_brings_it_up_to_date(
    database_url,
):
    made_by_the_previous_version(database_url)
    old_columns = fact_columns(database_url)
    services = build(Config(database_url=database_url))
    try:
        assert fact_columns(database_url) > old_columns
        assert_states_follow_the_fold(services)
        services.commands.import_lines(seed_lines())
        assert_states_follow_the_fold(services)
        assert services.read_model.upgrade() is False
    finally:
        services.close()


@pytest.mark.parametrize("command", [["projections", "rebuild"], ["init"]])
def test_the_rebuild_and_init_commands_bring_a_read_model_of_the_previous_version_to_this_shape(
    database_url, command
):
    made_by_the_previous_version(database_url)
    result = CliRunner().invoke(main, command, env={"TIMELINE_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    services = build(Config(database_url=database_url), create=False)
    try:
        assert_states_follow_the_fold(services)
    finally:
        services.close()
