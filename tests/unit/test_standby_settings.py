"""WAL positions as the `Timeline-Position` header carries them, and the standbys' settings."""

from __future__ import annotations

import pytest

from timeline.config import Config
from timeline.standbys import InvalidPosition, format_position, parse_position, standby_name

PRIMARY = "postgresql+psycopg://timeline@db1:5432/timeline"


@pytest.mark.parametrize(
    ("text", "position"),
    [("0/0", 0), ("0/16B3748", 0x16B3748), ("1/0", 1 << 32), ("FFFFFFFF/FFFFFFFF", 2**64 - 1)],
)
def test_a_position_reads_and_writes_as_postgresql_writes_it(text, position):
    assert parse_position(text) == position
    assert format_position(position) == text


def test_a_position_in_lower_case_reads_the_same():
    assert parse_position("a/16b3748") == parse_position("A/16B3748")


@pytest.mark.parametrize(
    "text", ["", "0", "0/", "/0", "0/0/0", "G/0", "123456789/0", "0/123456789", "-1/0", "0x1/0"]
)
def test_anything_else_is_not_a_position(text):
    with pytest.raises(InvalidPosition):
        parse_position(text)


def test_standbys_are_read_from_the_environment_separated_by_commas():
    config = Config.from_env(
        {
            "TIMELINE_DATABASE_URL": PRIMARY,
            "TIMELINE_READ_DATABASE_URLS": " postgresql+psycopg://r@db2/timeline, "
            "postgresql+psycopg://r@db3:5433/timeline,",
            "TIMELINE_STANDBY_MAX_LAG": "12.5",
        }
    )
    assert config.read_database_urls == (
        "postgresql+psycopg://r@db2/timeline",
        "postgresql+psycopg://r@db3:5433/timeline",
    )
    assert config.standby_max_lag == 12.5
    assert config.standby_check_interval == 2.0


def test_without_standbys_the_defaults_hold():
    config = Config.from_env({"TIMELINE_DATABASE_URL": PRIMARY})
    assert config.read_database_urls == ()
    assert config.standby_max_lag == 30.0


def test_standbys_of_an_sqlite_database_are_refused_with_a_clear_reason():
    with pytest.raises(ValueError, match="need a PostgreSQL primary"):
        Config.from_env({"TIMELINE_READ_DATABASE_URLS": "postgresql+psycopg://r@db2/timeline"})


def test_a_standby_that_is_not_postgresql_is_refused():
    with pytest.raises(ValueError, match="must be PostgreSQL URLs"):
        Config(database_url=PRIMARY, read_database_urls=("sqlite:///replica.db",))


@pytest.mark.parametrize("interval", ["0", "5.5", "60"])
def test_standbys_are_checked_at_least_every_five_seconds(interval):
    with pytest.raises(ValueError, match="TIMELINE_STANDBY_CHECK_INTERVAL"):
        Config.from_env(
            {"TIMELINE_DATABASE_URL": PRIMARY, "TIMELINE_STANDBY_CHECK_INTERVAL": interval}
        )


def test_a_standby_is_named_without_its_credentials():
    assert standby_name("postgresql+psycopg://reader:s3cret@db2:5433/timeline") == (
        "db2:5433/timeline"
    )
    assert standby_name("postgresql+psycopg://reader:s3cret@db2/timeline") == "db2:5432/timeline"
