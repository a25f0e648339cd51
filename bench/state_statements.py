"""Where does a state read spend its time? Run by hand: `python bench/state_statements.py URL`.

Builds (once, in the database at URL) the 1,000- and 100,000-event organisations of
bench/state_at.py, then prints the median time of each read-model statement on a raw driver
connection for 35 years, and the mean time of `Queries.state` through the application.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import driver_connection
from bench.state_at import history_lines
from projections import queries as sql
from projections.readmodel import driver_sql
from timeline.bootstrap import build
from timeline.config import Config

SIZES = (1000, 100_000)


def raw_runner(url: str):
    dialect, conn = driver_connection(url)
    if dialect == "sqlite":
        return lambda statement, params: conn.execute(statement, params).fetchall()
    return lambda statement, params: conn.execute(
        driver_sql(statement, dialect), params, prepare=True
    ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "url",
        help="SQLAlchemy URL of a database to build the organisations in (e.g. sqlite:///x.db)",
    )
    url = parser.parse_args().url
    services = build(Config(database_url=url))
    known = {o["id"] for o in services.queries.organisations()}
    for size in SIZES:
        if f"bench-{size}" not in known:
            services.commands.import_lines(history_lines(f"bench-{size}", size, seed=size))
    run = raw_runner(url)
    for size in SIZES:
        org = f"bench-{size}"
        for name, statement in sql.state_sql(sql.Asked(date(2000, 12, 31))).items():
            for year in range(1950, 2020, 2):  # warm this connection's page cache first
                run(statement, sql.Asked(date(year, 12, 31)).params(org=org))
            times = []
            for year in range(1950, 2020, 2):
                params = sql.Asked(date(year, 12, 31)).params(org=org)
                start = time.perf_counter()
                run(statement, params)
                times.append((time.perf_counter() - start) * 1000)
            print(
                f"{org:>14} {name:<10} {statistics.median(times):7.3f} ms (median of {len(times)})"
            )
        years = [str(random.Random(size).randint(1900, 2025)) for _ in range(400)]
        for year in years[:40]:
            services.queries.state(org, year)
        start = time.perf_counter()
        for year in years:
            services.queries.state(org, year)
        mean = (time.perf_counter() - start) / len(years) * 1000
        print(f"{org:>14} state via the application: {mean:.2f} ms (mean of {len(years)})")
    services.close()


if __name__ == "__main__":
    main()
