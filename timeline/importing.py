"""Importing a history file of any size: `timeline import` (and the seed) written in batches.

The whole file is one transaction, so it is stored whole or not at all, as before; within
it, the events are checked, recorded on their streams and saved a batch at a time (each
batch one `Application.save` of many events: the library's insert of the stored events and
the read model's rows, in the transaction the import holds open), so that a file of a
million events never has more than a batch of events in memory at once. Streams are loaded
as their organisations first appear; an organisation that the read model does not list has
no events, so its stream starts at version 0 without being read from the log (should it have
events after all, the save's version check refuses the import).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from itertools import islice
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from sqlalchemy import Connection, select

from events.errors import InvalidEvent
from events.organisation import Organisation, OrganisationEvent
from events.validation import parse_event
from projections.listing import stored_ids
from projections.tables import organisations
from timeline.application import Timeline
from timeline.errors import ImportRejected
from timeline.writer import Writer

Json = dict[str, Any]
Item = tuple[int, str, str, Json]
"""(line number, organisation, event id, event payload) of one line to import."""

CLI_WRITER = "cli"
"""`recorded_by` of the events the command line writes."""
BATCH = 5_000
"""Events saved at once: large enough that a save's fixed costs (its statements, the read
model's lock and position) are spread thin, small enough to keep little in memory (see
bench/RESULTS.md, "A million events")."""


class Importer:
    """Imports items (see `Item`) in one transaction, a batch at a time."""

    def __init__(self, app: Timeline, writer: Writer, batch: int = BATCH) -> None:
        self.app = app
        self.writer = writer
        self.batch = batch
        self.streams: dict[str, Organisation] = {}
        self.seen: set[str] = set()

    def run(self, items: Iterable[Item]) -> tuple[int, int]:
        """Store every item whose event id is not stored yet; return (imported, skipped)."""
        imported = skipped = 0
        recorder = self.app.timeline_recorder
        read_model = recorder.read_model
        with read_model.statistics_deferred() if read_model else nullcontext():
            try:
                with self.writer.turn(), recorder.transaction(commit=True) as transaction:
                    conn = transaction.connection()
                    for batch in _batches(iter(items), self.batch):
                        stored = self._store(conn, batch)
                        imported, skipped = imported + stored, skipped + len(batch) - stored
            except BaseException:
                self.app.forget(self.streams.values())  # what they recorded is not stored
                raise
            self.app.keep(self.streams.values())
        return imported, skipped

    def _store(self, conn: Connection, batch: list[Item]) -> int:
        """Record and save the batch's new events (in the import's transaction); return how
        many there were."""
        stored = stored_ids(conn, [event_id for _, _, event_id, _ in batch])
        fresh = [item for item in batch if item[2] not in stored]
        self._load_streams(conn, [organisation for _, organisation, _, _ in fresh])
        recorded: list[OrganisationEvent] = []
        for line, organisation, event_id, payload in fresh:
            if event_id in self.seen:
                continue
            self.seen.add(event_id)
            try:
                draft = parse_event(payload)
                stream = self.streams[organisation]
                recorded.append(
                    stream.record(draft, event_id=UUID(event_id), recorded_by=CLI_WRITER)
                )
            except InvalidEvent as error:
                raise ImportRejected(line, str(error)) from None
        # Saving the events themselves, not the streams, keeps the file's recording order
        # across organisations.
        try:
            self.writer.save(recorded)
        except IntegrityError:
            raise ImportRejected(
                0, "another writer appended to one of these organisations meanwhile"
            ) from None
        for organisation in {event.organisation for event in recorded}:
            self.streams[organisation].collect_events()  # saved: none is pending any more
        return len(recorded)

    def _load_streams(self, conn: Connection, slugs: list[str]) -> None:
        """Load the streams of these organisations not loaded yet: from the log for those
        with events, new ones for the others."""
        wanted = [slug for slug in dict.fromkeys(slugs) if slug not in self.streams]
        if not wanted:
            return
        listed = organisations.c.organisation
        known = set(conn.execute(select(listed).where(listed.in_(wanted))).scalars())
        for slug in wanted:
            has_events = slug in known
            self.streams[slug] = (
                self.app.organisation(slug) if has_events else Organisation.start(slug)
            )


def _batches(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while batch := list(islice(items, size)):
        yield batch
