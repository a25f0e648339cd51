"""The HTTP/1.1 front of a worker process: each request is read in full, under deadlines, on
an asyncio event loop before it takes one of the worker's threads.

Why a front of our own and not a WSGI server's: a thread is the scarce thing (each holds a
database connection and runs the app), so a client must never hold one while it sends slowly.
gunicorn's threaded worker hands a connection to a thread as soon as it is readable, so 24
connections that each sent half a header kept every thread waiting. waitress reads whole
requests first, but answers what it refuses itself (a bad request line, a transfer coding it
cannot decode, a body over its limit) as plain text, which no public API of it changes, and
it has no public way to stop accepting and let the requests in flight finish on SIGTERM. Here
the loop parses requests with `h11` (a small, documented HTTP/1.1 parser with no I/O of its
own) and writes answers itself, so every refusal is problem+json like the app's errors, and a
stop is graceful.

What a connection may do:
- send a request's head and body within `Limits.timeout` of its first byte; a connection
  stalled mid-request is answered 408 and closed. Before a request's first byte, a new
  connection may wait `timeout`, a kept-alive one `keepalive` (at most `timeout`): then it is
  closed.
- speak HTTP/1.x (else 400: never a 5xx, contract §3) with a head of about `Limits.max_head`
  bytes at most (431 once more is buffered without the head's end) and a body of at most
  `Limits.max_body` bytes however it is framed (else 413, without reading the rest). The app
  judges the contract's own limits (64 KiB bodies, header sizes) on what it is handed: a
  chunked body reaches it decoded, with its length as `CONTENT_LENGTH`, so it is judged as one
  sent with `Content-Length`.
- use no transfer coding but `chunked` alone (`gzip, chunked` is 501: h11 decodes no other).
- read its answer within `timeout`, or be closed.

Answers are buffered whole in the thread that runs the app, then written by the loop. The one
exception is `GET /api/stream`, which never reaches a thread: `timeline.stream` serves it on
the loop until the client goes (or the worker stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

import h11

from timeline.stream import Streams

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

RECEIVE_BYTES = 65536
"""The most bytes read from a connection at once."""

LINGER_SECONDS = 2.0
"""How long a connection whose request was refused is read (and what comes dropped) before
it is closed."""

REFUSAL_HEADERS = [
    ("Content-Type", "application/problem+json"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
"""The headers of the front's own refusals, as the app sends its errors (contract §3)."""

UNREADABLE = re.compile(r"bytearray\(b(['\"])(.*)\1\)")
"""How h11 quotes the bytes it could not read in its errors' messages."""

log = logging.getLogger("timeline.server")
access = logging.getLogger("timeline.access")


@dataclass(frozen=True)
class Limits:
    """How long the front waits for a client, and how much of a request it reads."""

    timeout: float = 60.0
    """Seconds to send a whole request from its first byte, to send the first byte of a new
    connection's first request, and to read an answer."""
    keepalive: float = 5.0
    """Seconds a kept-alive connection may wait before its next request (0: one each)."""
    keepalive_requests: int = 100
    """Requests a connection serves before it is closed."""
    max_head: int = 64 * 1024
    """Bytes of a request line and headers (checked as h11 does: on what is buffered while the
    head is incomplete, so a head read in one go may pass it by up to `RECEIVE_BYTES`)."""
    max_body: int = 1024 * 1024
    """Bytes of a request body, however framed: looser than the app's 64 KiB, which it
    refuses itself; this only stops what the app should never have to read."""
    grace: float = 30.0
    """Seconds requests in flight have to finish once the worker is told to stop."""


class Refusal(Exception):
    """A request the front answers itself, with `status` and a problem's `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Answer:
    """What the app answered: status line, headers, and the whole body."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Exchange:
    """One request on a connection, as read, and when its first byte came."""

    request: h11.Request | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # the request's, listed
    body: bytearray = field(default_factory=bytearray)
    started: float = 0.0
    answered: bool = False


def environ_for(exchange: Exchange, local: Any, peer: Any, multiprocess: bool) -> dict[str, Any]:
    """The WSGI environment of a request read in full (PEP 3333)."""
    request, body = exchange.request, bytes(exchange.body)
    assert request is not None
    target = request.target
    if not target.startswith(b"/") and b"://" in target:  # absolute form: keep the path
        target = b"/" + target.split(b"://", 1)[1].partition(b"/")[2]
    path, _, query = target.partition(b"?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": str(local[0]),
        "SERVER_PORT": str(local[1]),
        "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("ascii"),
        "REMOTE_ADDR": str(peer[0]) if peer else "",
        "REMOTE_PORT": str(peer[1]) if peer else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
    }
    framed = False
    for raw_name, raw_value in exchange.headers:
        if b"_" in raw_name:  # would pass for its dashed twin (Client_IP as Client-IP)
            continue
        name = raw_name.decode("ascii").upper().replace("-", "_")
        if name in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            framed = True
            continue
        key = name if name == "CONTENT_TYPE" else "HTTP_" + name
        value = raw_value.decode("latin-1")
        if key in environ:
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
        environ[key] = value
    if framed or body:
        environ["CONTENT_LENGTH"] = str(len(body))  # a chunked body too, decoded
    return environ


def call_app(app: WsgiApp, environ: dict[str, Any]) -> Answer:
    """Run the app on `environ` (in a worker thread) and collect its whole answer."""
    answer = Answer("500 Internal Server Error", [], b"")
    chunks: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], Any]:
        if exc_info and chunks:
            raise exc_info[1].with_traceback(exc_info[2])
        answer.status, answer.headers = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(chunk for chunk in result if chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    answer.body = b"".join(chunks)
    return answer


def keeps_alive(exchange: Exchange) -> bool:
    """Whether the client means to send another request on its connection (HTTP/1.1 without
    `Connection: close`; HTTP/1.0 connections are closed after one answer)."""
    if exchange.request is None or exchange.request.http_version != b"1.1":
        return False
    options = b",".join(value for name, value in exchange.headers if name == b"connection")
    return b"close" not in {option.strip().lower() for option in options.split(b",")}


def response(answer: Answer, head_only: bool, close: bool) -> bytes:
    """The bytes of `answer`: its status line, its headers (with a length, a date, and
    `Connection: close` if `close`) and its body (none for HEAD, 1xx, 204 and 304)."""
    status = int(answer.status[:3])
    bodyless = head_only or status < 200 or status in (204, 304)
    lines = [f"HTTP/1.1 {answer.status}\r\n"]
    named = set()
    for name, value in answer.headers:
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise ValueError(f"a line break in the header {name!r}")
        named.add(name.lower())
        lines.append(f"{name}: {value}\r\n")
    if "content-length" not in named and status >= 200 and status not in (204, 304):
        lines.append(f"Content-Length: {len(answer.body)}\r\n")
    if "date" not in named:
        lines.append(f"Date: {formatdate(usegmt=True)}\r\n")
    if close:
        lines.append("Connection: close\r\n")
    head = "".join(lines).encode("latin-1") + b"\r\n"
    return head if bodyless else head + answer.body


def problem(status: int, detail: str) -> bytes:
    """A problem details body (RFC 9457), as the app's errors are."""
    return json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        },
        ensure_ascii=False,
    ).encode("utf-8")


class Front:
    """Serves the connections of one listening socket in this process with one WSGI app."""

    def __init__(
        self,
        app: WsgiApp,
        limits: Limits,
        threads: int,
        multiprocess: bool = True,
        streams: Streams | None = None,
    ) -> None:
        self.app = app
        self.streams = streams
        self.limits = limits
        self.multiprocess = multiprocess
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request")
        self.connections: set[asyncio.Task[None]] = set()
        self.waiting: set[asyncio.Task[None]] = set()  # between requests
        self.stopping = False

    async def serve(self, sock: socket.socket) -> None:
        """Accept on `sock` until SIGTERM or SIGINT, then let requests in flight finish."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        server = await asyncio.start_server(self.connection, sock=sock)
        await stop.wait()
        server.close()  # this process' copy of the socket: the other workers still accept
        await self.drain()

    async def drain(self) -> None:
        """Close connections between requests; give the others `grace` to finish theirs."""
        self.stopping = True
        for task in list(self.waiting):
            task.cancel()
        if self.connections:
            _, late = await asyncio.wait(self.connections, timeout=self.limits.grace)
            for task in late:
                task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer the requests of one connection, one after the other.

        h11 reads each request with a parser of its own (handed what came behind the last
        one); answers are written by `response`, each whole, with its length."""
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        exchange = Exchange()
        behind = b""
        try:
            served = 0
            while True:
                conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head)
                exchange = Exchange()
                if behind:  # begun already, behind the last one (pipelined)
                    conn.receive_data(behind)
                    exchange.started = time.monotonic()
                if not await self.receive(conn, reader, writer, exchange, task, served):
                    break
                served += 1
                if self.is_stream(exchange):
                    await self.stream(reader, writer, exchange, task)
                    break
                keep = (
                    self.limits.keepalive > 0
                    and served < self.limits.keepalive_requests
                    and not self.stopping
                    and keeps_alive(exchange)
                )
                await self.answer(writer, exchange, keep)
                if not keep:
                    break
                behind = conn.trailing_data[0]
        except Refusal as refusal:
            await self.refuse(writer, exchange, refusal.status, refusal.detail)
            await self.linger(reader, writer)
        except h11.RemoteProtocolError as error:
            detail = UNREADABLE.sub(r"\2", str(error))  # h11 shows what it read as a repr
            await self.refuse(writer, exchange, error.error_status_hint, detail)
            await self.linger(reader, writer)
        except (OSError, asyncio.CancelledError):
            pass  # the client went, or the worker stops: nothing to answer
        except Exception:
            log.exception("the server failed to serve a connection")
            await self.refuse(writer, exchange, 500, "the server could not read this request")
        finally:
            self.connections.discard(task)
            self.waiting.discard(task)
            writer.close()

    async def receive(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exchange: Exchange,
        task: asyncio.Task[None],
        served: int,
    ) -> bool:
        """Read the next request into `exchange`; False if the connection ends first."""
        limits = self.limits
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if not exchange.started:
                    wait = min(limits.keepalive, limits.timeout) if served else limits.timeout
                    data = await self.first_bytes(reader, task, wait)
                    if data is None:
                        return False
                    exchange.started = time.monotonic()
                else:
                    data = await self.more_bytes(reader, exchange.started + limits.timeout)
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                exchange.request = event
                exchange.headers = list(event.headers)  # h11's are a Sequence: slow to walk
                self.check_head(exchange)
                if conn.they_are_waiting_for_100_continue:
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            elif isinstance(event, h11.Data):
                exchange.body += event.data
                if len(exchange.body) > limits.max_body:
                    raise Refusal(413, f"the body may be at most {limits.max_body} bytes")
            else:  # the request's end, or the connection's (ConnectionClosed)
                return isinstance(event, h11.EndOfMessage)

    async def first_bytes(
        self, reader: asyncio.StreamReader, task: asyncio.Task[None], wait: float
    ) -> bytes | None:
        """A request's first bytes, or None if none come within `wait` or the worker stops."""
        if self.stopping or wait <= 0:
            return None
        self.waiting.add(task)
        try:
            async with asyncio.timeout(wait):
                data = await reader.read(RECEIVE_BYTES)
        except TimeoutError:
            return None
        finally:
            self.waiting.discard(task)
        return data or None

    async def more_bytes(self, reader: asyncio.StreamReader, deadline: float) -> bytes:
        """The next bytes of a request begun, before its deadline (else 408)."""
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                return await reader.read(RECEIVE_BYTES)
        except TimeoutError:
            raise Refusal(
                408, f"the request was not sent in full within {self.limits.timeout:g} s"
            ) from None

    def check_head(self, exchange: Exchange) -> None:
        """Refuse an HTTP other than 1.x (400: no request is a 5xx, contract §3), and a
        declared body over `max_body` before reading any of it."""
        request = exchange.request
        assert request is not None
        if not request.http_version.startswith(b"1."):
            version = request.http_version.decode("ascii")
            raise Refusal(400, f"HTTP/{version} is not spoken here: HTTP/1.1 is")
        for name, value in exchange.headers:
            if name == b"content-length" and int(value) > self.limits.max_body:
                raise Refusal(413, f"the body may be at most {self.limits.max_body} bytes")

    def is_stream(self, exchange: Exchange) -> bool:
        """Whether the request is for the live stream, served here rather than by the app."""
        request = exchange.request
        assert request is not None
        return self.streams is not None and self.streams.wants(request.method, request.target)

    async def stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exchange: Exchange,
        task: asyncio.Task[None],
    ) -> None:
        """Serve the live stream on this connection until the client goes; a stop ends it
        at once, as it ends connections waiting between requests."""
        request = exchange.request
        assert request is not None and self.streams is not None
        exchange.answered = True
        self.waiting.add(task)
        try:
            status = await self.streams.serve(
                request.method, request.target, exchange.headers, reader, writer
            )
        finally:
            self.waiting.discard(task)
        access.info(
            "request",
            extra={
                "method": request.method.decode("ascii"),
                "path": request.target.partition(b"?")[0].decode("latin-1"),
                "status": status,
                "duration_ms": round((time.monotonic() - exchange.started) * 1000, 2),
                "stream": True,
            },
        )

    async def answer(self, writer: asyncio.StreamWriter, exchange: Exchange, keep: bool) -> None:
        """Have the app answer in a thread, then send its answer (closing if not `keep`)."""
        request = exchange.request
        assert request is not None
        environ = environ_for(
            exchange,
            writer.get_extra_info("sockname"),
            writer.get_extra_info("peername"),
            self.multiprocess,
        )
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self.pool, call_app, self.app, environ)
        except Exception:
            log.exception("the app failed to answer")
            raise Refusal(500, "the server could not answer this request") from None
        data = response(answer, request.method == b"HEAD", close=not keep)
        exchange.answered = True
        await self.write(writer, data)

    async def refuse(
        self, writer: asyncio.StreamWriter, exchange: Exchange, status: int, detail: str
    ) -> None:
        """Answer a request the front will not hand the app, as problem details (then the
        connection closes), and log it."""
        if exchange.answered:
            return
        request = exchange.request
        body = problem(status, detail)
        refusal = Answer(f"{status} {HTTPStatus(status).phrase}", REFUSAL_HEADERS, body)
        head_only = request is not None and request.method == b"HEAD"
        with contextlib.suppress(OSError, TimeoutError):  # the client has gone: log it all the same
            await self.write(writer, response(refusal, head_only, close=True))
        peer = writer.get_extra_info("peername")
        line = {
            "method": request.method.decode("ascii") if request else None,
            "path": request.target.partition(b"?")[0].decode("latin-1") if request else None,
            "status": status,
            "duration_ms": round(
                (time.monotonic() - (exchange.started or time.monotonic())) * 1000, 2
            ),
            "remote": peer[0] if peer else None,
            "refused_by": "server",
        }
        access.info("request", extra=line)

    async def linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """After a refusal, read and drop what the client still sends, for a while, before
        closing: a socket closed with bytes unread resets the connection, and the client
        could lose the answer before reading it."""
        dropped = 0
        with contextlib.suppress(OSError, TimeoutError):
            writer.write_eof()
            async with asyncio.timeout(min(LINGER_SECONDS, self.limits.timeout)):
                while dropped <= self.limits.max_body:
                    data = await reader.read(RECEIVE_BYTES)
                    if not data:
                        break
                    dropped += len(data)

    async def write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Send `data`; a client that does not read it within `timeout` is dropped."""
        writer.write(data)
        if writer.transport.get_write_buffer_size():  # not all sent at once: wait, not forever
            try:
                async with asyncio.timeout(self.limits.timeout):
                    await writer.drain()
            except TimeoutError:
                writer.transport.abort()  # close() would wait to send what is not being read
                raise


def serve(sock: socket.socket, app: WsgiApp, limits: Limits, threads: int) -> None:
    """Serve `app` on the listening `sock` in this process until SIGTERM or SIGINT."""
    streams = Streams(timeout=limits.timeout)
    asyncio.run(Front(app, limits, threads, streams=streams).serve(sock))
