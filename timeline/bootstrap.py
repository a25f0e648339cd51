"""The composition root: the one place where the service's parts are built and wired.

The CLI, the web app and the tests all call `build`. Nothing here runs at import time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError as LibraryIntegrityError
from sqlalchemy import Engine, exc, insert, select, text

from projections.readmodel import ReadModel
from timeline.application import Timeline
from timeline.commands import Commands
from timeline.config import Config
from timeline.persistence import engine_options
from timeline.queries import Cursors, Queries
from timeline.standbys import Reads
from timeline.tables import create_or_upgrade, settings
from timeline.tokens import Tokens

TRACKING_TABLE = "tl_tracking"
CURSOR_KEY = "cursor_signing_key"


@dataclass
class Services:
    """The built service: the application, its read model, commands, queries and tokens."""

    config: Config
    app: Timeline
    read_model: ReadModel
    commands: Commands
    queries: Queries
    tokens: Tokens
    reads: Reads
    """Where reads go: the primary, or the standbys of TIMELINE_READ_DATABASE_URLS."""
    startup_position: int = field(default=0)
    """The last notification in the log when the service started: /healthz waits for it."""

    @property
    def engine(self) -> Engine:
        """The database engine every part shares."""
        return self.app.engine

    def catch_up(self) -> int:
        """Apply to the read model whatever the log holds that it has not applied yet."""
        return self.read_model.catch_up(self.app.timeline_recorder, self.app.mapper)

    def rebuild_projections(self) -> int:
        """Rebuild the read model from the whole log; return the position reached."""
        return self.read_model.rebuild(self.app.timeline_recorder, self.app.mapper)

    def is_healthy(self) -> bool:
        """The database answers and the read model has reached the log found at startup."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return self.read_model.position() >= self.startup_position
        except exc.SQLAlchemyError:
            return False

    def is_empty(self) -> bool:
        """True when no event has been recorded yet."""
        return not self.app.recorder.max_notification_id()

    def close(self) -> None:
        """Release the database connections."""
        self.reads.close()
        self.app.close()


def create_tables(app: Timeline, read_model: ReadModel) -> None:
    """Create every table the service uses (each only if missing) and the cursor key."""
    app.create_tables()
    read_model.upgrade()  # a read model an earlier version wrote is made afresh
    read_model.create_table()
    create_or_upgrade(app.engine)
    with app.engine.begin() as conn:
        if conn.execute(select(settings.c.value).where(settings.c.name == CURSOR_KEY)).first():
            return
        conn.execute(insert(settings).values(name=CURSOR_KEY, value=secrets.token_hex(32)))


def _cursor_key(engine: Engine) -> bytes:
    with engine.connect() as conn:
        value = conn.execute(
            select(settings.c.value).where(settings.c.name == CURSOR_KEY)
        ).scalar_one()
    return bytes.fromhex(value)


def build(config: Config | None = None, *, create: bool = True) -> Services:
    """Build the service, catching the read model up with the log.

    With `create`, missing tables are created first. Servers with several processes create
    them once in the parent (`timeline serve`) and build with `create=False` in each worker,
    after the fork: two processes creating tables at once can fail on PostgreSQL.
    """
    config = config or Config.from_env()
    app = Timeline(config)
    read_model = ReadModel(
        app.timeline_recorder.datastore, upstream=app.name, tracking_table_name=TRACKING_TABLE
    )
    if create:
        try:
            create_tables(app, read_model)
        except (exc.IntegrityError, exc.ProgrammingError, LibraryIntegrityError):
            create_tables(app, read_model)  # another process was creating them at once
    app.timeline_recorder.follow_with(read_model, app.mapper)
    reads = Reads.from_urls(
        app.engine,
        config.read_database_urls,
        engine_options(config),
        max_lag=config.standby_max_lag,
        interval=config.standby_check_interval,
    )
    services = Services(
        config=config,
        app=app,
        read_model=read_model,
        commands=Commands(app),
        queries=Queries(app, Cursors(_cursor_key(app.engine)), reads, config.search_rank_window),
        tokens=Tokens(app.engine),
        reads=reads,
    )
    services.catch_up()
    services.startup_position = app.recorder.max_notification_id() or 0
    return services
