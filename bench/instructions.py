"""Instructions per operation, counted by valgrind's callgrind. Run by hand:
`python bench/instructions.py` (needs Debian's valgrind).

Wall-clock figures on a shared 2-core machine move by ±25% from one minute to the next;
instruction counts do not, so they show what a change to the code saves. Each mode runs in
a fresh copy of a seeded SQLite database, once with 30 warm-up operations only and once with
`--ops` more; the difference divided by `--ops` is the count per operation:

- append: `Commands.append` in process (a milestone to one organisation);
- append-http: the same through the Flask app (test client: routing, token, schemas, hooks);
- read-http: `GET /api/organisations/cicopa/state?at=<one of the 1990s>` through the Flask
  app, a state the process keeps already (the warm-up asks for each of those years);
- raw: the library's own append (an `eventsourcing` Aggregate, one event per save);
- append-two / append-two-many: `Commands.append` by two services on one database in turn
  (as two server processes), to one organisation / to one of eight: each finds the stream
  it appends to moved on by the other, or (of eight) sometimes not.

The HTTP server (timeline.front) and the sockets are not counted: bench/http.py measures those.
Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

# This folder holds http.py: keep it off the path so `http` is the standard library's.
import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import logging.config
import os
import platform
import random
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import publish

MODES = ("append", "append-http", "read-http", "raw", "append-two", "append-two-many")
WARM_UP = 30


def child(mode: str, ops: int, database: str) -> None:
    """Run WARM_UP + ops operations of `mode` (under valgrind, from `count`)."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    from timeline.logs import logging_config

    real_stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115
    logging.config.dictConfig(logging_config())  # log lines are written, to /dev/null
    sys.stderr = real_stderr
    os.environ["TIMELINE_DATABASE_URL"] = f"sqlite:///{database}"
    from api.wsgi import create_app

    app = create_app()
    services = app.extensions["timeline"]
    client = app.test_client()
    auth = {"Authorization": f"Bearer {services.tokens.create('instructions')}"}
    rng = random.Random(1)

    class Counter(Aggregate):
        @event("Incremented")
        def increment(self) -> None:
            pass

    raw = Application(
        env={
            "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
            "SQLALCHEMY_URL": f"sqlite:///{database}.raw",
            "CREATE_TABLE": "y",
        }
    )
    counter = Counter()
    raw.save(counter)
    if mode.startswith("append-two"):
        from timeline.bootstrap import build
        from timeline.config import Config

        other = build(Config(database_url=f"sqlite:///{database}"), create=False)
        turn = [services, other]

    def one() -> None:
        body = {"type": "milestone", "occurred_on": str(rng.randint(1900, 2025)), "data": {}}
        body["data"] = {"headline": "counted"}
        if mode.startswith("append-two"):
            org = f"counted-{rng.randrange(8)}" if mode == "append-two-many" else "counted"
            turn.reverse()
            turn[0].commands.append(org, body, recorded_by="instructions")
        elif mode == "append":
            services.commands.append("counted", body, recorded_by="instructions")
        elif mode == "append-http":
            response = client.post("/api/organisations/counted/events", json=body, headers=auth)
            assert response.status_code == 201, response.get_data(as_text=True)
        elif mode == "read-http":
            path = f"/api/organisations/cicopa/state?at={1990 + rng.randrange(10)}"
            assert client.get(path).status_code == 200
        else:
            counter.increment()
            raw.save(counter)

    for _ in range(WARM_UP + ops):
        one()


def instructions(mode: str, ops: int, seeded: Path, tmp: Path) -> int:
    """Instructions callgrind counts for WARM_UP + ops operations of `mode`."""
    database = tmp / f"{mode}-{ops}.db"
    shutil.copy(seeded, database)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        mode,
        str(ops),
        str(database),
    ]
    # One hash seed for every count: string hashes move dicts' and sets' work by several
    # percent from one process to the next (read-http read 1.56 M and 1.67 M on one commit).
    env = {**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed under valgrind: {done.stderr[-2000:]}")
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind reported no total for {mode}: {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "OPS", "DATABASE"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        sys.exit(f"unknown modes: {', '.join(sorted(unknown))} (known: {', '.join(MODES)})")
    from timeline.bootstrap import build
    from timeline.config import Config

    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        seeded = tmp / "seeded.db"
        services = build(Config(database_url=f"sqlite:///{seeded}"))
        services.commands.seed()
        services.close()
        for mode in modes:
            with ThreadPoolExecutor(2) as pool:  # the two runs of a mode side by side
                runs = [pool.submit(instructions, mode, n, seeded, tmp) for n in (0, args.ops)]
                base, more = (run.result() for run in runs)
            per_op = (more - base) / args.ops
            rows.append((mode, per_op))
            print(f"{mode}: {per_op / 1e6:.2f} M instructions per operation", file=sys.stderr)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## Instructions per operation: bench/instructions.py, {stamp}",
        f"\n`python bench/instructions.py --ops {args.ops}` on {platform.machine()}, "
        f"Python {platform.python_version()}, SQLite; callgrind's count of ({WARM_UP} + "
        f"{args.ops}) operations minus that of {WARM_UP}, divided by {args.ops}.\n",
        "| operation | instructions per operation |",
        "|---|---|",
        *(f"| {mode} | {per_op / 1e6:.2f} M |" for mode, per_op in rows),
        "",
    ]
    text = "\n".join(lines)
    publish(text, args.results)


if __name__ == "__main__":
    main()
