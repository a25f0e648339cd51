"""A million events across 10,000 organisations: `python bench/million.py`.

For each size in `--sizes` (events; `--per-organisation` events each, so 1,000 events are 10
organisations and 1,000,000 are 10,000) and each backend, it:

1. writes the import file once (bench/corpus.py; kept in /tmp and reused by later runs);
2. imports it into a new database with `timeline import` (a process of its own: its time,
   events/s and peak memory);
3. rebuilds the read model with `timeline projections rebuild` (time, peak memory);
4. measures what the database holds: bytes per table with its indexes (PostgreSQL's
   `pg_total_relation_size`, SQLite's `dbstat`), and bytes per event;
5. measures `state(org, at)` in a new process (cold: every (organisation, year) asked once),
   through `Queries.state`;
6. serves the database with `timeline serve` (2 workers) and reads `/api/timeline` pages
   (the first page, pages that follow a cursor, pages from a year, of one organisation, of
   one type), each request once, then the peak memory (VmHWM) of each worker process;
7. on PostgreSQL, EXPLAIN (ANALYZE, BUFFERS) of the state's statements for one organisation,
   written to /tmp/timeline-explain-SIZE.txt, the slowest one quoted in the report.

The figures are printed and appended to bench/RESULTS.md. The databases are dropped at the
end unless `--keep` (PostgreSQL `tl_scale_SIZE`, SQLite /tmp/timeline-scale-SIZE.db).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/http.py is
sys.path.insert(0, str(HERE.parent))  # not the standard library's http

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import time
import urllib.parse
from datetime import UTC, date, datetime

from bench.common import _psycopg, publish
from bench.corpus import default_path, organisation_id, write
from bench.http import TIMELINE, start_server, stop_server

PYTHON = sys.executable


def run_timed(command: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Run a command to its end: seconds, peak resident memory in MB, and the CPU seconds
    the process itself used (user and system: a loaded machine stretches the first, not
    this; the database server's own CPU is not in it)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd="/tmp", stdout=subprocess.PIPE)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{command} failed ({status})")
    del out
    return took, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime


def database(backend: str, size: int, admin: str, reuse: bool) -> tuple[str, bool]:
    """The database of this size: its URL, and whether it is kept from an earlier run
    (with `--reuse`, when it exists), else made empty."""
    if backend == "sqlite":
        path = Path(f"/tmp/timeline-scale-{size}.db")
        if reuse and path.exists():
            return f"sqlite:///{path}", True
        for leftover in Path("/tmp").glob(f"{path.name}*"):
            leftover.unlink()
        return f"sqlite:///{path}", False
    name = f"tl_scale_{size}"
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    with _psycopg(_url(admin)) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if reuse and found:
            return url, True
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url, False


def drop_database(url: str, admin: str) -> None:
    if url.startswith("sqlite"):
        for leftover in Path("/tmp").glob(Path(url.split("///")[1]).name + "*"):
            leftover.unlink()
        return
    with _psycopg(_url(admin)) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _url(text: str):
    from sqlalchemy.engine import make_url

    return make_url(text)


def table_bytes(url: str) -> dict[str, int]:
    """Bytes each table takes with its indexes (and TOAST), largest first."""
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("///")[1])
        rows = conn.execute(
            "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
            "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
        ).fetchall()
        conn.close()
    else:
        with _psycopg(_url(url)) as conn:
            rows = conn.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            ).fetchall()
    return dict(sorted(((name, int(size)) for name, size in rows), key=lambda r: -r[1]))


def measure_states(url: str, organisations: int, samples: int) -> dict:
    """`state` p50/p95 in a new process: each (organisation, year) asked once."""
    out = subprocess.run(
        [
            PYTHON,
            __file__,
            "--states-of",
            url,
            "--organisations",
            str(organisations),
            "--samples",
            str(samples),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def states_here(url: str, organisations: int, samples: int) -> None:
    from timeline.bootstrap import build
    from timeline.config import Config

    services = build(Config(database_url=url))
    rng = random.Random(7)
    asked = set()
    while len(asked) < samples:
        asked.add((organisation_id(rng.randrange(organisations)), str(rng.randint(1900, 2025))))
    for month in range(1, 13):  # warm the pool and prepared statements outside the sample
        services.queries.state(organisation_id(0), f"1899-{month:02d}")
    times = []
    for organisation, year in sorted(asked, key=lambda _: rng.random()):
        start = time.perf_counter()
        services.queries.state(organisation, year)
        times.append((time.perf_counter() - start) * 1000)
    services.close()
    print(json.dumps(_percentiles(times)))


def _percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        "n": len(ordered),
    }


def timeline_pages(port: int, organisations: int, samples: int) -> dict[str, dict]:
    """`/api/timeline` read once per request: the first page and the pages after it by
    cursor, a year's pages, one organisation's, one type's."""
    rng = random.Random(11)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(path: str) -> tuple[float, dict]:
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        took = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return took, json.loads(body)

    kinds: dict[str, list[str]] = {
        "year": [f"from={y}&to={y}" for y in rng.sample(range(1900, 2026), min(samples, 126))],
        "organisation": [
            f"org={organisation_id(n)}"
            for n in rng.sample(range(organisations), min(samples, organisations))
        ],
        "type": [
            f"type={t}&from={rng.randint(1900, 2020)}"
            for t in rng.choices(["member_joined", "milestone", "renamed", "founded"], k=samples)
        ],
    }
    get("/api/timeline?limit=1")  # the worker's first request builds its application
    results: dict[str, list[float]] = {"first page": [], "next pages": []}
    took, body = get("/api/timeline?limit=100")
    results["first page"].append(took)
    for _ in range(samples):
        if not body["next"]:
            break
        took, body = get("/api/timeline?limit=100&cursor=" + urllib.parse.quote(body["next"]))
        results["next pages"].append(took)
    for kind, queries in kinds.items():
        results[kind] = [get(f"/api/timeline?limit=100&{query}")[0] for query in queries]
    return {kind: _percentiles(times) for kind, times in results.items() if times}


def worker_memory(server_pid: int) -> list[str]:
    """Each worker process's peak resident memory (VmHWM, MB), and its own memory now
    (RssAnon: the peak also counts the pages of the SQLite file it has read through its
    memory map, which are the kernel's page cache, shared by every process)."""
    found = []
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = {
            line.split(":")[0]: int(line.split()[1]) // 1024
            for line in status[1:]
            if line.split()[-1] == "kB"
        }
        found.append(f"{fields['VmHWM']} ({fields['RssAnon']})")
    return found


def explain_state(url: str, size: int) -> tuple[str, float]:
    """EXPLAIN ANALYZE of the state's statements for one organisation at 2000: the file
    written, and the slowest statement's name and execution time."""
    from projections import queries as sql
    from projections.readmodel import driver_sql

    statements = {
        "header": sql._header_sql(None),
        "latest": sql._latest_sql(None, sql._STATE_FACETS_OF),
        "runs": sql._runs_sql(None),
        "documents": sql._documents_sql(None),
        "uncertain": sql._uncertain_sql(None),
    }
    params = sql.Asked(date(2000, 12, 31)).params(org=organisation_id(1))
    path = Path(f"/tmp/timeline-explain-{size}.txt")
    slowest = ("", 0.0)
    with _psycopg(_url(url)) as conn, path.open("w") as out:
        for name, statement in statements.items():
            plan = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + driver_sql(statement, "postgresql"), params
            ).fetchall()
            text = "\n".join(row[0] for row in plan)
            out.write(f"== {name}\n{text}\n\n")
            ms = float(text.rsplit("Execution Time: ", 1)[1].split(" ")[0])
            if ms > slowest[1]:
                slowest = (name, ms)
    return f"{path}: slowest {slowest[0]} {slowest[1]:.2f} ms", slowest[1]


def run(backend: str, size: int, args: argparse.Namespace) -> dict:
    organisations = max(1, size // args.per_organisation)
    corpus = default_path(size, organisations, 1)
    if not corpus.exists():
        write(corpus, size, organisations, 1)
    url, kept = database(backend, size, args.postgres, args.reuse)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    env["TIMELINE_DATABASE_URL"] = url
    row: dict = {"backend": backend, "size": size, "organisations": organisations}
    try:
        if not kept:
            took, rss, cpu = run_timed([TIMELINE, "import", str(corpus)], env)
            row.update(import_s=took, import_rate=size / took, import_mb=rss, import_cpu=cpu)
            print(f"[{backend} {size:,}] import {took:.1f} s, {rss} MB", file=sys.stderr)
        if not args.no_rebuild:
            took, rss, cpu = run_timed([TIMELINE, "projections", "rebuild"], env)
            row.update(rebuild_s=took, rebuild_mb=rss, rebuild_cpu=cpu)
            print(f"[{backend} {size:,}] rebuild {took:.1f} s, {rss} MB", file=sys.stderr)
        row["bytes"] = table_bytes(url)
        row["states"] = measure_states(url, organisations, args.samples)
        print(f"[{backend} {size:,}] states {row['states']}", file=sys.stderr)
        process, port = start_server(env, "/tmp", 2, 8)
        try:
            row["pages"] = timeline_pages(port, organisations, args.samples)
            row["workers_mb"] = worker_memory(process.pid)
        finally:
            stop_server(process)
        print(f"[{backend} {size:,}] pages {row['pages']}", file=sys.stderr)
        if backend == "postgres":
            row["explain"] = explain_state(url, size)[0]
    finally:
        if not args.keep:
            drop_database(url, args.postgres)
    return row


def _flags(args: argparse.Namespace) -> str:
    return "".join(
        f" --{name.replace('_', '-')}"
        for name in ("keep", "reuse", "no_rebuild")
        if getattr(args, name)
    )


def report(rows: list[dict], args: argparse.Namespace) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    cores = os.cpu_count() or 1
    loaded = (
        f" (more than its {cores} cores: a loaded machine, noisy figures)"
        if load[0] > cores
        else ""
    )
    lines = [
        f"\n## A million events: bench/million.py, {stamp}",
        f"\n`python bench/million.py --sizes {','.join(map(str, args.sizes))} --backends "
        f"{args.backends} --samples {args.samples}{_flags(args)}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}. Load average at the end "
        f"{load[0]:.1f}{loaded}. Each request and each (organisation, year) asked once, in "
        "new processes; the database's own cache is as the import left it.\n",
        "| backend | events | organisations | import | import events/s | import peak MB "
        "| rebuild, peak MB | state p50 / p95 | /api/timeline p95 (first, next, year, org, type) "
        "| worker MB: peak (own) | database MB | bytes/event |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pages = r["pages"]
        p95s = ", ".join(
            f"{pages[k]['p95']:.1f}" if k in pages else "-"
            for k in ("first page", "next pages", "year", "organisation", "type")
        )
        total = sum(r["bytes"].values())
        imported = (
            f"{r['import_s']:.1f} s ({r['import_cpu']:.0f} s CPU) | {r['import_rate']:,.0f} "
            f"| {r['import_mb']}"
            if "import_s" in r
            else "kept from an earlier run | - | -"
        )
        rebuilt = (
            f"{r['rebuild_s']:.1f} s ({r['rebuild_cpu']:.0f} s CPU), {r['rebuild_mb']}"
            if "rebuild_s" in r
            else "not run"
        )
        lines.append(
            f"| {r['backend']} | {r['size']:,} | {r['organisations']:,} | {imported} "
            f"| {rebuilt} | {r['states']['p50']:.2f} / {r['states']['p95']:.2f} ms ({r['states']['n']}) "
            f"| {p95s} ms | {', '.join(map(str, r['workers_mb']))} | {total / 2**20:,.0f} "
            f"| {total / r['size']:,.0f} |"
        )
    lines.append("\nBytes by table (with indexes):\n")
    for r in rows:
        parts = ", ".join(f"{name} {size / 2**20:,.1f} MB" for name, size in r["bytes"].items())
        lines.append(f"- {r['backend']} {r['size']:,}: {parts}")
    for r in rows:
        if "explain" in r:
            lines.append(f"- EXPLAIN (ANALYZE, BUFFERS), {r['size']:,} events: {r['explain']}")
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1000,100000,1000000", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument("--per-organisation", type=int, default=100)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--no-rebuild", action="store_true", help="skip the rebuild")
    parser.add_argument(
        "--reuse", action="store_true", help="use a database kept by --keep (no import)"
    )
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--states-of", help=argparse.SUPPRESS)
    parser.add_argument("--organisations", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.states_of:
        states_here(args.states_of, args.organisations, args.samples)
        return
    rows = [run(backend, size, args) for backend in args.backends.split(",") for size in args.sizes]
    publish(report(rows, args), args.results)


if __name__ == "__main__":
    main()
