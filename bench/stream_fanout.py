"""Stream fan-out: how long an event takes from its 201 to its delivery on every open stream,
and what the open streams cost in memory. Target (issue 19): p95 under 1 s on 200 streams.

Starts `timeline serve` (2 worker processes) on a fresh database, opens `--streams` streams
from one asyncio client, then appends `--events` events one after another through the API
(`--pause` seconds apart) from a thread of the same process, and for every (event, stream)
pair takes the time from the append's 201 to that stream's message (negative when the
message came before the 201 was read). Memory is the workers' resident set size (VmRSS)
before the streams are opened and while they are all open.

    .venv/bin/python -m bench.stream_fanout                       # 200 streams, both databases
    .venv/bin/python -m bench.stream_fanout --streams 500 --backends sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench.common import create_token, fresh_postgres, publish

ROOT = Path(__file__).resolve().parents[1]
TIMELINE = str(Path(sys.executable).with_name("timeline"))
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the server's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


async def listen(
    port: int, arrivals: dict[str, list[float]], ready: asyncio.Event, opened: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/stream HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    while (await reader.readline()).strip():
        pass  # the head
    opened.append(1)
    ready.set()
    try:
        while line := await reader.readline():
            if line.startswith(b"data: "):
                event_id = json.loads(line[6:])["id"]
                arrivals.setdefault(event_id, []).append(time.monotonic())
    finally:
        writer.close()


def append_all(base: str, token: str, count: int, pause: float, sent: dict[str, float]) -> None:
    for n in range(count):
        body = json.dumps(
            {"type": "milestone", "occurred_on": "2020", "data": {"headline": f"Fan-out {n}"}}
        ).encode()
        request = urllib.request.Request(
            base + "/api/organisations/fanout/events",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            event_id = json.loads(response.read())["id"]
        sent[event_id] = time.monotonic()
        time.sleep(pause)


async def measure(port: int, token: str, args: argparse.Namespace, workers: list[int]) -> dict:
    base = f"http://127.0.0.1:{port}"
    before = rss_kib(workers)
    arrivals: dict[str, list[float]] = {}
    opened: list[int] = []
    ready = asyncio.Event()
    tasks = [
        asyncio.create_task(listen(port, arrivals, ready, opened)) for _ in range(args.streams)
    ]
    while len(opened) < args.streams:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    held = rss_kib(workers)
    sent: dict[str, float] = {}
    poster = threading.Thread(target=append_all, args=(base, token, args.events, args.pause, sent))
    poster.start()
    while poster.is_alive():
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        len(arrivals.get(e, [])) < args.streams for e in sent
    ):
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    latencies = [(t - sent[e]) * 1000 for e in sent for t in arrivals.get(e, [])]
    delivered = sum(len(arrivals.get(e, [])) for e in sent)
    ordered = sorted(latencies)
    return {
        "streams": args.streams,
        "delivered": delivered,
        "expected": args.events * args.streams,
        "p50": statistics.median(ordered),
        "p95": ordered[int(len(ordered) * 0.95)],
        "max": ordered[-1],
        "rss_before_mib": before / 1024,
        "rss_held_mib": held / 1024,
        "per_stream_kib": (held - before) / args.streams,
    }


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as cwd:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
        env["TIMELINE_DATABASE_URL"] = url
        subprocess.run([TIMELINE, "init"], env=env, cwd=cwd, check=True, capture_output=True)
        token = create_token(TIMELINE, env, cwd, "fan-out bench")
        port = free_port()
        server = subprocess.Popen(
            [TIMELINE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            for _ in range(300):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    time.sleep(0.2)
            row = asyncio.run(measure(port, token, args, children(server.pid)))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    row["backend"] = name
    print(f"[{name}] {row}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.1)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    rows = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                rows.append(run_backend("SQLite", f"sqlite:///{folder}/fanout.db", args))
        else:
            url, drop = fresh_postgres(ADMIN_URL)
            try:
                rows.append(run_backend("PostgreSQL", url, args))
            finally:
                drop()
    lines = [
        f"\n### Stream fan-out ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores)\n",
        f"`.venv/bin/python -m bench.stream_fanout --streams {args.streams} --events {args.events} "
        f"--pause {args.pause} --backends {args.backends}`; `timeline serve` with 2 workers; "
        "201-to-delivery over every (event, stream) pair; target p95 < 1 s.\n",
        "| backend | streams held | delivered / expected | p50 | p95 | max | workers' RSS before | with the streams open | per stream |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['streams']} | {r['delivered']} / {r['expected']} | "
            f"{r['p50']:.0f} ms | {r['p95']:.0f} ms | {r['max']:.0f} ms | {r['rss_before_mib']:.0f} MiB | "
            f"{r['rss_held_mib']:.0f} MiB | {r['per_stream_kib']:.0f} KiB |"
        )
    publish("\n".join(lines) + "\n", args.results)


if __name__ == "__main__":
    main()
