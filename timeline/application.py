"""The event-sourced application: every organisation's stream, in one event log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

    Streams are kept in the library's aggregate cache between appends, and brought up to
    date with what other processes stored since (see `organisations`). Only writers use
    them, one at a time within the writers' turn, so a stream is handed out as the cache
    holds it, not copied (`DEEPCOPY_FROM_AGGREGATE_CACHE=n`): a writer whose save fails
    must `forget` the streams it recorded on.
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

        A stream kept in the cache is brought up to date with the events stored after it
        (by a writer in another process); a stream not kept, or kept at a version the log
        does not hold (the database was replaced), is read whole. One query reads what the
        streams lack (`TimelineRecorder.events_from`), decoded by the application's mapper
        and applied as the library's repository would apply them."""
        wanted = list(dict.fromkeys(slugs))
        kept = {slug: self._kept(slug) for slug in wanted}
        streams = self._brought_up_to_date(kept)
        stale = {slug: None for slug, stream in streams.items() if stream is None}
        if stale:  # kept at a version the log does not hold: read whole
            streams.update(self._brought_up_to_date(stale))
        return {
            slug: stream if stream is not None else Organisation.start(slug)
            for slug, stream in streams.items()
        }

    def _brought_up_to_date(
        self, kept: Mapping[str, Organisation | None]
    ) -> dict[str, Organisation | None]:
        """Each kept stream with the events stored after it, or a stream read whole (None if
        it has no events); None also for a kept stream whose last event the log lacks."""
        start = {
            Organisation.id_for(slug): stream.version if stream is not None else 1
            for slug, stream in kept.items()
        }
        with self.timeline_recorder.turns.reading() as conn:
            found = self.timeline_recorder.events_from(conn, start)
        streams: dict[str, Organisation | None] = {}
        for slug, stream in kept.items():
            stored = found.get(Organisation.id_for(slug), [])
            if stream is not None and stream.version > 0:
                if not stored or stored[0].originator_version != stream.version:
                    streams[slug] = None
                    continue
                stored = stored[1:]  # the kept stream's own last event
            current = stream
            for row in stored:
                event = self.mapper.to_domain_event(row)
                assert isinstance(event, OrganisationEvent)
                current = event.mutate(current)
            streams[slug] = current
        return streams

    def _kept(self, slug: str) -> Organisation | None:
        """The stream the cache keeps for this organisation, if any."""
        cache = self.repository.cache
        kept = None
        if cache is not None:
            with suppress(KeyError):
                kept = cache.get(Organisation.id_for(slug))
        return kept if isinstance(kept, Organisation) else None

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
