"""How long one batch of a purge of idempotency keys holds the database, on an SQLite file and
on PostgreSQL: the longest a writer waits for a purge, since each batch is a transaction of its
own. Stores N old keys, purges them 500 at a time, and prints the batches' median and longest
time in milliseconds.

    python -m bench.key_purge [--keys N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

from sqlalchemy import event, insert

from bench.common import fresh_postgres
from timeline.bootstrap import build
from timeline.config import Config
from timeline.keys import BATCH, IdempotencyKeys
from timeline.tables import idempotency_keys


def measure(url: str, keys: int) -> tuple[int, list[float]]:
    """Keys purged, and each DELETE's time in seconds (statement and commit)."""
    services = build(Config(database_url=url))
    try:
        created_at = int((time.time() - 100 * 3600) * 1_000_000)
        rows = [
            {
                "token_id": f"{n % 50:016x}",
                "organisation": f"org-{n % 200}",
                "key": f"key-{n}",
                "request_sha256": "0" * 64,
                "status": 201,
                "response": '{"id": "' + "x" * 300 + '"}',
                "created_at": created_at + n,
            }
            for n in range(keys)
        ]
        with services.engine.begin() as conn:
            conn.execute(insert(idempotency_keys), rows)
        started: dict[int, float] = {}
        times: list[float] = []

        def begin(conn: Any) -> None:
            started[id(conn)] = time.perf_counter()

        def commit(conn: Any) -> None:
            if id(conn) in started:
                times.append(time.perf_counter() - started.pop(id(conn)))

        event.listen(services.engine, "begin", begin)
        event.listen(services.engine, "commit", commit)
        purged = IdempotencyKeys(services.engine, retention_hours=48).purge(pause=0)
    finally:
        services.close()
    return purged, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, drop = fresh_postgres(args.postgres, "tl_bench")
        urls = {"sqlite": f"sqlite:///{folder}/timeline.db", "postgres": url}
        try:
            for backend, database in urls.items():
                purged, times = measure(database, args.keys)
                ms = [t * 1000 for t in times]
                print(
                    f"{backend}: {purged} keys in {len(ms)} batches of up to {BATCH}: "
                    f"median {statistics.median(ms):.1f} ms, longest {max(ms):.1f} ms"
                )
        finally:
            drop()


if __name__ == "__main__":
    main()
