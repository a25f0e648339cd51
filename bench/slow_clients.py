"""Slow clients beside normal traffic. Run by hand: `python bench/slow_clients.py`.

Starts `timeline serve` (SQLite, the CICOPA history) on a free loopback port, then measures
three phases of `--seconds` each, the second while `--slow` connections trickle or stall:

- throughput: `--clients` client *processes* (so that they do not share one GIL) read
  `GET /api/organisations/cicopa/state?at=<random year>` as fast as they are answered, each
  on a kept-alive connection (reopened when the server closes it);
- latency: one more process asks `/healthz` and a state read every 50 ms, each on a new
  connection (what a newcomer meets), and keeps every latency;
- slow connections, a quarter of each kind: one that trickles a header a byte every half
  second, one that stops half-way through its header, one that stops half-way through its
  body, one that connects and sends nothing. One the server closes is opened again.

Targets (issue 18 item 4): while the slow connections are held, every `/healthz` and state
read is answered within 2 s, and the throughput stays above half its value without them: the
mean of a quiet phase just before and one just after (the machine drifts minute to minute). Bounded in time (three phases, a warm-up and the server's start) and loopback only.
Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, the folder is on the path: keep bench/http.py from shadowing `http`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import http.client
import multiprocessing
import os
import platform
import random
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import publish
from tests.e2e.server import environment, serving

SLOW_KINDS = {
    "trickling": b"GET /api/organisations HTTP/1.1\r\nHost: bench\r\nX-Trickle: ",
    "stalled in its header": b"GET /api/organisations HTTP/1.1\r\nHost: bench\r\nX-Stall: ",
    "stalled in its body": (
        b"POST /api/organisations/bench/events HTTP/1.1\r\nHost: bench\r\n"
        b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
        b'{"type": "milestone", "occurred_on": "19'
    ),
    "idle": b"",
}
"""What each kind of slow connection sends when it opens."""

STATE = "/api/organisations/cicopa/state?at={year}"


def _reader(args: tuple[int, int, float, float]) -> int:
    """One client process: state reads on a kept-alive connection until `until`; how many
    were answered 200."""
    port, seed, start_at, until = args
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < start_at:
        time.sleep(0.001)
    answered = 0
    while time.time() < until:
        try:
            conn.request("GET", STATE.format(year=rng.randint(1950, 2025)))
            response = conn.getresponse()
            response.read()
            answered += response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()  # closed by the server (its keep-alive limit): open another
    conn.close()
    return answered


def _prober(args: tuple[int, float, float]) -> dict[str, list[float]]:
    """Ask /healthz and a state read every 50 ms on new connections until `until`: the
    latency of each in seconds (failures count as infinitely slow)."""
    port, start_at, until = args
    while time.time() < start_at:
        time.sleep(0.001)
    latencies: dict[str, list[float]] = {"healthz": [], "state": []}
    rng = random.Random(0)
    while time.time() < until:
        for name, path in (("healthz", "/healthz"), ("state", STATE)):
            began = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path.format(year=rng.randint(1950, 2025)))
                response = conn.getresponse()
                response.read()
                conn.close()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
            latencies[name].append(time.perf_counter() - began if ok else float("inf"))
        time.sleep(0.05)
    return latencies


class SlowConnections:
    """`count` slow connections held open (reopened when closed) on a thread of their own."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.kinds = [list(SLOW_KINDS)[i % len(SLOW_KINDS)] for i in range(count)]
        self.sockets: list[socket.socket | None] = [None] * count
        self.opened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.hold, daemon=True)

    def open(self, i: int) -> None:
        """Open the `i`th connection and send what its kind sends (tried again if refused)."""
        self.sockets[i] = None
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock.sendall(SLOW_KINDS[self.kinds[i]])
        except OSError:
            return
        sock.setblocking(False)
        self.sockets[i] = sock
        self.opened += 1

    def hold(self) -> None:
        """Every half second: trickle a byte, and reopen what the server ended."""
        while not self.stop.is_set():
            for i, sock in enumerate(self.sockets):
                if sock is None:
                    self.open(i)
                elif not self.still_held(sock, self.kinds[i] == "trickling"):
                    sock.close()
                    self.open(i)
            self.stop.wait(0.5)

    @staticmethod
    def still_held(sock: socket.socket, trickle: bool) -> bool:
        """Whether the server neither answered (a 408) nor closed `sock`; trickles a byte."""
        try:
            if trickle:
                sock.send(b"a")
            sock.recv(65536)  # an answer or the end: the server is done with it
        except BlockingIOError:
            return True
        except OSError:
            pass
        return False

    def held(self) -> int:
        """How many are open now."""
        return sum(sock is not None for sock in self.sockets)

    def __enter__(self) -> SlowConnections:
        for i in range(len(self.sockets)):
            self.open(i)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            if sock is not None:
                sock.close()


def measure(pool: Any, port: int, clients: int, seconds: float) -> dict:
    """Run the readers and the prober (in `pool`'s processes, started already) for `seconds`:
    state reads/s and latencies."""
    start_at = time.time() + 0.5
    until = start_at + seconds
    probing = pool.apply_async(_prober, ((port, start_at, until),))
    answered = pool.map(_reader, [(port, n, start_at, until) for n in range(clients)])
    return {"rate": sum(answered) / seconds, **probing.get()}


def _summary(latencies: list[float]) -> str:
    if not latencies:
        return "none"
    ms = sorted(latency * 1000 for latency in latencies)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return (
        f"{len(ms)} asked, p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, "
        f"max {ms[-1]:.1f} ms"
    )


def _row(name: str, phase: dict, rate: str) -> str:
    return f"| {name} | {rate} | {_summary(phase['healthz'])} | {_summary(phase['state'])} |\n"


def report(
    quiet: tuple[dict, dict], loaded: dict, held: tuple[int, int, int], args: argparse.Namespace
) -> str:
    """The Markdown section for RESULTS.md: the loaded phase judged against the mean of the
    quiet phases just before and after it (the machine drifts from minute to minute)."""
    before, after = quiet
    reference = (before["rate"] + after["rate"]) / 2
    share = loaded["rate"] / reference if reference else 0.0
    slowest = max(loaded["healthz"] + loaded["state"], default=float("inf"))
    verdict = "met" if share > 0.5 and slowest < 2 else "MISSED"
    command = (
        f"python bench/slow_clients.py --seconds {args.seconds:g} --warm-up {args.warm_up:g} "
        f"--clients {args.clients} --slow {args.slow} --workers {args.workers} "
        f"--threads {args.threads}"
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"\n### Slow clients: run of {stamp}\n\n"
        f"Machine: {platform.node()}, {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; server, "
        f"clients and slow connections share it. Command: `{command}`. SQLite, the CICOPA "
        "history.\n\n"
        "| phase | state reads/s (kept-alive clients) | /healthz (new connection each) "
        "| state read (new connection each) |\n"
        "|---|---|---|---|\n"
        + _row("quiet, before", before, f"{before['rate']:,.0f}")
        + _row(
            f"{args.slow} slow connections",
            loaded,
            f"{loaded['rate']:,.0f} ({share:.0%} of the quiet phases' mean)",
        )
        + _row("quiet, after", after, f"{after['rate']:,.0f}")
        + f"\nSlow connections: {held[0]} opened in all, {held[1]} open at the phase's start "
        f"and {held[2]} at its end. Targets (every answer within 2 s, throughput above 50% "
        f"of quiet): {verdict}.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase")
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4, help="reader processes")
    parser.add_argument("--slow", type=int, default=64, help="slow connections")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, context.Pool(args.clients + 1) as pool:
        pool.map(time.sleep, [0] * (args.clients + 1))  # every process started and ready
        extra = ("--workers", str(args.workers), "--threads", str(args.threads))
        with serving(environment(None), Path(tmp), *extra) as server:
            port = int(server.base.rsplit(":", 1)[1])
            measure(pool, port, args.clients, args.warm_up)
            before = measure(pool, port, args.clients, args.seconds)
            with SlowConnections(port, args.slow) as slow:
                time.sleep(1)  # all of them sent what they send, and waited on
                at_start = slow.held()
                loaded = measure(pool, port, args.clients, args.seconds)
                held = (slow.opened, at_start, slow.held())
            after = measure(pool, port, args.clients, args.seconds)
    publish(report((before, after), loaded, held, args), args.results)


if __name__ == "__main__":
    main()
