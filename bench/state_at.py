"""How fast is `state(at)` as histories grow? Run by hand: `python bench/state_at.py`.

Builds organisations with 1,000, 10,000 and 100,000 events (every event type, dates at every
precision, recorded in an order unrelated to their dates, with corrections and retractions),
imported through the application, in three mixes (`--mixes`): `plain` (dates by a year, a
month or a day), `intervals` (a third of the events dated by intervals, seasons or
unspecified digits) and `historian` (the same dates, with half of the events that may be
attested attested, and qualified figures and French names now and then). It then measures on
SQLite and PostgreSQL:

- app:   `Queries.state(org, at)` through the application (read model, one snapshot, JSON),
         cold (every `at` asked once, so no answer the service kept from an earlier request
         can serve it; the targets are judged on these) and cached (one question asked again);
- naive: read the organisation's whole stream through the library's event store (what
         `repository.get` does) and fold it, as a user of the library would;
- floor: the same SQL probes the read model answers with, sent on a raw driver connection
         with no SQLAlchemy and no JSON decoding: the cost of the SQL alone.

`at` is a year (the contract's usual question), and separately a day (which also lists the
events whose range straddles it), each drawn without repeats. The database's own page cache
stays warm. Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.common import driver_connection, fresh_postgres, publish
from projections import queries as sql
from projections.readmodel import driver_sql
from timeline.bootstrap import Services, build
from timeline.config import Config

ROLES = ("President", "Secretary General", "Treasurer", "Vice-President", "Director")
PEOPLE = [f"person-{i}" for i in range(60)]
MEMBERS = [f"member-{i}" for i in range(60)]
FIGURES = ("member_organisations", "countries", "enterprises", "jobs")
MIX = [
    ("member_joined", 25),
    ("member_left", 14),
    ("milestone", 38),
    ("office_holder_appointed", 10),
    ("office_holder_left", 3),
    ("renamed", 2),
    ("headquarters_moved", 2),
    ("affiliated", 1),
    ("disaffiliated", 1),
    ("founded", 0.1),
    ("dissolved", 0.05),
]
FIXED = {"document_adopted": 15, "figures_reported": 200}
"""Kinds whose every event stays in the answer (documents) or piles up per period (figure
reports) come in the same number at every size, so that what grows is the history, not the
answer: the table shows each state's size."""


ATTESTABLE = (
    "renamed",
    "headquarters_moved",
    "office_holder_appointed",
    "member_joined",
    "affiliated",
)
MIXES = ("plain", "intervals", "historian")
"""`plain`: changes with plain dates. `intervals`: a third of the events dated by intervals,
seasons or unspecified digits. `historian`: the `intervals` dates, and half of the events that
may be attested are (about a fifth of all), so that well over a third of the events are
attested or interval-dated, as issue 17 asks."""


def random_date(rng: random.Random) -> str:
    year = rng.randint(1900, 2025)
    roll = rng.random()
    text = str(year)
    if roll < 0.8:
        text += f"-{rng.randint(1, 12):02d}"
    if roll < 0.5:
        text += f"-{rng.randint(1, 28):02d}"
    return text + rng.choice(["", "", "", "", "~", "?", "%"])


INTERVAL_SHARE = 1 / 3
"""In the `intervals` and `historian` mixes, the share of events dated by an interval or unspecified digits."""

LONG_DATED = 60
"""In the `intervals` and `historian` mixes, events dated by a range of years or with an open or unknown end
(`199X`, `19XX`, `1998/2003`, `../2018-02`, `2018-02/..`): each straddles many years (an open
end every year on its side), so, like the FIXED kinds, they come in the same number at every
size and what grows is the history, not the answer."""


def interval_date(rng: random.Random) -> str:
    """A date within about a year: an interval of months or days, a season, or unspecified
    digits (`2017-XX`, `2017-05-XX`, `2017-XX-XX`), its sides qualified now and then."""
    year, month = rng.randint(1900, 2025), rng.randint(1, 12)
    roll = rng.random()
    qualify = lambda: rng.choice(["", "", "", "~", "?", "%"])  # noqa: E731
    if roll < 0.35:
        last = rng.randint(month, 12)
        return f"{year}-{month:02d}{qualify()}/{year}-{last:02d}{qualify()}"
    if roll < 0.55:
        first, last = sorted(rng.sample(range(1, 29), 2))
        return f"{year}-{month:02d}-{first:02d}/{year}-{month:02d}-{last:02d}"
    if roll < 0.75:
        return f"{year}-{rng.randint(21, 24)}{qualify()}"
    return rng.choice([f"{year}-XX", f"{year}-{month:02d}-XX", f"{year}-XX-XX"]) + qualify()


def long_date(rng: random.Random) -> str:
    """A date over years, or with an open or unknown end."""
    year = rng.randint(1900, 2020)
    side = f"{year}-{rng.randint(1, 12):02d}"
    return rng.choice(
        [
            f"{str(year)[:3]}X",
            f"{str(year)[:2]}XX",
            f"{year}/{year + rng.randint(1, 5)}",
            f"../{side}",
            f"/{side}",
            f"{side}/..",
            f"{side}/",
        ]
    )


def data_for(kind: str, rng: random.Random) -> dict:
    person, member = rng.choice(PEOPLE), rng.choice(MEMBERS)
    return {
        "member_joined": lambda: {"member": {"id": member, "name": member.title(), "country": "X"}},
        "member_left": lambda: {"member_id": member},
        "figures_reported": lambda: {
            "figures": {f: rng.randint(1, 10**6) for f in rng.sample(FIGURES, 2)}
        },
        "milestone": lambda: {"headline": f"news {rng.random():.6f}"},
        "office_holder_appointed": lambda: {
            "role": rng.choice(ROLES),
            "person": {"id": person, "name": person.title()},
        },
        "office_holder_left": lambda: {"role": rng.choice(ROLES), "person_id": person},
        "renamed": lambda: {"name": f"Name {rng.randint(1, 50)}"},
        "headquarters_moved": lambda: {"location": f"City {rng.randint(1, 50)}"},
        "affiliated": lambda: {"parent": "bench-parent"},
        "disaffiliated": lambda: {"parent": "bench-parent"},
        "document_adopted": lambda: {
            "title": f"Declaration {rng.randint(1, 20)}",
            "stage": "adopted",
        },
        "founded": lambda: {"name": "Bench organisation"},
        "dissolved": lambda: {},
    }[kind]()


def historian(event: dict, rng: random.Random) -> dict:
    """The event as the historian mix records it: attested half the time where it may be, a
    qualifier on some figures, a name in French now and then (its dates are the `intervals`
    mix's)."""
    kind = event["type"]
    if kind in ATTESTABLE and rng.random() < 0.5:
        event["basis"] = "attestation"
    if kind == "figures_reported" and rng.random() < 0.5:
        name = next(iter(event["data"]["figures"]))
        event["data"]["qualifiers"] = {name: rng.choice(["about", "over", "almost"])}
    if kind == "renamed" and rng.random() < 0.3:
        event["data"]["language"] = "fr"
    return event


def history_lines(org: str, size: int, seed: int, mix: str = "plain") -> list[str]:
    """`size` events of one organisation as import lines, about 1% of them amendments.

    The `plain` mix dates events by a year, a month or a day; the `intervals` and `historian`
    mixes date a third of them by an interval or unspecified digits (`interval_date`), and
    LONG_DATED of them over years or with an open end (`long_date`)."""
    rng = random.Random(seed)
    kinds, weights = zip(*MIX, strict=True)
    kinds_fixed = [kind for kind, count in FIXED.items() for _ in range(count)]
    fixed = dict(zip(rng.sample(range(size), len(kinds_fixed)), kinds_fixed, strict=True))
    long_dated = set(rng.sample(range(size), LONG_DATED)) if mix != "plain" else set()

    def occurred_on(number: int) -> str:
        if number in long_dated:
            return long_date(rng)
        if mix != "plain" and rng.random() < INTERVAL_SHARE:
            return interval_date(rng)
        return random_date(rng)

    lines, amendable = [], []
    for number in range(size):
        if amendable and number not in fixed and rng.random() < 0.01:
            target = amendable.pop(rng.randrange(len(amendable)))
            if rng.random() < 0.5:
                event = {"type": "retracted", "data": {"event_id": target, "reason": "bench"}}
            else:
                event = {
                    "type": "corrected",
                    "data": {
                        "event_id": target,
                        "reason": "bench",
                        "occurred_on": occurred_on(number),
                    },
                }
        else:
            kind = fixed.get(number) or rng.choices(kinds, weights)[0]
            event = {"type": kind, "occurred_on": occurred_on(number), "data": data_for(kind, rng)}
            if mix == "historian":
                event = historian(event, rng)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if event["type"] not in ("retracted", "corrected"):
            amendable.append(event_id)
        lines.append(json.dumps({"id": event_id, "organisation": org, **event}))
    return lines


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(call: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def floor_sql(services: Services) -> Callable[[str, int], None]:
    """The read model's statements for a state, as `StateQueries.state` runs them (the same
    SQL, from `projections.queries.state_sql` and `reports_sql`), sent bare on a raw driver
    connection in one read transaction, as the application reads a state in one snapshot,
    with no SQLAlchemy and no JSON decoding: the cost of the SQL alone. An SQLite connection
    maps the file as the service's do."""
    dialect, conn = driver_connection(services.config.database_url)
    if dialect == "sqlite":
        conn.execute(f"PRAGMA mmap_size={int(services.config.sqlite_mmap_size)}")

    def execute(cursor: Any, statement: str, params: dict) -> list:
        if dialect == "sqlite":
            return cursor.execute(statement, params).fetchall()
        return cursor.execute(driver_sql(statement, dialect), params, prepare=True).fetchall()

    def run(org: str, at_end: int) -> None:
        asked = sql.Asked(date.fromordinal(at_end))
        params = asked.params(org=org)
        cursor = conn.cursor()
        cursor.execute("BEGIN" if dialect == "sqlite" else "BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            statements = sql.state_sql(asked)
            execute(cursor, statements["header"], params)
            latest = execute(cursor, statements["latest"], params)
            execute(cursor, statements["runs"], params)
            figures = sorted(
                (row[2], row[7])  # key and event id of the organisation's own latest figures
                for row in latest
                if row[0] == org and row[1] == "figure" and not row[8]
            )
            if figures:
                reports, more = sql.reports_sql(asked, figures)
                execute(cursor, reports, {**params, **more})
            execute(cursor, statements["documents"], params)
            execute(cursor, statements["uncertain"], params)
        finally:
            cursor.execute("ROLLBACK")
            cursor.close()

    return run


def measure(
    services: Services, org: str, size: int, args: argparse.Namespace, rng: random.Random
) -> dict:
    # Cold: every question is new to the service (no answer kept from an earlier request can
    # serve it): each `at` is asked once. There are only so many years, so fewer samples.
    years = [str(year) for year in rng.sample(range(1900, 2026), min(args.samples, 126))]
    first_day, last_day = date(1900, 1, 1).toordinal(), date(2025, 12, 31).toordinal()
    days = [
        date.fromordinal(day).isoformat()
        for day in rng.sample(range(first_day, last_day + 1), args.samples)
    ]
    queries = services.queries
    for month in range(1, 13):  # warm the pool and PostgreSQL's prepared statements with
        queries.state(org, f"1899-{month:02d}")  # questions outside the measured ones
    app_year = timed(lambda it=iter(years): queries.state(org, next(it)), len(years))
    app_day = timed(lambda it=iter(days): queries.state(org, next(it)), len(days))
    # Cached: the same question again, answered from what the service kept.
    app_cached = timed(lambda: queries.state(org, years[0]), args.samples)
    floor = floor_sql(services)
    ends = [datetime(int(y), 12, 31).toordinal() for y in years]
    for end in ends[:20]:
        floor(org, end)
    floor_year = timed(lambda it=iter(ends): floor(org, next(it)), len(ends))
    naive_runs = args.naive_samples if size > 10_000 else args.naive_samples * 4
    naive = timed(lambda it=iter(years): queries.stream_state_by_replay(org, next(it)), naive_runs)
    sample = queries.state(org, years[0])
    return {
        "size": size,
        "app_year": percentiles(app_year),
        "app_day": percentiles(app_day),
        "app_cached": percentiles(app_cached),
        "cold_runs": (len(app_year), len(app_day)),
        "floor_year": percentiles(floor_year),
        "naive": percentiles(naive),
        "naive_runs": naive_runs,
        "state_size": (
            len(sample["members"]),
            len(sample["documents"]),
            len(sample["office_holders"]),
            sum(len(figure["reports"]) for figure in sample["figures"].values()),
        ),
    }


def run_backend(name: str, url: str, args: argparse.Namespace) -> list[dict]:
    services = build(Config(database_url=url))
    rows = []
    try:
        for mix, size in [(mix, size) for mix in args.mixes for size in args.sizes]:
            org = f"bench-{mix}-{size}"
            # A seed of its own per mix: the ids it draws must not repeat those of another mix.
            lines = history_lines(org, size, seed=size * len(MIXES) + MIXES.index(mix), mix=mix)
            start = time.perf_counter()
            report = services.commands.import_lines(lines)
            took = time.perf_counter() - start
            print(
                f"[{name}] imported {report.imported} events into {org} in {took:.1f} s",
                file=sys.stderr,
            )
            row = measure(services, org, size, args, random.Random(size))
            row.update(backend=name if mix == "plain" else f"{name} ({mix})", import_s=took)
            print(f"[{name}] {row}", file=sys.stderr)
            rows.append(row)
    finally:
        services.close()
    return rows


def table(rows: list[dict]) -> str:
    out = [
        "| backend | events | cold app p50 / p95 (at=year) | cold app p50 / p95 (at=day) | cached app p50 / p95 | floor SQL p50 / p95 | naive p50 / p95 (runs) | cold app vs naive | cold app vs floor | state: members, documents, holders, figure reports | import |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        app, day, floor, naive = r["app_year"], r["app_day"], r["floor_year"], r["naive"]
        cached = r["app_cached"]
        out.append(
            f"| {r['backend']} | {r['size']:,} | {app[0]:.2f} / {app[1]:.2f} ms ({r['cold_runs'][0]}) "
            f"| {day[0]:.2f} / {day[1]:.2f} ms ({r['cold_runs'][1]}) | {cached[0]:.2f} / {cached[1]:.2f} ms "
            f"| {floor[0]:.2f} / {floor[1]:.2f} ms | {naive[0]:,.0f} / {naive[1]:,.0f} ms ({r['naive_runs']}) "
            f"| {naive[0] / app[0]:,.0f}x faster | {app[0] / floor[0]:.1f}x | {r['state_size']} | {r['import_s']:.1f} s |"
        )
    return "\n".join(out)


def verdicts(rows: list[dict]) -> list[str]:
    lines = []
    for backend, mix in sorted({(r["backend"], r.get("mix", "plain")) for r in rows}):
        mine = {
            r["size"]: r for r in rows if (r["backend"], r.get("mix", "plain")) == (backend, mix)
        }
        if 1_000 in mine and 100_000 in mine:
            big, small = mine[100_000], mine[1_000]
            p50 = big["app_year"][0]
            lines.append(
                f"- {backend}, cold (every `at` asked once): p50 at 100,000 events {p50:.2f} ms"
                + (
                    f" (target ≤ 5 ms: {'met' if p50 <= 5 else 'NOT met'})"
                    if backend.startswith("sqlite")
                    else ""
                )
                + f"; {p50 / small['app_year'][0]:.2f}x its p50 at 1,000 (target ≤ 2x: {'met' if p50 <= 2 * small['app_year'][0] else 'NOT met'})"
                + f"; {big['naive'][0] / p50:,.0f}x faster than the naive replay (target ≥ 100x: {'met' if big['naive'][0] >= 100 * p50 else 'NOT met'})"
                + f"; {p50 / big['floor_year'][0]:.1f}x the SQL floor (target ≤ 3x: {'met' if p50 <= 3 * big['floor_year'][0] else 'NOT met'})."
            )
    return lines


MIXES_HELP = (
    "comma-separated: plain (plain dates), intervals (a third interval-dated), historian (the"
    " intervals dates, a fifth attested)"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1000,10000,100000", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument(
        "--mixes", default=",".join(MIXES), type=lambda s: s.split(","), help=MIXES_HELP
    )
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--naive-samples", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.backends:
            rows += run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args)
        if "postgres" in args.backends:
            url, drop = fresh_postgres(args.postgres)
            try:
                rows += run_backend("postgres", url, args)
            finally:
                drop()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.node()}, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    report = "\n".join(
        [
            f"\n## state(at): {stamp}",
            f"\nMachine: {machine}, {_cores()} cores, load average {_load():.1f} at the end. Command: `python bench/state_at.py --sizes {','.join(map(str, args.sizes))} --mixes {','.join(args.mixes)} --samples {args.samples} --naive-samples {args.naive_samples} --backends {args.backends}`. Cold: every `at` asked once; cached: one question asked again.\n",
            table(rows),
            "",
            *verdicts(rows),
            "",
        ]
    )
    publish(report, args.results)


def _load() -> float:
    """The machine's load average over the last minute: the figures of a loaded machine are
    noisy (compare ratios within one run)."""
    import os

    return os.getloadavg()[0]


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
