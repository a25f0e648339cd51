"""Cold `state(at)` of two checkouts, A/B in one run: `python bench/state_ab.py --before DIR`.

For a loaded machine, where absolute timings are noise: the two versions of the code (this
checkout and the one at `--before`, e.g. `git worktree add /tmp/before main`) answer the same
cold questions (every `at` asked once) in alternating rounds, each in a process of its own,
each on a database of its own (their read models may have different shapes). The organisations
are bench/state_at.py's (plain and historian mixes, 1,000 and 100,000 events), imported the
first time into databases kept for later runs. Per round and organisation it takes the p50 of
wall time and of the thread's CPU time, then reports medians over the rounds and the ratio
100,000 / 1,000 that the target judges. Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
MIXES, SIZES = ("plain", "historian"), (1_000, 100_000)
ORGS = [f"bench-{mix}-{size}" for mix in MIXES for size in SIZES]


def arm(url: str, seed: int, samples: int) -> None:
    """One round of one version (run in the checkout's directory): print JSON of
    {org: [wall p50, cpu p50]}, importing the organisations first if the database lacks them."""
    sys.path.insert(0, os.getcwd())
    from bench.state_at import MIXES as ALL_MIXES
    from bench.state_at import history_lines
    from timeline.bootstrap import build
    from timeline.config import Config

    services = build(Config(database_url=url))
    queries, out = services.queries, {}
    known = {o["id"] for o in queries.organisations()}
    for org in ORGS:
        _, mix, size = org.split("-")
        if org not in known:
            seed_of = int(size) * len(ALL_MIXES) + ALL_MIXES.index(mix)
            services.commands.import_lines(history_lines(org, int(size), seed=seed_of, mix=mix))
        for month in range(1, 13):  # warm the pool with questions outside the measured ones
            queries.state(org, f"1899-{month:02d}")
        wall, cpu = [], []
        for year in random.Random(seed).sample(range(1900, 2026), samples):
            start, start_cpu = time.perf_counter(), time.thread_time()
            queries.state(org, str(year))
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
        out[org] = [statistics.median(wall), statistics.median(cpu)]
    services.close()
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", help="the other checkout's directory (required)")
    parser.add_argument("--before-url", default="sqlite:////tmp/state_ab_before.db")
    parser.add_argument("--after-url", default="sqlite:////tmp/state_ab_after.db")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60, help="cold questions per round")
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--arm", nargs=2, metavar=("URL", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        arm(args.arm[0], int(args.arm[1]), args.samples)
        return
    if not args.before:
        parser.error("--before is required")
    arms = {"before": (args.before, args.before_url), "after": (str(HERE), args.after_url)}
    rounds: dict[str, list[dict]] = {name: [] for name in arms}
    for n in range(args.rounds):
        for name, (checkout, url) in arms.items():
            command = [sys.executable, str(Path(__file__).resolve()), "--arm", url, str(100 + n)]
            command += ["--samples", str(args.samples)]
            done = subprocess.run(
                command, cwd=checkout, capture_output=True, text=True, check=False
            )
            if done.returncode:
                sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
            rounds[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(name, n, rounds[name][-1], file=sys.stderr)
    sys.path.insert(0, str(HERE))
    from bench.common import publish

    publish(report(rounds, args), args.results)


def report(rounds: dict[str, list[dict]], args: argparse.Namespace) -> str:
    """The medians over rounds per version and organisation, and the 100,000 / 1,000 ratios."""
    lines = [
        f"\n## Cold state(at), before / after in one run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"\n`python bench/state_ab.py --before {args.before} --before-url {args.before_url} "
        f"--after-url {args.after_url} --rounds {args.rounds} --samples {args.samples}`; "
        f"load average {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores). Medians "
        "over the rounds of each round's p50 (every `at` asked once).\n",
        "| version | organisation | cold p50, wall | cold p50, thread CPU |",
        "|---|---|---|---|",
    ]
    for name, runs in rounds.items():
        for org in ORGS:
            wall = statistics.median(run[org][0] for run in runs)
            cpu = statistics.median(run[org][1] for run in runs)
            lines.append(f"| {name} | {org} | {wall:.2f} ms | {cpu:.2f} ms |")
    lines.append("")
    for name, runs in rounds.items():
        for mix in MIXES:
            big, small = f"bench-{mix}-{SIZES[1]}", f"bench-{mix}-{SIZES[0]}"
            wall = [run[big][0] / run[small][0] for run in runs]
            cpu = [run[big][1] / run[small][1] for run in runs]
            lines.append(
                f"- {name}, {mix}: p50 at 100,000 / p50 at 1,000 = "
                f"{statistics.median(wall):.2f}x wall ({', '.join(f'{r:.2f}' for r in wall)} "
                f"by round), {statistics.median(cpu):.2f}x CPU (target ≤ 2x)"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
