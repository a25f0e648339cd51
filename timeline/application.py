"""The event-sourced application: every organisation's stream, in one event log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from sqlalchemy import Engine

from events.organisation import Organisation, OrganisationEvent
from timeline.config import Config
from timeline.persistence import TimelineFactory, TimelineRecorder


class Timeline(Application[UUID]):
    """Organisations' histories as event streams, stored with `eventsourcing_sqlalchemy`."""

    name = "Timeline"

    def __init__(self, config: Config) -> None:
        self.config = config
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
                "SQLALCHEMY_URL": config.database_url,
                "CREATE_TABLE": "n",
                "AGGREGATE_CACHE_MAXSIZE": str(config.aggregate_cache_size),
                "AGGREGATE_CACHE_FASTFORWARD": "y",
                "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
                "IS_SNAPSHOTTING_ENABLED": "n",
            }
        )

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """Our factory: the library's SQLAlchemy one with a configured pool."""
        return TimelineFactory(env, self.config)

    @property
    def engine(self) -> Engine:
        """The engine of the event log's database, shared with the read model."""
        assert isinstance(self.factory, TimelineFactory)
        return self.factory.engine

    @property
    def timeline_recorder(self) -> TimelineRecorder:
        """The application recorder, typed as ours."""
        assert isinstance(self.recorder, TimelineRecorder)
        return self.recorder

    def organisation(self, slug: str) -> Organisation:
        """The organisation's stream as it stands, or a new one at version 0."""
        try:
            organisation = self.repository.get(Organisation.id_for(slug))
        except AggregateNotFoundError:
            return Organisation.start(slug)
        assert isinstance(organisation, Organisation)
        return organisation

    def keep(self, saved: Iterable[Organisation]) -> None:
        """Keep streams just saved in the aggregate cache, so that the next command on them
        need not read back and replay the events this one stored (it still asks the log for
        any newer ones). A stream the cache already holds at its version or later is left."""
        cache = self.repository.cache
        if cache is None:
            return
        for stream in saved:
            stream.collect_events()  # they are stored: none is pending any more
            try:
                if cache.get(stream.id).version >= stream.version:
                    continue
            except KeyError:
                pass
            cache.put(stream.id, stream)

    def writers_turn(self, *slugs: str) -> AbstractContextManager[Callable[[str], bool]]:
        """Wait for these organisations' writers' turn (see `WriterTurns`): appends read,
        recorded and saved within it lose no race to another process. It gives what the
        turn covers: whether an append to an organisation may be stored within it too."""
        return self.timeline_recorder.turns.turn(*slugs)

    def stream(self, slug: str) -> list[OrganisationEvent]:
        """Every event of the organisation, in recording order."""
        events = self.events.get(Organisation.id_for(slug))
        return [event for event in events if isinstance(event, OrganisationEvent)]

    def create_tables(self) -> None:
        """Create the event log's table (a no-op when it exists)."""
        self.recorder.create_table()
