"""Read-your-writes through a hot standby, over real HTTP. Run by hand:
`python bench/standbys.py` (figures printed and appended to bench/RESULTS.md).

Makes a PostgreSQL primary and a hot standby of its own (bench/replication.py: Debian's
PostgreSQL 15 binaries, free loopback ports, removed afterwards), then serves the service on
them twice at once: `primary` (no TIMELINE_READ_DATABASE_URLS: every read from the primary) and
`standby` (reads from the standby). The two are measured in turn, `--rounds` times each, for
`--seconds` each: `--clients` client processes each append to an organisation of their own
and at once read its state back, sending the append's `Timeline-Position` (the primary-only
server gives none). Every read must show the client's own write: a stale read is counted and
must stay 0. Reported per server: appends/s, the read-after-write latency (p50, p95), and how
many of the reads the standby answered (from /metrics).

On one machine the standby adds no capacity (it shares the CPUs); what this shows is what
read-your-writes costs a reader: the wait for the standby to replay the write.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds http.py: keep the folder off the path so `http` is the standard library's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import create_token, publish
from bench.replication import free_port, replication

HERE = Path(__file__).resolve().parent
TIMELINE = str(Path(sys.executable).with_name("timeline"))


@contextmanager
def serving(env: dict[str, str], cwd: str) -> Iterator[int]:
    """`timeline serve` (two workers) on a free port; its port."""
    port = free_port()
    log = open(Path(cwd) / f"serve-{port}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [TIMELINE, "serve", "--port", str(port), "--workers", "2", "--no-seed"],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    health = json.loads(r.read())
                if all(s["state"] == "up" for s in health.get("standbys", [])):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server on port {port} did not start")
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


def client(job: tuple[int, str, str, float]) -> tuple[list[float], list[float], int]:
    """Append, then read the state back with the append's position, until time is up: the
    appends' and the reads' latencies, and how many reads did not show their write."""
    port, token, org, seconds = job
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    writing = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    appends: list[float] = []
    reads: list[float] = []
    stale = 0
    value = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value += 1
        body = {
            "type": "figures_reported",
            "occurred_on": "2020",
            "data": {"figures": {"n": value}},
        }
        started = time.perf_counter()
        conn.request("POST", f"/api/organisations/{org}/events", json.dumps(body), writing)
        written = conn.getresponse()
        written.read()
        appended = time.perf_counter()
        if written.status != 201:
            raise RuntimeError(f"append answered {written.status}")
        position = written.getheader("Timeline-Position")
        conn.request(
            "GET",
            f"/api/organisations/{org}/state",
            headers={"Timeline-Position": position} if position else {},
        )
        answer = conn.getresponse()
        state = json.loads(answer.read())
        reads.append(time.perf_counter() - appended)
        appends.append(appended - started)
        stale += state["figures"]["n"]["value"] != value
    conn.close()
    return appends, reads, stale


def standby_reads(port: int) -> float:
    """Read requests the server's standbys have answered so far (every worker)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.findall(r'^timeline_read_requests_total\{source="([^"]+)"\} (\S+)$', text, re.M)
    return sum(float(count) for source, count in found if source != "primary")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    command = "python bench/standbys.py " + " ".join(sys.argv[1:])
    totals = {
        name: {"appends": [], "reads": [], "stale": 0, "standby": 0.0, "time": 0.0}
        for name in ("primary", "standby")
    }
    with replication(standbys=1) as cluster, tempfile.TemporaryDirectory() as cwd:
        cluster.primary.execute("CREATE DATABASE timeline")
        base = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
        base["TIMELINE_DATABASE_URL"] = cluster.primary.url("timeline")
        token = create_token(TIMELINE, base, cwd, "bench")
        reading = {**base, "TIMELINE_READ_DATABASE_URLS": cluster.standbys[0].url("timeline")}
        with serving(base, cwd) as primary_port, serving(reading, cwd) as standby_port:
            ports = {"primary": primary_port, "standby": standby_port}
            with multiprocessing.Pool(args.clients) as pool:
                for number in range(args.rounds):
                    for name, port in ports.items():
                        jobs = [
                            (port, token, f"{name}-{number}-{c}", args.seconds)
                            for c in range(args.clients)
                        ]
                        before = standby_reads(port)
                        started = time.monotonic()
                        for appends, reads, stale in pool.map(client, jobs):
                            totals[name]["appends"] += appends
                            totals[name]["reads"] += reads
                            totals[name]["stale"] += stale
                        totals[name]["time"] += time.monotonic() - started
                        totals[name]["standby"] += standby_reads(port) - before
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## Standbys: bench/standbys.py, {now}\n",
        f"`{command.strip()}` on {platform.node()} ({os.cpu_count()} cores, load "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; shared with other "
        f"engineers' runs, so figures are noisy: the two servers were measured in turn, "
        f"{args.rounds} rounds of {args.seconds:g} s each, {args.clients} client processes).\n",
        "| reads from | appends/s | read after write p50 | p95 | reads the standby answered | stale reads |",
        "|---|---|---|---|---|---|",
    ]
    for name, total in totals.items():
        reads = total["reads"]
        lines.append(
            f"| {name} | {len(total['appends']) / total['time']:.0f} "
            f"| {statistics.median(reads) * 1000:.1f} ms | {percentile(reads, 0.95) * 1000:.1f} ms "
            f"| {total['standby']:.0f} of {len(reads)} | {total['stale']} |"
        )
    publish("\n".join(lines) + "\n", args.results)


if __name__ == "__main__":
    main()
