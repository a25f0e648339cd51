"""The live stream through real server processes: every event once, in recording order, to
every open stream; resume with Last-Event-ID or ?since=; two servers on one PostgreSQL
database; a client that stops reading is disconnected."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
import uuid
from urllib.parse import urlparse

import pytest

from tests.e2e.server import cli, create_token, environment, serving

pytestmark = pytest.mark.slow


class Listener:
    """A Server-Sent Events client on a connection of its own, read by a thread."""

    def __init__(self, base: str, path: str, headers: dict | None = None, rcvbuf: int = 0):
        target = urlparse(base)
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((target.hostname, target.port))
        lines = [f"GET {path} HTTP/1.1", f"Host: {target.netloc}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers = {}
        while (line := self.file.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            self.headers[name.lower()] = value.strip()
        self.messages: queue.Queue = queue.Queue()
        self.ended = threading.Event()
        self.reading: threading.Thread | None = None
        self.comments = 0

    def listen(self) -> Listener:
        self.reading = threading.Thread(target=self._read, daemon=True)
        self.reading.start()
        return self

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.comments += 1
                elif line == "":
                    if "data" in fields:
                        self.messages.put(fields)
                    fields = {}
                else:
                    name, _, value = line.partition(": ")
                    fields[name] = value
        except (OSError, ValueError):  # closed by the server, or by the test
            pass
        self.ended.set()

    def take(self, count: int, timeout: float = 15) -> list[dict]:
        taken = []
        for _ in range(count):
            fields = self.messages.get(timeout=timeout)
            position, kind = int(fields["id"]), fields["event"]
            taken.append({"position": position, "kind": kind, "event": json.loads(fields["data"])})
        return taken

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the reading thread: it holds the file's lock
            self.sock.shutdown(socket.SHUT_RDWR)
        if self.reading is not None:
            self.reading.join(5)
        self.file.close()
        self.sock.close()


@pytest.fixture
def opened():
    """Opens listeners, and closes them all at the end of the test."""
    made: list[Listener] = []

    def open_listener(*args, **kwargs) -> Listener:
        made.append(Listener(*args, **kwargs))
        return made[-1]

    yield open_listener
    for listener in made:
        listener.close()


def append(server, token, org="alpha", headline="News", **more) -> dict:
    reply = server.post(
        f"/api/organisations/{org}/events",
        {"type": "milestone", "occurred_on": "2020", "data": {"headline": headline}, **more},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status == 201, reply.body
    return reply.json()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stream.db'}"
    return request.getfixturevalue("postgres_url")


def headlines(messages: list[dict]) -> list[str]:
    return [m["event"]["data"]["headline"] for m in messages]


def test_a_stream_sends_each_new_event_once_in_order_and_resumes_after_a_disconnect(
    tmp_path, url, opened
):
    env = environment(url)
    token = create_token(env, tmp_path, "streamer")
    with serving(env, tmp_path) as server:
        first = opened(server.base, "/api/stream").listen()
        beta = opened(server.base, "/api/stream?org=beta").listen()
        assert first.status == 200
        assert first.headers["content-type"].startswith("text/event-stream")
        sent = [append(server, token, headline=f"News {n}") for n in range(3)]
        sent.append(append(server, token, org="beta", headline="Beta"))
        got = first.take(4)
        positions = [m["position"] for m in got]
        assert positions == sorted(set(positions))
        assert [m["kind"] for m in got] == ["recorded"] * 4
        assert [m["event"] for m in got] == sent
        assert headlines(beta.take(1)) == ["Beta"]
        first.close()
        missed = [append(server, token, headline=f"Missed {n}") for n in range(3)]
        resumed = opened(
            server.base, "/api/stream", headers={"Last-Event-ID": str(positions[-1])}
        ).listen()
        assert [m["event"] for m in resumed.take(3)] == missed
        later = append(server, token, headline="Later")
        assert [m["event"] for m in resumed.take(1)] == [later]
        since = opened(server.base, f"/api/stream?since={positions[0]}&org=alpha").listen()
        assert headlines(since.take(6)) == [
            "News 1",
            "News 2",
            "Missed 0",
            "Missed 1",
            "Missed 2",
            "Later",
        ]
        for listener in (resumed, since, beta):
            with pytest.raises(queue.Empty):
                listener.take(1, timeout=1)
        assert opened(server.base, "/api/stream?since=yesterday").status == 422


@pytest.mark.postgres
def test_two_servers_on_one_postgres_database_each_stream_every_event_appended_through_either(
    tmp_path, postgres_url, opened
):
    env = environment(postgres_url)
    token = create_token(env, tmp_path, "two servers")
    with (
        serving(env, tmp_path, log=tmp_path / "a.log") as one,
        serving(env, tmp_path, log=tmp_path / "b.log") as two,
    ):
        listeners = [opened(server.base, "/api/stream").listen() for server in (one, two, one)]
        sent = [append((one, two)[n % 2], token, headline=f"Via {n % 2} #{n}") for n in range(10)]
        for listener in listeners:
            got = listener.take(10)
            assert [m["event"] for m in got] == sent
            assert [m["position"] for m in got] == sorted({m["position"] for m in got})
            with pytest.raises(queue.Empty):
                listener.take(1, timeout=0.5)


def test_a_client_that_stops_reading_is_disconnected_and_the_others_get_everything(
    tmp_path, opened
):
    env = environment(
        f"sqlite:///{tmp_path / 'stalled.db'}",
        TIMELINE_STREAM_BUFFER="200",
        TIMELINE_STREAM_HEARTBEAT="0.3",
    )
    note = "A long note that makes each message weigh about a kilobyte. " * 14
    lines = [
        json.dumps(
            {
                "id": str(uuid.uuid4()),
                "organisation": "alpha",
                "type": "milestone",
                "occurred_on": "2020",
                "data": {"headline": f"Bulk {n}"},
                "note": note,
            }
        )
        for n in range(600)
    ]
    (tmp_path / "bulk.jsonl").write_text("\n".join(lines) + "\n")
    with serving(env, tmp_path, "--workers", "1") as server:
        reader = opened(server.base, "/api/stream").listen()
        stalled = opened(server.base, "/api/stream", rcvbuf=2048)  # never read until the end
        time.sleep(1)
        assert reader.comments >= 1  # the heartbeat, while nothing happens
        imported = cli(["import", str(tmp_path / "bulk.jsonl")], env, tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert headlines(reader.take(600)) == [f"Bulk {n}" for n in range(600)]
        stalled.listen()
        assert stalled.ended.wait(15), "the stalled stream is still open"
        received = []
        while not stalled.messages.empty():
            received.append(stalled.messages.get())
        assert len(received) < 600
        assert [int(m["id"]) for m in received] == sorted(int(m["id"]) for m in received)
