"""What checking a bearer token costs per request, on an SQLite file and on PostgreSQL.

Prints the time of one look-up in the token table (what every request would pay without the
service's one-second memory of verified tokens) and of one `Tokens.authenticate` as requests
call it, in microseconds, the best of three runs.

    python bench/token_check.py [--postgres URL] [--calls N]
"""

from __future__ import annotations

import argparse
import tempfile
import timeit

from bench.common import fresh_postgres
from timeline.bootstrap import build
from timeline.config import Config


def measure(url: str, calls: int) -> tuple[float, float]:
    """Microseconds per database look-up and per authenticate call."""
    services = build(Config(database_url=url))
    try:
        tokens = services.tokens
        token = tokens.create("bench")
        tokens.authenticate(token)
        look_up = min(timeit.repeat(lambda: tokens._check(token), number=calls, repeat=3))
        cached = min(timeit.repeat(lambda: tokens.authenticate(token), number=calls, repeat=3))
    finally:
        services.close()
    return look_up / calls * 1e6, cached / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = {"sqlite": f"sqlite:///{folder}/timeline.db"}
        url, drop = fresh_postgres(args.postgres, "tl_bench")
        urls["postgres"] = url
        try:
            for backend, database in urls.items():
                look_up, cached = measure(database, args.calls)
                print(f"{backend}: look-up {look_up:.1f} us, authenticate {cached:.1f} us")
        finally:
            drop()


if __name__ == "__main__":
    main()
