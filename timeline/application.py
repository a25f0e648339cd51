"""The event-sourced application: every organisation's stream, in one event log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, suppress
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment
from sqlalchemy import Engine

from events.organisation import Organisation, OrganisationEvent
from timeline.config import Config
from timeline.persistence import TimelineFactory, TimelineRecorder


class Timeline(Application[UUID]):
    """Organisations' histories as event streams, stored with `eventsourcing_sqlalchemy`.

    Streams are kept in the library's aggregate cache between appends. A kept stream at the
    version the read model gives is current (see `organisations`); any other is read from
    the log, fast-forwarded (the library's `AGGREGATE_CACHE_FASTFORWARD`). Only writers
    use them, one at a time within the writers' turn, so a stream is handed out as the
    cache holds it, not copied (`DEEPCOPY_FROM_AGGREGATE_CACHE=n`): a writer whose save
    fails must `forget` the streams it recorded on.
    """

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
                "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
                "IS_SNAPSHOTTING_ENABLED": "n",
            }
        )

    def close(self) -> None:
        """Give back the writers' turn's connection, then close the pool."""
        self.timeline_recorder.turns.close()
        super().close()

    def construct_factory(self, env: Environment) -> InfrastructureFactory[TrackingRecorder]:
        """Our factory: the library's SQLAlchemy one with a configured pool."""
        factory: InfrastructureFactory[Any] = TimelineFactory(env, self.config)
        return factory

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

    def writers_turn(self) -> AbstractContextManager[None]:
        """Wait for the writers' turn (see `WriterTurns`): streams loaded, recorded on and
        saved within it lose no race to another writer."""
        return self.timeline_recorder.turns.turn()

    def organisation(self, slug: str) -> Organisation:
        """The organisation's stream as it stands (a new one at version 0 if it has none)."""
        try:
            found: object = self.repository.get(Organisation.id_for(slug))
        except AggregateNotFoundError:
            return Organisation.start(slug)
        assert isinstance(found, Organisation)
        return found

    def organisations(self, slugs: Iterable[str]) -> dict[str, Organisation]:
        """Each organisation's stream as it stands, by slug, within the writers' turn.

        One query of the read model's stream versions (its rows are written in the events'
        own transaction) tells which streams the cache holds as they stand: those are taken
        as they are; the others are read from the log (the cached one fast-forwarded)."""
        wanted = list(dict.fromkeys(slugs))
        versions = self.stream_versions(wanted)
        return {slug: self._current(slug, versions.get(slug)) for slug in wanted}

    def stream_versions(self, slugs: Sequence[str]) -> dict[str, int]:
        """The version of each of these streams that has events, as the read model says
        (none without a read model)."""
        read_model = self.timeline_recorder.read_model
        if read_model is None:
            return {}
        with self.timeline_recorder.turns.reading() as conn:
            return read_model.versions(conn, slugs)

    def _current(self, slug: str, version: int | None) -> Organisation:
        """The cached stream if it is at `version`, else the stream read from the log."""
        cache = self.repository.cache
        kept = None
        if cache is not None:
            with suppress(KeyError):
                kept = cache.get(Organisation.id_for(slug))
        if isinstance(kept, Organisation) and kept.version == version:
            return kept
        return self.organisation(slug)

    def keep(self, streams: Iterable[Organisation]) -> None:
        """Keep streams just saved in the aggregate cache, as they stand now (their pending
        events are stored: none is pending any more)."""
        cache = self.repository.cache
        for stream in streams:
            stream.collect_events()
            if cache is not None:
                cache.put(stream.id, stream)

    def forget(self, streams: Iterable[Organisation]) -> None:
        """Drop streams from the aggregate cache (recorded on, but not saved): each is read
        afresh from the log when next wanted."""
        cache = self.repository.cache
        if cache is not None:
            for stream in streams:
                with suppress(KeyError):
                    cache.get(stream.id, evict=True)

    def stream(self, slug: str) -> list[OrganisationEvent]:
        """Every event of the organisation, in recording order."""
        events = self.events.get(Organisation.id_for(slug))
        return [event for event in events if isinstance(event, OrganisationEvent)]

    def create_tables(self) -> None:
        """Create the event log's table (a no-op when it exists)."""
        self.timeline_recorder.create_table()
