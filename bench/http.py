"""Appends and state reads over real HTTP. Run by hand: `python bench/http.py`.

Starts `timeline serve` on a free loopback port for each database, then drives it
from wrk (or client *processes*, so the clients do not share one GIL):

- appends: 8 concurrent writers for a fixed time, all to one organisation, then each to its
  own; every response is counted (201 or not);
- state reads: 8 concurrent readers of `GET /api/organisations/cicopa/state?at=<random year>`
  for a fixed time, with p50/p95 latency;
- pages: the server time of each page for CICOPA (timeline, a year, a diff, a person);
- raw: in the benchmark's own process, the library's append rate with one event per `save()`
  (an `eventsourcing` Aggregate on the same kind of database): the reference for appends,
  measured for half a phase's time just before each append phase (before its warm-up) and
  again just after it (the server idle). Each phase is judged against the higher of the two,
  and its share of their mean is shown beside it. On this shared machine the same code reads
  a quarter faster or slower from one minute to the next, so a reference taken once, minutes
  away, would judge the drift as much as the service.

Each phase is preceded by `--warm-up` seconds of the same load, not measured (the first
appends make the streams; after appends the states are computed afresh). Bounded in time
(`--seconds` per phase) and loopback only. Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: keep its folder off the path so `http` is the standard library's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.common import create_token, fresh_postgres, publish

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TIMELINE = str(Path(sys.executable).with_name("timeline"))


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    env: dict[str, str], cwd: str, workers: int | None, threads: int | None
) -> tuple[subprocess.Popen, int]:
    """`timeline serve` with its own defaults, but for the processes and threads asked for."""
    port = free_port()
    log = open(Path(cwd) / "server.log", "ab")  # noqa: SIM115
    command = [TIMELINE, "serve", "--port", str(port), "--seed"]
    if workers is not None:
        command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("server did not start")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def _client(args: tuple) -> list[tuple[float, int]]:
    """One client process: send requests until `until`, return (latency ms, status) each."""
    port, kind, n, token, until, start_at = args
    rng = random.Random(n)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < start_at:
        time.sleep(0.001)
    results = []
    org = "bench-one" if kind == "append-one" else f"bench-writer-{n}"
    while time.time() < until:
        if kind.startswith("append"):
            body = json.dumps(
                {
                    "type": "milestone",
                    "occurred_on": str(rng.randint(1900, 2025)),
                    "data": {"headline": f"w{n}"},
                }
            )
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            method, path = "POST", f"/api/organisations/{org}/events"
        else:
            body, headers, method = None, {}, "GET"
            path = f"/api/organisations/cicopa/state?at={rng.randint(1900, 2025)}"
        start = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        results.append(((time.perf_counter() - start) * 1000, status))
    return results


def drive_wrk(port: int, kind: str, clients: int, token: str, seconds: float) -> dict:
    """The same load from wrk (C, two threads): clients that take little of the CPU."""
    script = HERE / ("wrk_state.lua" if kind == "read" else "wrk_append.lua")
    env = {**os.environ, "WRK_COMMON": str(HERE / "wrk_common.lua"), "TOKEN": token}
    env["ORG"] = "bench-one" if kind == "append-one" else ""
    command = [
        "wrk",
        "-t2",
        f"-c{clients}",
        f"-d{seconds:.0f}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    found = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    errors = found["non_2xx"] + found["socket_errors"]
    ok = found["requests"] - errors
    return {
        "kind": kind,
        "requests": found["requests"],
        "ok": ok,
        "errors": errors,
        "per_second": ok / found["seconds"],
        "p50": found["p50_ms"],
        "p95": found["p95_ms"],
    }


def drive(port: int, kind: str, clients: int, token: str, seconds: float) -> dict:
    start_at = time.time() + 1.0
    until = start_at + seconds
    with multiprocessing.Pool(clients) as pool:
        per_client = pool.map(
            _client, [(port, kind, n, token, until, start_at) for n in range(clients)]
        )
    results = [r for rs in per_client for r in rs]
    latencies = sorted(latency for latency, status in results if status in (200, 201))
    ok = len(latencies)
    return {
        "kind": kind,
        "requests": len(results),
        "ok": ok,
        "errors": len(results) - ok,
        "per_second": ok / seconds,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[int(len(latencies) * 0.95)] if latencies else float("nan"),
    }


def page_times(port: int, rounds: int = 30) -> dict[str, float]:
    """Median server round trip of each CICOPA page, one client, after a warm-up."""
    paths = {
        "timeline": "/organisations/cicopa",
        "year 1998": "/organisations/cicopa/at/1998",
        "diff 1998-2017": "/organisations/cicopa/at/1998?compare=2017",
        "person": "/people/bruno-roelants",
        "index": "/",
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    medians = {}
    for name, path in paths.items():
        times = []
        for round_ in range(rounds + 3):
            start = time.perf_counter()
            conn.request("GET", path)
            conn.getresponse().read()
            if round_ >= 3:
                times.append((time.perf_counter() - start) * 1000)
        medians[name] = statistics.median(times)
    return medians


class Counter(Aggregate):
    """The smallest aggregate: one event per call."""

    @event("Incremented")
    def increment(self) -> None:
        pass


class RawApp(Application):
    """A plain eventsourcing application on the same kind of database."""


def raw_append_rate(url: str, seconds: float) -> float:
    """The library's own rate with one event per save(), in this process."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
        "SQLALCHEMY_URL": url,
        "CREATE_TABLE": "y",
    }
    app = RawApp(env=env)
    counter = Counter()
    app.save(counter)
    done, until = 0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        counter.increment()
        app.save(counter)
        done += 1
    app.factory.datastore.engine.dispose()
    return done / seconds


def run_backend(name: str, url: str, raw_url: str, args: argparse.Namespace, tmp: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    env["TIMELINE_DATABASE_URL"] = url
    token = create_token(TIMELINE, env, tmp, "http-bench")
    process, port = start_server(env, tmp, args.workers, args.threads)
    raw_seconds = args.seconds / 2
    phases = []
    try:
        driver = drive_wrk if args.client == "wrk" else drive
        for kind in ("append-one", "append-many", "read"):
            if kind.startswith("append"):
                before = raw_append_rate(raw_url, raw_seconds)
            if args.warm_up > 0:  # not measured: new streams, states computed afresh
                driver(port, kind, args.clients, token, args.warm_up)
            phase = driver(port, kind, args.clients, token, args.seconds)
            if kind.startswith("append"):
                # The reference, just before and just after the phase, with the server idle:
                # the machine's speed drifts by a quarter from one minute to the next.
                phase["raw"] = (before, raw_append_rate(raw_url, raw_seconds))
            print(f"[{name}] {phase}", file=sys.stderr)
            phases.append(phase)
        pages = page_times(port)
    finally:
        stop_server(process)
    return {"backend": name, "phases": phases, "pages": pages}


def _share(phase: dict) -> float:
    """An append phase's rate over the raw library rate measured around it: over the higher
    of the two, so that the reference's own drift never flatters the service."""
    return phase["per_second"] / max(phase["raw"])


def report(rows: list[dict], args: argparse.Namespace) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## HTTP: bench/http.py, {stamp}",
        f"\n`python bench/http.py --seconds {args.seconds} --warm-up {args.warm_up} --clients {args.clients} --workers {args.workers}{f' --threads {args.threads}' if args.threads else ''} --client {args.client}` "
        f"on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; server and clients ({args.client}) share the machine.\n",
        "| backend | phase | ok/s | p50 | p95 | requests | errors | vs raw library appends |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for row in rows:
        for phase in row["phases"]:
            share = ""
            if "raw" in phase:
                before, after = phase["raw"]
                lines.append(
                    f"| {row['backend']} | raw library append, one event per save, in process, before / after {phase['kind']} | {before:.0f} / {after:.0f} | | | | | 100% of the higher |"
                )
                mean = phase["per_second"] / statistics.mean(phase["raw"])
                share = f"{_share(phase):.0%} (of their mean: {mean:.0%})"
            lines.append(
                f"| {row['backend']} | {phase['kind']} ({args.clients} clients) | {phase['per_second']:.0f} | {phase['p50']:.1f} ms | {phase['p95']:.1f} ms "
                f"| {phase['requests']} | {phase['errors']} | {share} |"
            )
        pages = ", ".join(f"{name} {ms:.1f} ms" for name, ms in row["pages"].items())
        lines.append(f"\n{row['backend']}: median page round trip for CICOPA: {pages}.\n")
        share = min(_share(p) for p in row["phases"] if "raw" in p)
        read = next(p for p in row["phases"] if p["kind"] == "read")
        verdicts.append(
            f"- {row['backend']}: HTTP appends at least {share:.0%} of the raw library rate (target ≥ 50%: {'met' if share >= 0.5 else 'NOT met'})"
            + (
                f"; state reads {read['per_second']:.0f}/s with p95 {read['p95']:.1f} ms (target ≥ 1,000/s and p95 < 20 ms: {'met' if read['per_second'] >= 1000 and read['p95'] < 20 else 'NOT met'})"
                if row["backend"] == "sqlite"
                else f"; state reads {read['per_second']:.0f}/s, p95 {read['p95']:.1f} ms"
            )
            + f"; errors: {sum(p['errors'] for p in row['phases'])}."
        )
    return "\n".join([*lines, *verdicts, ""])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--warm-up", type=float, default=2, help="seconds of unmeasured load before each phase"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per process (default: the server's)"
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="wrk (Debian's package; default when installed) or Python client processes",
    )
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.backends:
            rows.append(
                run_backend(
                    "sqlite", f"sqlite:///{tmp}/bench.db", f"sqlite:///{tmp}/raw.db", args, tmp
                )
            )
        if "postgres" in args.backends:
            url, drop = fresh_postgres(args.postgres, "tl_httpbench")
            raw_url, drop_raw = fresh_postgres(args.postgres, "tl_httpbench")
            try:
                rows.append(run_backend("postgres", url, raw_url, args, tmp))
            finally:
                drop()
                drop_raw()
    text = report(rows, args)
    publish(text, args.results)


if __name__ == "__main__":
    main()
