"""Idempotency keys past their retention, purged in small batches outside the writers' turn.

Appends store keys (timeline/commands.py); nothing here takes part in an append. Each batch
is one short DELETE of its own, so a writer waits at most for one batch, never for a purge.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from sqlalchemy import Engine, delete, exc, select, tuple_

from timeline.tables import idempotency_keys

log = logging.getLogger(__name__)

BATCH = 500
"""Keys deleted per statement (and per transaction)."""

PAUSE = 0.05
"""Seconds between two batches, so that writers take their turns in between."""

INTERVAL = 300.0
"""Seconds between two purges by a serving process (the first after a random part of it)."""


class IdempotencyKeys:
    """The stored idempotency keys, as far as their retention is concerned."""

    def __init__(self, engine: Engine, retention_hours: float) -> None:
        self.engine = engine
        self.retention_hours = retention_hours

    def cutoff(self) -> int:
        """The `created_at` (microseconds) before which a key is past its retention now."""
        return int((time.time() - self.retention_hours * 3600) * 1_000_000)

    def purge(
        self, *, batch: int = BATCH, pause: float = PAUSE, stop: threading.Event | None = None
    ) -> int:
        """Delete every key older than the retention, `batch` at a time (until `stop` is
        set); return how many. Finding none takes no write lock."""
        stop = stop or threading.Event()
        cutoff = self.cutoff()
        column = idempotency_keys.c
        primary_key = tuple_(column.token_id, column.organisation, column.key)
        oldest = (
            select(column.token_id, column.organisation, column.key)
            .where(column.created_at < cutoff)
            .limit(batch)
        )
        with self.engine.connect() as conn:  # a read first: most purges find nothing to do
            if conn.execute(oldest.limit(1)).first() is None:
                return 0
        purged = 0
        while True:
            with self.engine.begin() as conn:
                deleted = conn.execute(
                    delete(idempotency_keys).where(primary_key.in_(oldest))
                ).rowcount
            purged += deleted
            if deleted < batch or stop.wait(pause):
                return purged


class Purger:
    """A daemon thread that purges old keys every `interval` seconds, first after a random
    part of it, so that a server's processes do not all purge at the same moment."""

    def __init__(self, keys: IdempotencyKeys, interval: float = INTERVAL) -> None:
        self.keys = keys
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="key-purger", daemon=True)

    def start(self) -> Purger:
        """Start purging in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current batch, and wait for the thread to end."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        wait = random.uniform(0, self.interval)
        while not self._stop.wait(wait):
            try:
                purged = self.keys.purge(stop=self._stop)
            except exc.SQLAlchemyError:  # the database is away: try again next time
                log.exception("purging old idempotency keys failed")
            else:
                if purged:
                    log.info("purged %d idempotency keys past their retention", purged)
            wait = self.interval
