"""Full-text search at scale: p50/p95 of `/api/search`'s query (the application's
`Queries.search`, as the view calls it) over 100,000 events, on an SQLite file and on
PostgreSQL. Target (issue 19): p95 under 50 ms.

The events are milestones, documents and appointments of 20 organisations whose headlines,
texts, titles, notes and source quotes are sentences drawn from the CICOPA seed documents
(../shared/seeds), so words are as frequent as they are in real text: `cooperative` matches a
large share of the events, `Cartagena` a few. Each query class is timed cold from the
application's point of view (no cache: every call runs the SQL), one after another, with the
classes interleaved so that a loaded machine slows them alike. Each query is run with each rank
window of `--windows` in turn (A/B in one run): `all` ranks every match (a window larger than
the corpus), a number ranks the newest that many matches at a time (projections.search.RANK_WINDOW).

    .venv/bin/python -m bench.search                     # 100,000 events, both databases
    .venv/bin/python -m bench.search --events 20000 --backends sqlite
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.common import fresh_postgres, publish
from projections.search import RANK_WINDOW
from timeline.bootstrap import build
from timeline.config import Config
from timeline.queries import Queries

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ORGS = [f"org-{n:02d}" for n in range(20)]
PLACES = ["Cartagena", *(f"City {n}" for n in range(99))]
"""Where documents were adopted: one in a hundred in Cartagena."""

QUERIES = {
    "common word (cooperative)": {"q": "cooperative"},
    "two words (worker cooperatives)": {"q": "worker cooperatives"},
    "rare word (cartagena)": {"q": "cartagena"},
    "inflected (adopted)": {"q": "adopted"},
    "common + org filter": {"q": "cooperative", "organisations": "org-03"},
    "common + type + period": {
        "q": "cooperatives",
        "types": "milestone",
        "start": "1990",
        "end": "2005",
    },
    "no match (zyzzyva)": {"q": "zyzzyva"},
}


def sentences() -> list[str]:
    """The seed documents' sentences of 5 to 40 words."""
    text = " ".join(path.read_text("utf-8") for path in sorted(SEEDS.glob("*.txt")))
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text)]
    return [s for s in found if 5 <= len(s.split()) <= 40]


def history(size: int, seed: int = 19) -> list[str]:
    """`size` import lines of the 20 organisations, their texts drawn from the seeds."""
    rng = random.Random(seed)
    pool = sentences()
    lines = []
    for _ in range(size):
        kind = rng.choices(["milestone", "document_adopted", "office_holder_appointed"], [6, 2, 2])[
            0
        ]
        if kind == "milestone":
            data = {"headline": rng.choice(pool)[:200], "text": " ".join(rng.sample(pool, 2))}
        elif kind == "document_adopted":
            data = {
                "title": rng.choice(pool)[:120],
                "place": rng.choice(PLACES),
            }
        else:
            name = f"Person {rng.randint(1, 5000)}"
            data = {
                "role": rng.choice(["President", "Secretary"]),
                "person": {"id": name.lower().replace(" ", "-"), "name": name},
            }
        event = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "organisation": rng.choice(ORGS),
            "type": kind,
            "occurred_on": str(rng.randint(1947, 2025)),
            "data": data,
            "sources": [{"title": "Seed document", "quote": rng.choice(pool)[:300]}],
        }
        lines.append(json.dumps(event))
    return lines


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def run_backend(name: str, url: str, args: argparse.Namespace) -> list[dict]:
    services = build(Config(database_url=url))
    try:
        started = time.perf_counter()
        lines = history(args.events)
        for start in range(0, len(lines), 10_000):
            services.commands.import_lines(lines[start : start + 10_000])
        print(
            f"[{name}] imported {args.events} events in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        base = services.queries
        windows = {
            label: Queries(
                base.app,
                base.cursors,
                base.reads,
                args.events + 1 if label == "all" else int(label),
            )
            for label in args.windows.split(",")
        }
        samples: dict[tuple[str, str], list[float]] = {}
        counts: dict[str, int] = {}
        for label, params in QUERIES.items():  # warm the database's own caches once
            for queries in windows.values():
                counts[label] = len(queries.search(limit=20, **params).results)
        for _ in range(args.runs):
            for label, params in QUERIES.items():
                for window, queries in windows.items():
                    began = time.perf_counter()
                    queries.search(limit=20, **params)
                    elapsed = (time.perf_counter() - began) * 1000
                    samples.setdefault((label, window), []).append(elapsed)
        rows = []
        for label in QUERIES:
            for window in windows:
                p50, p95 = percentiles(samples[(label, window)])
                rows.append(
                    {
                        "backend": name,
                        "query": label,
                        "window": window,
                        "p50": p50,
                        "p95": p95,
                        "hits": counts[label],
                    }
                )
                print(
                    f"[{name}] {label}, window {window}: p50 {p50:.1f} ms, p95 {p95:.1f} ms",
                    flush=True,
                )
        return rows
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--windows",
        default=f"all,{RANK_WINDOW}",
        help="rank windows to compare, comma-separated: a number of matches, or all",
    )
    parser.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    rows: list[dict] = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                rows += run_backend("SQLite", f"sqlite:///{folder}/search.db", args)
        else:
            url, drop = fresh_postgres(ADMIN_URL)
            try:
                rows += run_backend("PostgreSQL", url, args)
            finally:
                drop()
    lines = [
        f"\n### Search at {args.events:,} events ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()}, {platform.processor() or platform.machine()})\n",
        f"`.venv/bin/python -m bench.search --events {args.events} --runs {args.runs} --backends {args.backends} --windows {args.windows}`; "
        "first page of 20, each query class run in turn with each rank window (`all`: every "
        "match ranked); target p95 < 50 ms.\n",
        "| backend | query | rank window | results on page 1 | p50 | p95 | p95 < 50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "yes" if r["p95"] < 50 else "no"
        lines.append(
            f"| {r['backend']} | {r['query']} | {r['window']} | {r['hits']} | {r['p50']:.1f} ms | {r['p95']:.1f} ms | {met} |"
        )
    publish("\n".join(lines) + "\n", args.results)


if __name__ == "__main__":
    main()
