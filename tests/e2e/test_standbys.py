"""Reads from a hot standby, for real: a primary and a standby of the test's own (see
`bench.replication`), `timeline serve` on both, clients that write and read at once while
the standby is stopped and started again, and while its replay is paused.

Every client reads its own writes: a read that sends back a write's `Timeline-Position` never
shows a state older than that write, whatever the standby is doing.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from api.app import create_app
from bench.replication import Replication, Server, replication
from tests.e2e.server import Reply, create_token, environment, serving
from tests.e2e.server import Server as Timeline
from timeline.bootstrap import build
from timeline.config import Config

pytestmark = [pytest.mark.slow, pytest.mark.standby]

MAX_LAG = 4.0
"""The lag limit the service is given here (seconds): short, so that the test is too."""


@pytest.fixture(scope="session")
def cluster() -> Iterator[Replication]:
    """A primary and one hot standby of the suite's own, removed at the end."""
    with replication(standbys=1) as made:
        made.primary.execute("CREATE DATABASE timeline")
        yield made


@dataclass
class Service:
    """`timeline serve` on the primary, reading from the standby."""

    server: Timeline
    token: str
    standby: Server
    primary: Server

    @property
    def standby_name(self) -> str:
        return f"127.0.0.1:{self.standby.port}/timeline"

    def append(self, org: str, value: int) -> Reply:
        body = {
            "type": "figures_reported",
            "occurred_on": "2020",
            "data": {"figures": {"n": value}},
        }
        return self.server.post(
            f"/api/organisations/{org}/events",
            body,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def figure(self, org: str, headers: dict[str, str] | None = None) -> tuple[int, int | None]:
        """The status of a state read, and the figure `n` it shows."""
        reply = self.server.get(f"/api/organisations/{org}/state", headers=headers or {})
        if reply.status != 200:
            return reply.status, None
        return 200, reply.json()["figures"]["n"]["value"]

    def standby_state(self) -> str:
        health = self.server.get("/healthz")
        assert health.status == 200
        (standby,) = health.json()["standbys"]
        assert standby["name"] == self.standby_name
        return str(standby["state"])

    def reads_from_standby(self) -> float:
        """How many read requests the standby has answered (every worker, from /metrics)."""
        text = self.server.get("/metrics").body.decode()
        pattern = (
            rf'^timeline_read_requests_total\{{source="{re.escape(self.standby_name)}"\}} (\S+)$'
        )
        found = re.search(pattern, text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def wait_for_state(self, wanted: str, within: float) -> float:
        """Seconds until both workers' /healthz shows the standby `wanted`."""
        start = time.monotonic()
        while time.monotonic() - start < within:
            if all(self.standby_state() == wanted for _ in range(4)):
                return time.monotonic() - start
            time.sleep(0.2)
        raise AssertionError(f"the standby was not {wanted} within {within} s")


def header(reply: Reply, name: str) -> str | None:
    return next((v for k, v in reply.headers.items() if k.lower() == name.lower()), None)


@pytest.fixture(scope="module")
def service(cluster: Replication, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    cwd: Path = tmp_path_factory.mktemp("standby-serve")
    standby = cluster.standbys[0]
    env = environment(
        cluster.primary.url("timeline"),
        TIMELINE_READ_DATABASE_URLS=standby.url("timeline"),
        TIMELINE_STANDBY_MAX_LAG=str(MAX_LAG),
        TIMELINE_STANDBY_CHECK_INTERVAL="0.5",
    )
    token = create_token(env, cwd, "standby-test")
    with serving(env, cwd, "--workers", "2", "--no-seed") as server:
        made = Service(server, token, standby, cluster.primary)
        made.wait_for_state("up", within=15)
        yield made


@dataclass
class Clients:
    """Clients that each append to their own organisation and read the state back with the
    append's position, until stopped; every wrong answer is kept."""

    service: Service
    prefix: str
    problems: list[str] = field(default_factory=list)
    rounds: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, org: str, limit: int | None = None) -> None:
        value = 0
        while not self.stop.is_set() and (limit is None or value < limit):
            value += 1
            written = self.service.append(org, value)
            position = header(written, "Timeline-Position")
            if written.status != 201 or position is None:
                self.problem(f"{org} append {value}: {written.status}, position {position}")
                return
            status, seen = self.service.figure(org, {"Timeline-Position": position})
            if status != 200 or seen != value:
                self.problem(f"{org} wrote {value} at {position}, read {status} {seen}")
            with self.lock:
                self.rounds += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def start(self, count: int, limit: int | None = None) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.run, args=(f"{self.prefix}-{n}", limit), daemon=True)
            for n in range(count)
        ]
        for thread in threads:
            thread.start()
        return threads


def test_every_write_names_its_position_and_every_client_reads_its_own_writes(service):
    service.wait_for_state("up", within=15)
    before = service.reads_from_standby()
    clients = Clients(service, "concurrent")
    for thread in clients.start(count=4, limit=15):
        thread.join(timeout=120)
    assert clients.problems == []
    assert clients.rounds == 60
    # The reads were the standby's to answer (it keeps up here), not all the primary's.
    assert service.reads_from_standby() - before >= 30


def test_a_malformed_position_is_400_and_one_beyond_the_primary_is_answered_by_it(service):
    assert service.append("beyond", 1).status == 201
    bad = service.server.get("/api/organisations/beyond/state", headers={"Timeline-Position": "0/"})
    assert bad.status == 400
    assert bad.json()["type"] == "/api/problems/invalid-position"
    started = time.monotonic()
    assert service.figure("beyond", {"Timeline-Position": "FFFFFFFF/FFFFFFFF"}) == (200, 1)
    assert time.monotonic() - started < 5  # the primary answers at once: nothing to wait for


def test_a_paused_standby_is_read_stale_only_without_a_position_then_skipped(service):
    assert service.append("paused", 1).status == 201
    service.wait_for_state("up", within=10)
    service.standby.execute("SELECT pg_wal_replay_pause()")
    try:
        written = service.append("paused", 2)
        position = header(written, "Timeline-Position")
        assert written.status == 201 and position
        cookie = header(written, "Set-Cookie")
        assert cookie and cookie.startswith(f"timeline_position={position};")
        # Without a position, a standby that lags (less than the limit) may answer: it does.
        assert service.figure("paused") == (200, 1)
        # With the position, or the session's cookie, the client reads its write: from the
        # primary, since the standby's replay is paused (at most 5 s later).
        started = time.monotonic()
        assert service.figure("paused", {"Timeline-Position": position}) == (200, 2)
        assert service.figure("paused", {"Cookie": f"timeline_position={position}"}) == (200, 2)
        assert time.monotonic() - started < 2 * 5 + 2
        # Past the limit, the standby is lagging: skipped by every read.
        service.wait_for_state("lagging", within=MAX_LAG + 10)
        metrics = service.server.get("/metrics").body.decode()
        assert f'timeline_standby_up{{standby="{service.standby_name}"}} 1.0' in metrics
        lag = re.search(
            rf'timeline_standby_replay_lag_seconds\{{standby="{re.escape(service.standby_name)}"\}} (\S+)',
            metrics,
        )
        assert lag and float(lag.group(1)) > MAX_LAG
        assert service.figure("paused") == (200, 2)
    finally:
        service.standby.execute("SELECT pg_wal_replay_resume()")
    service.wait_for_state("up", within=10)
    assert service.figure("paused") == (200, 2)


def test_a_standby_stopped_and_started_mid_run_loses_no_read(service):
    service.wait_for_state("up", within=15)
    clients = Clients(service, "restart")
    threads = clients.start(count=3)
    try:
        time.sleep(1)
        service.standby.stop()
        assert service.wait_for_state("down", within=10) <= 10
        metrics = service.server.get("/metrics").body.decode()
        assert f'timeline_standby_up{{standby="{service.standby_name}"}} 0.0' in metrics
        time.sleep(1)  # clients keep writing and reading, from the primary
        service.standby.start()
        service.wait_for_state("up", within=15)
        before = service.reads_from_standby()
        time.sleep(2)
        assert service.reads_from_standby() > before  # reads go to the standby again
    finally:
        clients.stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert clients.problems == []
    assert clients.rounds > 10


def test_a_read_on_a_standby_that_has_just_stopped_is_answered_by_the_primary(service):
    """In process: the standby stops between two checks; the read that finds it gone is
    answered again from the primary, and the standby is down from then on."""
    assert service.append("failover", 1).status == 201
    service.wait_for_state("up", within=15)
    config = Config(
        database_url=service.primary.url("timeline"),
        read_database_urls=(service.standby.url("timeline"),),
        standby_check_interval=5,
    )
    services = build(config, create=False)
    try:
        client = create_app(services).test_client()  # checks the standby once, now
        reads = services.reads
        assert [status.state for status in reads.statuses()] == ["up"]
        assert client.get("/api/organisations/failover/state").status_code == 200
        service.standby.stop()
        reply = client.get("/api/organisations/failover/state")
        assert reply.status_code == 200 and reply.json["figures"]["n"]["value"] == 1
        assert [status.state for status in reads.statuses()] == ["down"]
    finally:
        services.close()
        service.standby.start()
    service.wait_for_state("up", within=15)
