"""CPU time the server spends per state read, by thread. Run by hand: `python bench/server_cpu.py`.

Starts `timeline serve --workers 1 --threads 8` (SQLite, the CICOPA history), reads
`GET /api/organisations/cicopa/state?at=<random year>` `--requests` times from 4 client threads
on kept-alive connections (after 300 unmeasured), and prints the CPU time (user + system, from
/proc) the worker's main thread (the event loop of timeline/front.py) and its other threads
(the app's) spent per request. CPU time depends less on the machine's other load than rates do,
though not wholly: compare runs made side by side. To compare another version of the server,
export its source (`git archive COMMIT | tar -x -C DIR`) and run with `--pythonpath DIR`.
Prints only; nothing is written to RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, the folder is on the path: keep bench/http.py from shadowing `http`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import http.client
import os
import random
import tempfile
import threading

from tests.e2e.server import environment, serving


def _processes(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [p for child in children for p in _processes(int(child))]


def cpu_by_thread(parent: int) -> dict[str, float]:
    """CPU seconds of the workers' main threads and of their other threads, in all."""
    spent = {"event loop": 0.0, "app threads": 0.0}
    for pid in _processes(parent)[1:]:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1]
            except FileNotFoundError:
                continue
            ticks = int(fields.split()[11]) + int(fields.split()[12])
            key = "event loop" if tid == str(pid) else "app threads"
            spent[key] += ticks / os.sysconf("SC_CLK_TCK")
    return spent


def _read(port: int, seed: int, count: int) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        try:
            conn.request("GET", f"/api/organisations/cicopa/state?at={rng.randint(1950, 2025)}")
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn.close()  # closed after its keep-alive limit: the next request reopens it
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--pythonpath", help="serve the source in this folder instead")
    args = parser.parse_args()
    more = {"PYTHONPATH": args.pythonpath} if args.pythonpath else {}
    with tempfile.TemporaryDirectory() as tmp:
        extra = ("--workers", "1", "--threads", "8")
        with serving(environment(None, **more), Path(tmp), *extra) as server:
            port = int(server.base.rsplit(":", 1)[1])
            for label, count in (("warm-up", 300), ("measured", args.requests)):
                before = cpu_by_thread(server.process.pid)
                clients = [
                    threading.Thread(target=_read, args=(port, k, count // 4)) for k in range(4)
                ]
                for client in clients:
                    client.start()
                for client in clients:
                    client.join()
                after = cpu_by_thread(server.process.pid)
                spent = {key: (after[key] - before[key]) / count * 1e6 for key in after}
                if label == "measured":
                    print(
                        f"{count} state reads: "
                        + ", ".join(f"{key} {us:.0f} us" for key, us in spent.items())
                        + f", in all {sum(spent.values()):.0f} us of CPU per request"
                    )


if __name__ == "__main__":
    main()
