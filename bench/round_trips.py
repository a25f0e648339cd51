"""Messages an append sends to PostgreSQL, counted by strace. Run by hand:
`python bench/round_trips.py` (needs Debian's strace and the PostgreSQL of the tests).

Two services on one fresh database append in turn (as two server processes would), `--ops`
appends after 20 unmeasured ones, to one organisation (each finds its stream moved on by the
other) and to one of eight. strace counts the `sendto` calls on the way to the server (each a
message the client waits on, or close to it), and among them the ROLLBACKs and the
`DEALLOCATE ALL`s. Like instruction counts, these do not move with the machine's load.
To compare another version of the code, export it (`git archive COMMIT | tar -x -C DIR`)
and run with `--pythonpath DIR`. Prints only; nothing is written to RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, the folder is on the path: keep bench/http.py from shadowing `http`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parents[1]))  # last: --pythonpath goes first

import argparse
import os
import random
import shutil
import subprocess
import tempfile

from bench.common import fresh_postgres

MARK = b"round-trips: measuring\n"
DONE = b"round-trips: done\n"


def child(url: str, organisations: int, ops: int) -> None:
    """Append through two services in turn; mark the measured part on standard output."""
    from timeline.bootstrap import build
    from timeline.config import Config

    first = build(Config(database_url=url))
    second = build(Config(database_url=url), create=False)
    rng = random.Random(1)
    for n in range(20 + ops):
        if n == 20:
            os.write(1, MARK)
        org = f"trips-{rng.randrange(organisations)}"
        body = {"type": "milestone", "occurred_on": "2001", "data": {"headline": f"{n}"}}
        (first, second)[n % 2].commands.append(org, body, recorded_by="trips")
    os.write(1, DONE)


def count(url: str, organisations: int, ops: int, pythonpath: str | None) -> dict[str, float]:
    """Messages per append (all, ROLLBACKs, DEALLOCATE ALLs) in the measured part."""
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace"
        env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
        command = [sys.executable, __file__, "--child", url, str(organisations), str(ops)]
        subprocess.run(
            ["strace", "-f", "-e", "trace=sendto,write", "-o", str(trace), *command],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=tmp,
        )
        text = trace.read_text(errors="replace")
    measured = text.split("round-trips: measuring", 1)[1].split("round-trips: done", 1)[0]
    sent = [line for line in measured.splitlines() if "sendto(" in line]
    return {
        "messages": len(sent) / ops,
        "ROLLBACK": sum("ROLLBACK" in line for line in sent) / ops,
        "DEALLOCATE ALL": sum("DEALLOCATE ALL" in line for line in sent) / ops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pythonpath", help="run the source in this folder instead")
    parser.add_argument("--child", nargs=3, metavar=("URL", "ORGANISATIONS", "OPS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    if shutil.which("strace") is None:
        sys.exit("strace is needed: apt-get install strace")
    for organisations in (1, 8):
        url, drop = fresh_postgres(args.postgres, "tl_trips")
        try:
            found = count(url, organisations, args.ops, args.pythonpath)
        finally:
            drop()
        print(
            f"two services appending in turn to {organisations} organisation(s): "
            + ", ".join(f"{name} {per:.2f}" for name, per in found.items())
            + " per append"
        )


if __name__ == "__main__":
    main()
