"""How long do the exports take, cold? Run by hand: `python bench/exports.py`.

On SQLite and PostgreSQL, with the CICOPA history (`timeline seed`) and an organisation of
`--events` synthetic events (appointments in five roles, members joining and leaving, names,
figures every year, dated 1850-2025 at year, month and day precision, recorded in shuffled
order), it times each export through the Flask app in process (no HTTP server, so the figure is
the service's own work): Popolo, JSON-LD (`at` a year), CSV by year (`from` the first year to
2025) and CSL-JSON. Every request is cold: an event is appended to another organisation first,
which moves the log position, so neither the state cache nor an ETag can answer it. The p50 and
max of `--samples` requests per export are printed and appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# The repository, not bench/ (whose http.py would shadow the standard library's for Flask).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from api.app import create_app
from bench.common import fresh_postgres, publish
from timeline.bootstrap import Services, build
from timeline.config import Config

ROLES = ("President", "Secretary General", "Treasurer", "Vice-President", "Director")
SOURCES = [
    {"title": f"Annual report ({1850 + i})", "url": f"https://example.org/r/{i}"} for i in range(40)
]
POSTGRES = os.environ.get(
    "TIMELINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _date(rng: random.Random) -> str:
    year = rng.randint(1850, 2025)
    kind = rng.random()
    if kind < 0.5:
        return str(year)
    if kind < 0.8:
        return f"{year}-{rng.randint(1, 12):02d}"
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def synthetic(org: str, count: int, seed: int = 7) -> list[str]:
    """JSON Lines of `count` events of one organisation, in shuffled recording order."""
    rng = random.Random(seed)
    events = [{"type": "founded", "occurred_on": "1850", "data": {"name": "Synthetic Union"}}]
    while len(events) < count:
        kind = rng.random()
        when = _date(rng)
        if kind < 0.35:
            person = rng.randint(0, 199)
            data = {
                "role": rng.choice(ROLES),
                "person": {"id": f"person-{person}", "name": f"Person {person}"},
            }
            events.append({"type": "office_holder_appointed", "occurred_on": when, "data": data})
        elif kind < 0.6:
            member = rng.randint(0, 299)
            data = {
                "member": {"id": f"member-{member}", "name": f"Member {member}", "country": "XX"}
            }
            events.append({"type": "member_joined", "occurred_on": when, "data": data})
        elif kind < 0.7:
            events.append(
                {
                    "type": "member_left",
                    "occurred_on": when,
                    "data": {"member_id": f"member-{rng.randint(0, 299)}"},
                }
            )
        elif kind < 0.72:
            events.append(
                {"type": "renamed", "occurred_on": when, "data": {"name": f"Union {len(events)}"}}
            )
        else:
            figures = {"member_organisations": rng.randint(1, 500), "jobs": rng.randint(1, 10**6)}
            events.append(
                {"type": "figures_reported", "occurred_on": when, "data": {"figures": figures}}
            )
    rng.shuffle(events)
    return [
        json.dumps(
            {"id": str(uuid.uuid4()), "organisation": org, **e, "sources": [rng.choice(SOURCES)]}
        )
        for e in events
    ]


def timed(services: Services, call: Callable[[], int], samples: int) -> list[float]:
    """Milliseconds of `samples` cold calls (each after an append elsewhere)."""
    found = []
    for i in range(samples):
        payload = {"type": "milestone", "occurred_on": "2000", "data": {"headline": f"tick {i}"}}
        services.commands.append("bench-ticks", payload, recorded_by="bench")
        start = time.perf_counter()
        status = call()
        found.append((time.perf_counter() - start) * 1000)
        assert status == 200, status
    return found


def run(database: str, url: str, events: int, samples: int) -> list[str]:
    services = build(Config(database_url=url))
    try:
        services.commands.seed()
        services.commands.import_lines(synthetic("synthetic", events))
        client = create_app(services).test_client()
        rows = []
        for org, first in (("cicopa", 1947), ("synthetic", 1850)):
            paths = {
                "popolo": f"/api/organisations/{org}/popolo",
                "jsonld": f"/api/organisations/{org}/jsonld?at=2000",
                f"states.csv ({2025 - first + 1} years)": f"/api/organisations/{org}/states.csv?from={first}&to=2025",
                "sources.json": f"/api/organisations/{org}/sources.json",
            }
            for name, path in paths.items():
                ms = timed(services, lambda p=path: client.get(p).status_code, samples)
                size = len(client.get(path).data)
                label = (
                    "CICOPA (137 events)" if org == "cicopa" else f"synthetic ({events:,} events)"
                )
                rows.append(
                    f"| {database} | {label} | {name} | {statistics.median(ms):.1f} | {max(ms):.1f} | {size:,} |"
                )
                print(rows[-1], flush=True)
        return rows
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument(
        "--note", default="", help="said in the report (e.g. that the machine was loaded)"
    )
    args = parser.parse_args()
    rows = []
    for database in args.databases.split(","):
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                rows += run(database, f"sqlite:///{folder}/bench.db", args.events, args.samples)
        else:
            url, drop = fresh_postgres(POSTGRES)
            try:
                rows += run(database, url, args.events, args.samples)
            finally:
                drop()
    command = shlex.join(["python", "bench/exports.py", *sys.argv[1:]])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    report = "\n".join(
        [
            f"\n## Exports, cold: bench/exports.py ({when} UTC, {machine})\n",
            f"`{command}` (code at {commit or 'an unknown commit'}). {args.note}".rstrip(),
            "Each request follows an append to another organisation (no cached state, no ETag hit); "
            f"p50 and max of {args.samples} requests, through the Flask app in process.\n",
            "| database | history | export | p50 ms | max ms | bytes |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    publish("", args.results)
    publish(report, args.results)


if __name__ == "__main__":
    main()
