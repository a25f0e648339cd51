"""A mixed load on a real server: 90% reads, 10% appends. Run by hand: `python bench/load.py`.

For SQLite and PostgreSQL, starts `timeline serve` (with the CICOPA history) on a loopback
port, then runs wrk with bench/wrk_mixed.lua for `--seconds` at each concurrency in
`--levels`: reads are states at random years, pages of events and year pages; appends go to
eight organisations. It counts every acknowledged append (201) and afterwards compares them
with what the log holds: a lost event is one acknowledged and not stored. Bounded in time
(seconds x levels per database) and loopback only. Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from bench.common import create_token, fresh_postgres, publish
from bench.http import TIMELINE, start_server, stop_server


def stored_appends(env: dict[str, str], cwd: str) -> int:
    out = subprocess.run(
        [TIMELINE, "export"], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    return sum(
        1 for line in out.splitlines() if json.loads(line)["organisation"].startswith("load-")
    )


def run_level(port: int, clients: int, seconds: float, token: str) -> dict:
    env = {**os.environ, "TOKEN": token}
    threads = min(clients, 2)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "30s",
        "-s",
        str(HERE / "wrk_mixed.lua"),
        f"http://127.0.0.1:{port}",
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def run_backend(name: str, url: str, args: argparse.Namespace, tmp: str) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    env["TIMELINE_DATABASE_URL"] = url
    token = create_token(TIMELINE, env, tmp, "load")
    process, port = start_server(env, tmp, args.workers, args.threads)
    rows = []
    try:
        for clients in args.levels:
            before = stored_appends(env, tmp)
            found = run_level(port, clients, args.seconds, token)
            found.update(backend=name, clients=clients, stored=stored_appends(env, tmp) - before)
            print(f"[{name}] {found}", file=sys.stderr)
            rows.append(found)
    finally:
        stop_server(process)
    return rows


def report(rows: list[dict], args: argparse.Namespace) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## Mixed load: bench/load.py, {stamp}",
        f"\n`python bench/load.py --seconds {args.seconds:.0f} --levels {','.join(map(str, args.levels))} --workers {args.workers} --threads {args.threads}` "
        f"on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; wrk and the server share the machine.\n",
        "| backend | clients | requests/s | p50 | p95 | p99 | appends acknowledged | appends stored | lost | bad statuses | socket errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lost = max(0, r["acked"] - r["stored"])
        lines.append(
            f"| {r['backend']} | {r['clients']} | {r['requests'] / r['seconds']:.0f} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
            f"| {r['acked']} | {r['stored']} | {lost} | {r['bad_status']} | {r['socket_errors']} |"
        )
    for backend in sorted({r["backend"] for r in rows}):
        top = max((r for r in rows if r["backend"] == backend), key=lambda r: r["clients"])
        errors = top["bad_status"] + top["socket_errors"]
        lost = max(0, top["acked"] - top["stored"])
        met = "met" if errors == 0 and lost == 0 else "NOT met"
        lines.append(
            f"\n- {backend}, {top['clients']} clients: {errors} errors, {lost} lost events (target zero and zero: {met})."
        )
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16, 32]
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/load.py needs wrk (Debian: apt-get install wrk)")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.backends:
            rows += run_backend("sqlite", f"sqlite:///{tmp}/load.db", args, tmp)
        if "postgres" in args.backends:
            url, drop = fresh_postgres(args.postgres, "tl_loadbench")
            try:
                rows += run_backend("postgres", url, args, tmp)
            finally:
                drop()
    text = report(rows, args)
    publish(text, args.results)


if __name__ == "__main__":
    main()
