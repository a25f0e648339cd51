"""Slow, stalled and oddly framed clients against a real `timeline serve` process: others are
still answered, stalled connections are closed, oversized bodies and unknown transfer codings
are refused with nothing stored, and a stopped server leaves nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.server import Server, cli, create_token, environment, serving

STALLS = {
    "half a header": b"GET /api/organisations HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    "half a body": (
        b"POST /api/organisations/cicopa/events HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        b'{"type": "mile'
    ),
    "half a chunked body": (
        b"POST /api/organisations/cicopa/events HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'100\r\n{"type": "mile'
    ),
    "nothing at all": b"",
}
"""What a stalled connection has sent when it stops sending."""


def _connect(server: Server) -> socket.socket:
    address = urlsplit(server.base)
    return socket.create_connection((address.hostname, address.port), timeout=30)


def _still_open(sock: socket.socket) -> bool:
    """Whether the server has neither answered on `sock` nor closed it."""
    sock.setblocking(False)
    try:
        return not sock.recv(1)  # b"": closed; bytes: an answer
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)


def _read_to_the_end(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def _status_and_problem(answer: bytes) -> tuple[int, str, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
    return int(status_line.split()[1]), headers["content-type"], json.loads(body)


def test_stalled_connections_do_not_keep_the_server_from_answering_others(tmp_path):
    # One worker with two threads: under a server that gave a thread to each connection as
    # soon as it was readable, two stalled requests would leave no thread for anyone.
    env = environment(None)
    with serving(env, tmp_path, "--workers", "1", "--threads", "2") as server:
        stalled = []
        try:
            for i in range(64):
                sock = _connect(server)
                stalled.append(sock)
                sock.sendall(list(STALLS.values())[i % len(STALLS)])
            for _ in range(3):
                assert server.get("/healthz").status == 200
                state = server.get("/api/organisations/cicopa/state?at=1998")
                assert state.status == 200 and state.json()["acronym"] == "CICOPA"
            assert all(_still_open(sock) for sock in stalled)  # waited for, not dropped
        finally:
            for sock in stalled:
                sock.close()


def test_a_connection_stalled_or_idle_past_the_timeout_is_closed(tmp_path):
    env = environment(None)
    with serving(env, tmp_path, "--timeout", "1") as server:
        stalled = {}
        for case, raw in STALLS.items():
            stalled[case] = _connect(server)
            stalled[case].sendall(raw)
        answers = {case: _read_to_the_end(sock) for case, sock in stalled.items()}
        for sock in stalled.values():
            sock.close()
        assert answers.pop("nothing at all") == b""  # closed without a word
        for case, answer in answers.items():
            status, content_type, problem = _status_and_problem(answer)
            assert (status, content_type) == (408, "application/problem+json"), case
            assert problem["status"] == 408 and "within 1 s" in problem["detail"], case
        assert server.get("/healthz").status == 200


def test_a_client_that_does_not_read_its_answers_is_dropped_after_the_timeout(tmp_path):
    # Pipelined requests, never read: once their answers fill the buffers on both sides, the
    # server waits `--timeout` for the client to read, then drops the connection, and the
    # client's sending fails. A server that kept waiting would leave it blocked instead.
    env = environment(None)
    with serving(env, tmp_path, "--workers", "1", "--threads", "2", "--timeout", "1") as server:
        request = b"GET /api/organisations/cicopa/events?limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n"
        with _connect(server) as sock, pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(10_000):  # far more answers than the buffers hold
                sock.sendall(request * 10)
        assert server.get("/healthz").status == 200


def _post_raw(server: Server, head: str, body: bytes, chunked: bool) -> tuple[int, str, dict]:
    """POST `body` after `head` (a request line and headers), in 4 KiB chunks if `chunked`."""
    if chunked:
        pieces = [body[i : i + 4096] for i in range(0, len(body), 4096)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    with _connect(server) as sock:
        # Refused before the whole body was sent, the answer is there to read all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        return _status_and_problem(_read_to_the_end(sock))


def _append_head(env: dict[str, str], cwd: Path, org: str) -> str:
    """The request line and headers of an append to `org`, with a new token, but no framing."""
    token = create_token(env, cwd, org)
    return (
        f"POST /api/organisations/{org}/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    )


def _event(name: str) -> bytes:
    return json.dumps({"type": "founded", "occurred_on": "1947", "data": {"name": name}}).encode()


def test_a_body_over_64_kib_is_refused_however_framed_and_nothing_of_it_is_stored(
    tmp_path, database_url
):
    env = environment(database_url)
    head = _append_head(env, tmp_path, "framed")
    over = _event("x" * 70_000)
    with serving(env, tmp_path) as server:
        refused = {
            "Content-Length": _post_raw(
                server, head + f"Content-Length: {len(over)}\r\n", over, chunked=False
            ),
            "chunked": _post_raw(server, head + "Transfer-Encoding: chunked\r\n", over, True),
            "chunked, 2 MiB": _post_raw(
                server, head + "Transfer-Encoding: chunked\r\n", _event("x" * 2**21), True
            ),
            "chunked, declared 2 MiB": _post_raw(
                server, head + f"Content-Length: {2**21}\r\n", over, chunked=False
            ),
        }
        stored = _post_raw(
            server, head + "Transfer-Encoding: chunked\r\n", _event("Framed"), chunked=True
        )
    for case, (status, content_type, problem) in refused.items():
        assert (status, content_type) == (413, "application/problem+json"), case
        assert problem["status"] == 413, case
    assert stored[0] == 201
    exported = [json.loads(line) for line in cli(["export"], env, tmp_path).stdout.splitlines()]
    assert [event["data"]["name"] for event in exported] == ["Framed"]


def test_a_transfer_coding_other_than_chunked_alone_is_refused_and_nothing_is_stored(
    tmp_path, database_url
):
    env = environment(database_url)
    head = _append_head(env, tmp_path, "coded")
    with serving(env, tmp_path) as server:
        answers = {
            coding: _post_raw(
                server, head + f"Transfer-Encoding: {coding}\r\n", _event(coding), chunked=True
            )
            for coding in ("gzip, chunked", "chunked, chunked", "identity", "gzip")
        }
    for coding, (status, content_type, problem) in answers.items():
        assert status in (400, 501) and content_type == "application/problem+json", coding
        assert problem["status"] == status, coding
    assert cli(["export"], env, tmp_path).stdout == ""


def _workers(server: Server) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def test_a_worker_that_dies_is_replaced_and_metrics_add_up_across_workers(tmp_path):
    env = environment(None)
    with serving(env, tmp_path, "--workers", "2") as server:
        first, second = _workers(server)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(workers := _workers(server)) < 2 or first in workers:
            assert time.monotonic() < deadline, "no worker replaced the one that died"
            time.sleep(0.1)
        assert second in workers
        for _ in range(20):  # a connection each: whichever worker takes it
            reply = server.get("/api/organisations", headers={"Connection": "close"})
            assert reply.status == 200
        metrics = server.get("/metrics").body.decode()
    assert (
        'timeline_http_requests_total{method="GET",route="/api/organisations",status="200"} 20.0'
        in metrics.splitlines()
    )


def test_a_stopped_server_leaves_no_metrics_directory_behind(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = environment(None, TMPDIR=str(temporary))
    with serving(env, tmp_path, "--workers", "2") as server:
        assert server.get("/metrics").status == 200
        assert [path.name[:17] for path in temporary.iterdir()] == ["timeline-metrics-"]
    assert server.process.returncode == 0
    assert list(temporary.iterdir()) == []


def test_a_killed_servers_metrics_directory_is_removed_when_the_next_server_starts(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = environment(None, TMPDIR=str(temporary))
    with serving(env, tmp_path, "--workers", "1") as killed:
        os.killpg(killed.process.pid, signal.SIGKILL)  # parent and worker: no time to clean up
        killed.process.wait(timeout=30)
    [left] = temporary.iterdir()
    assert left.name.startswith(f"timeline-metrics-{killed.process.pid}-")
    with serving(env, tmp_path, "--workers", "1") as server:
        assert server.get("/metrics").status == 200
        assert left not in list(temporary.iterdir())
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_closes_connections_between_requests_and_ends_the_server(tmp_path, signum):
    env = environment(None)
    with serving(env, tmp_path, "--workers", "2") as server:
        idle = _connect(server)
        server.process.send_signal(signum)
        assert server.process.wait(timeout=60) == 0
        assert _read_to_the_end(idle) == b""
        idle.close()
