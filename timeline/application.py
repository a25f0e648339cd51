"""The event-sourced application: every organisation's stream, in one event log."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager, suppress
from typing import Any
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Recording,
)
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from sqlalchemy import Engine

from events.organisation import Organisation, OrganisationEvent
from timeline.config import Config
from timeline.persistence import SQLiteProbes, TimelineFactory, TimelineRecorder

FOLLOW_LIMIT = 1000
"""The most events `Timeline.organisation` reads to bring kept streams up to date; further
behind than that, it forgets them (each is read afresh when next wanted)."""


class Timeline(Application[UUID]):
    """Organisations' histories as event streams, stored with `eventsourcing_sqlalchemy`.

    Streams are kept in the aggregate cache between commands. Where every writer stores in
    turn and the log's positions are taken in commit order (an SQLite file, PostgreSQL), one
    query for the events stored since the last look brings every kept stream up to date
    (`organisations`). On an in-memory database this process is the only writer, and the
    library brings a kept stream up to date when it is wanted.
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
                "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
                "IS_SNAPSHOTTING_ENABLED": "n",
            }
        )
        # Not in memory: there one connection is shared between threads, and its readers
        # could see a transaction's rows before it commits.
        self._follows_log = self.timeline_recorder.turns.across_processes
        if self._follows_log:
            self.repository.fastforward = False  # see _catch_up_kept
        self._followed: int | None = None  # the log position the kept streams reflect
        self._kept_lock = threading.Lock()
        self.probes = SQLiteProbes(self.engine, config.sqlite_busy_timeout)
        """One-statement reads outside the pool, on an SQLite file (see `SQLiteProbes`)."""

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save aggregates or events, as the library does. Given only this service's events
        (every append and import saves those), it collects them as they are: the library
        asks of each whether it is a domain event through a runtime Protocol, whose
        `isinstance` walks the Protocol's attributes every time (2% of an append's CPU,
        inside the writers' turn)."""
        if not objs or not all(isinstance(obj, OrganisationEvent) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event = ProcessingEvent[UUID]()
        processing_event.events.extend(objs)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it calls it
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Record as the library does, handing the recorder the domain events too: the read
        model is written from them, so they need not be decoded again from the rows."""
        processing_event.saved_kwargs["recorded_events"] = processing_event.events
        return super()._record(processing_event)

    def close(self) -> None:
        """Give back the writer connection and the probes, then close the pool."""
        self.timeline_recorder.turns.close()
        self.probes.close()
        super().close()

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
        return self.organisations([slug])[slug]

    def organisations(
        self, slugs: Iterable[str], *, follow_log: bool = True
    ) -> dict[str, Organisation]:
        """Each organisation's stream as it stands (a new one at version 0 if it has none).

        `follow_log=False` skips bringing the kept streams up to the log first: for a writer
        within its turn that has done so already, and whose own transaction's rows, not yet
        committed, must not reach them (on SQLite it reads on the transaction's connection)."""
        found = {}
        with self._kept_lock:
            if self._follows_log and follow_log:
                self._catch_up_kept()
            for slug in slugs:
                try:
                    organisation = self.repository.get(Organisation.id_for(slug))
                except AggregateNotFoundError:
                    organisation = Organisation.start(slug)
                assert isinstance(organisation, Organisation)
                found[slug] = organisation
        return found

    def _catch_up_kept(self) -> None:
        """Bring every kept stream up to the log: apply the events stored since the last look,
        which are other processes' (this one's own are kept already)."""
        cache = self.repository.cache
        if cache is None:
            return
        if self._followed is None or not cache.cache:
            # Nothing kept: a stream wanted from now on is read whole.
            self._followed = self.recorder.max_notification_id() or 0
            return
        stored = self.timeline_recorder.select_after(self._followed, FOLLOW_LIMIT)
        if len(stored) == FOLLOW_LIMIT:  # far behind: forget them all, read each afresh
            self._evict(list(cache.cache))
            self._followed = self.recorder.max_notification_id() or 0
            return
        for notification in stored:
            try:
                kept = cache.get(notification.originator_id)
            except KeyError:
                continue  # not kept: read whole when wanted
            if notification.originator_version <= kept.version:
                continue  # stored by this process, and kept with it
            if notification.originator_version == kept.version + 1:
                caught_up = self.mapper.to_domain_event(notification).mutate(kept)
                if caught_up is not kept:
                    cache.put(notification.originator_id, caught_up)
            else:  # a gap: read the stream whole when wanted
                self._evict([notification.originator_id])
        if stored:
            self._followed = stored[-1].id

    def keep(self, saved: Iterable[Organisation]) -> None:
        """Keep streams just saved in the aggregate cache, so that the next command on them
        need not read back and replay the events this one stored. A stream the cache already
        holds at its version or later is left."""
        cache = self.repository.cache
        if cache is None:
            return
        with self._kept_lock:
            for stream in saved:
                stream.collect_events()  # they are stored: none is pending any more
                try:
                    if cache.get(stream.id).version >= stream.version:
                        continue
                except KeyError:
                    pass
                cache.put(stream.id, stream)

    def forget(self, streams: Iterable[str]) -> None:
        """Drop these organisations' kept streams: the next command reads each from the log."""
        with self._kept_lock:
            self._evict([Organisation.id_for(slug) for slug in streams])

    def _evict(self, stream_ids: Iterable[UUID]) -> None:
        """Drop kept streams (the caller holds `_kept_lock`)."""
        cache = self.repository.cache
        if cache is None:
            return
        for stream_id in stream_ids:
            with suppress(KeyError):
                cache.get(stream_id, evict=True)

    def writers_turn(self) -> AbstractContextManager[None]:
        """Wait for the writers' turn (see `WriterTurns`): appends read, recorded and saved
        within it lose no race to another process."""
        return self.timeline_recorder.turns.turn()

    def stream(self, slug: str) -> list[OrganisationEvent]:
        """Every event of the organisation, in recording order."""
        events = self.events.get(Organisation.id_for(slug))
        return [event for event in events if isinstance(event, OrganisationEvent)]

    def create_tables(self) -> None:
        """Create the event log's table (a no-op when it exists)."""
        self.recorder.create_table()
