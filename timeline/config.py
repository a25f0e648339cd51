"""Configuration from the environment, with defaults that need no setup at all."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from projections.search import RANK_WINDOW

DEFAULT_DATABASE_FILE = "timeline.db"
DEFAULT_SQLITE_MMAP_SIZE = 256 * 1024 * 1024
DEFAULT_IDEMPOTENCY_RETENTION_HOURS = 48.0
MIN_IDEMPOTENCY_RETENTION_HOURS = 24.0
"""The contract keeps an idempotency key at least 24 hours: a shorter retention is refused."""
DEFAULT_STANDBY_MAX_LAG = 30.0
"""Seconds a standby's replay may be behind before reads skip it (CONTRACT §3)."""
DEFAULT_STANDBY_CHECK_INTERVAL = 2.0
MAX_STANDBY_CHECK_INTERVAL = 5.0
"""A standby that is down is tried again at least every 10 s, and one that stops answering is
shown down within 10 s (CONTRACT §3): a check every 5 s at most, given 4 s to answer."""


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def _size(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _int(environ, name, default)
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")
    return value


def _at_least(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    """A finite number of at least `minimum` from the environment."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    refusal = f"{name} must be a number of at least {minimum:g}, not {raw!r}"
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(refusal) from None
    if not minimum <= value < math.inf:
        raise ValueError(refusal)
    return value


@dataclass(frozen=True)
class Config:
    """Everything the service reads from its environment."""

    database_url: str
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: int = 30
    sqlite_busy_timeout: int = 30
    sqlite_mmap_size: int = DEFAULT_SQLITE_MMAP_SIZE
    aggregate_cache_size: int = 500
    idempotency_retention_hours: float = DEFAULT_IDEMPOTENCY_RETENTION_HOURS
    read_database_urls: tuple[str, ...] = ()
    """PostgreSQL hot standbys that serve reads (see `timeline.standbys`)."""
    standby_max_lag: float = DEFAULT_STANDBY_MAX_LAG
    standby_check_interval: float = DEFAULT_STANDBY_CHECK_INTERVAL

    secret_key: str | None = None
    """Signs the pages' session cookies; without it, one is generated and kept in the database."""
    secure_cookies: bool = False
    """Mark the session cookie Secure on every response (served only over HTTPS)."""
    stream_buffer: int = 10_000
    """Events each server process keeps for its live streams: a stream that falls further
    behind than this is disconnected (see `timeline.stream`)."""
    stream_heartbeat: float = 10.0
    """Seconds of silence after which a stream sends a comment line (at most 15)."""
    search_rank_window: int = RANK_WINDOW
    """How many matches a search ranks at once (see `projections.search.RANK_WINDOW`)."""

    def __post_init__(self) -> None:
        if self.read_database_urls:
            _check_standbys(self.database_url, self.read_database_urls)
        if not 0 < self.standby_check_interval <= MAX_STANDBY_CHECK_INTERVAL:
            raise ValueError(
                "TIMELINE_STANDBY_CHECK_INTERVAL must be more than 0 and at most "
                f"{MAX_STANDBY_CHECK_INTERVAL:g} seconds, not {self.standby_check_interval:g}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read TIMELINE_* variables; without TIMELINE_DATABASE_URL, an SQLite file here."""
        env = os.environ if environ is None else environ
        url = env.get("TIMELINE_DATABASE_URL") or default_database_url()
        return cls(
            database_url=url,
            pool_size=_int(env, "TIMELINE_DB_POOL_SIZE", 5),
            max_overflow=_int(env, "TIMELINE_DB_MAX_OVERFLOW", 10),
            pool_timeout=_int(env, "TIMELINE_DB_POOL_TIMEOUT", 30),
            sqlite_busy_timeout=_int(env, "TIMELINE_SQLITE_BUSY_TIMEOUT", 30),
            sqlite_mmap_size=_size(env, "TIMELINE_SQLITE_MMAP_SIZE", DEFAULT_SQLITE_MMAP_SIZE),
            aggregate_cache_size=_int(env, "TIMELINE_AGGREGATE_CACHE_SIZE", 500),
            idempotency_retention_hours=_at_least(
                env,
                "TIMELINE_IDEMPOTENCY_RETENTION_HOURS",
                DEFAULT_IDEMPOTENCY_RETENTION_HOURS,
                MIN_IDEMPOTENCY_RETENTION_HOURS,
            ),
            read_database_urls=tuple(
                url.strip()
                for url in env.get("TIMELINE_READ_DATABASE_URLS", "").split(",")
                if url.strip()
            ),
            standby_max_lag=_at_least(
                env, "TIMELINE_STANDBY_MAX_LAG", DEFAULT_STANDBY_MAX_LAG, 0.0
            ),
            standby_check_interval=_at_least(
                env, "TIMELINE_STANDBY_CHECK_INTERVAL", DEFAULT_STANDBY_CHECK_INTERVAL, 0.0
            ),
            secret_key=env.get("TIMELINE_SECRET_KEY") or None,
            secure_cookies=env.get("TIMELINE_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
            stream_buffer=max(20, _int(env, "TIMELINE_STREAM_BUFFER", 10_000)),
            stream_heartbeat=min(15.0, _at_least(env, "TIMELINE_STREAM_HEARTBEAT", 10.0, 0.1)),
            search_rank_window=max(1, _int(env, "TIMELINE_SEARCH_RANK_WINDOW", RANK_WINDOW)),
        )

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded default (and any other SQLite file)."""
        return self.database_url.startswith("sqlite")


def _check_standbys(primary: str, standbys: tuple[str, ...]) -> None:
    """Standbys are PostgreSQL hot standbys of a PostgreSQL primary: refuse anything else."""
    if not primary.startswith("postgresql"):
        raise ValueError(
            "TIMELINE_READ_DATABASE_URLS names PostgreSQL hot standbys, which need a PostgreSQL "
            "primary in TIMELINE_DATABASE_URL (postgresql+psycopg://...); the database here "
            "is not one: unset TIMELINE_READ_DATABASE_URLS"
        )
    for url in standbys:
        if not url.startswith("postgresql"):
            raise ValueError(
                "TIMELINE_READ_DATABASE_URLS must be PostgreSQL URLs separated by commas "
                f"(postgresql+psycopg://host:port/database), not {url.split('://')[0]!r} URLs"
            )


def default_database_url() -> str:
    """An SQLite file in the working directory."""
    return f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"
