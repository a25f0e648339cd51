"""The live stream of recorded events (`GET /api/stream`, Server-Sent Events), served on the
front's event loop, so that a stream open for hours holds no request thread.

One `Follower` per server process reads the library's notification log (on both databases,
by polling `select_notifications` from the last position it read, a few times a second) and
keeps the latest `Config.stream_buffer` messages in memory, shared by every stream of the
process. Each stream (`Stream`) holds only its position in the log: it sends what the buffer
holds after it, then waits for news, with a comment line after `Config.stream_heartbeat`
seconds of silence. A stream that starts behind the buffer (`Last-Event-ID` or `?since=` far
back) first reads the log itself, in batches, until the buffer covers it. A stream whose
client reads so slowly that the buffer no longer holds its next message is disconnected: its
memory is its socket's buffers and its place, nothing more. The documented way back is to
reconnect with its last `id`.

Every process reads the whole log, so an event recorded by any process on the database
reaches every stream; positions are the log's notification ids, which the writers' turn
(`timeline.persistence.WriterTurns`) makes visible in order, so a stream sends each event
once, in recording order.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

import orjson

from events.organisation import OrganisationEvent
from events.validation import is_slug
from projections.readmodel import stored_event_json
from timeline.application import Timeline
from timeline.config import Config
from timeline.errors import InvalidArguments

log = logging.getLogger("timeline.stream")

PATH = b"/api/stream"
POLL = 0.2
"""Seconds between two reads of the log's new notifications."""
RETRY_MS = 1000
"""How soon a browser's EventSource reconnects after the stream ends."""
SEND_BUFFER = 32 * 1024
"""The kernel's send buffer of a stream's socket: a stalled client holds no more of it."""
BATCH = 500
"""The most notifications read from the log at once."""
POSITION = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Message:
    """One event as a stream sends it: its log position, organisation, and SSE bytes."""

    position: int
    organisation: str
    data: bytes


def message_for(position: int, event: OrganisationEvent) -> Message:
    """The SSE message of an event recorded at `position`: `id`, `event: recorded`, `data`."""
    body = orjson.dumps(stored_event_json(event))
    data = b"id: %d\nevent: recorded\ndata: %s\n\n" % (position, body)
    return Message(position, event.organisation, data)


class LogReader:
    """Reads the application's notification log (blocking: run it in a thread)."""

    def __init__(self, app: Timeline) -> None:
        self.app = app

    def position(self) -> int:
        """The position of the latest event recorded (0 before the first)."""
        return self.app.recorder.max_notification_id() or 0

    def read(self, start: int, limit: int, stop: int | None = None) -> list[Message]:
        """Up to `limit` messages from position `start` on (to `stop`), in recording order."""
        found = []
        for notification in self.app.recorder.select_notifications(start, limit, stop=stop):
            event = self.app.mapper.to_domain_event(notification)
            if isinstance(event, OrganisationEvent):
                found.append(message_for(notification.id, event))
        return found


@dataclass(frozen=True)
class StreamRequest:
    """Where a stream starts (None: from now on) and which organisation it follows."""

    since: int | None = None
    organisation: str | None = None


def parse_request(query: str, last_event_id: str | None = None) -> StreamRequest:
    """The stream asked for by a query string and a `Last-Event-ID` header (which wins over
    `since`: a browser reconnecting sends it with the URL it first opened)."""
    args = parse_qs(query, keep_blank_values=True)
    errors: dict[str, str] = {}
    since: int | None = None
    raw = last_event_id if last_event_id not in (None, "") else (args.get("since") or [""])[-1]
    if raw:
        if POSITION.fullmatch(raw.strip()):
            since = int(raw.strip())
        else:
            errors["since"] = "must be a recording position: a stream message's id"
    organisation = (args.get("org") or [""])[-1] or None
    if organisation is not None and not is_slug(organisation):
        errors["org"] = "must be an organisation id"
    if errors:
        raise InvalidArguments(errors)
    return StreamRequest(since, organisation)


@dataclass(eq=False)
class Stream:
    """One client's stream: its place in the log, its filter, and its connection."""

    writer: asyncio.StreamWriter
    organisation: str | None
    last: int
    timeout: float
    dropped: bool = False

    def drop(self) -> None:
        """Disconnect a client that fell behind the buffer (it reconnects with its last id)."""
        self.dropped = True
        self.writer.transport.abort()

    async def send(self, message: Message) -> None:
        """Send one message (once: nothing at or before the last one sent)."""
        if message.position <= self.last:
            return
        if self.organisation is None or message.organisation == self.organisation:
            self.writer.write(message.data)
        self.last = message.position
        if self.writer.transport.get_write_buffer_size() > SEND_BUFFER:
            async with asyncio.timeout(self.timeout):
                await self.writer.drain()

    async def comment(self) -> None:
        """A comment line, which keeps the connection open through proxies."""
        self.writer.write(b": keep-alive\n\n")
        async with asyncio.timeout(self.timeout):
            await self.writer.drain()


@dataclass(eq=False)
class Follower:
    """Reads the log for every stream of this process and keeps its latest messages."""

    reader: LogReader
    size: int
    heartbeat: float = 10.0
    """Seconds of silence after which a stream sends a comment line (the contract: <= 15)."""
    poll: float = POLL
    position: int = 0
    floor: int = 0
    """The buffer holds every message after this position (up to `position`)."""
    positions: list[int] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    live: set[Stream] = field(default_factory=set)
    news: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def batch(self) -> int:
        """How many notifications to read at once: never more than half the buffer."""
        return max(1, min(BATCH, self.size // 2))

    async def start(self) -> None:
        """Start following the log from its current end (once per process)."""
        if self.task is None:
            self.position = self.floor = await asyncio.to_thread(self.reader.position)
            self.task = asyncio.create_task(self.follow())

    async def follow(self) -> None:
        """Read what the log gained, `poll` seconds apart, for as long as the process runs."""
        while True:
            await asyncio.sleep(self.poll)
            try:
                found = await asyncio.to_thread(self.reader.read, self.position + 1, self.batch)
            except Exception:  # the database went away: streams wait, and it is tried again
                log.exception("the stream could not read the event log")
                await asyncio.sleep(1.0)
                continue
            if found:
                self.add(found)

    def add(self, found: Sequence[Message]) -> None:
        """Keep messages just read, wake the streams, and drop those left behind."""
        self.messages += found
        self.positions += [message.position for message in found]
        self.position = found[-1].position
        excess = len(self.messages) - self.size
        if excess > 0:
            self.floor = self.positions[excess - 1]
            del self.messages[:excess], self.positions[:excess]
        news, self.news = self.news, asyncio.Event()
        news.set()
        for stream in [s for s in self.live if s.last < self.floor]:
            self.live.discard(stream)
            stream.drop()

    def after(self, last: int) -> list[Message] | None:
        """The messages after position `last`, or None if the buffer no longer holds them."""
        if last < self.floor:
            return None
        return self.messages[bisect.bisect_right(self.positions, last) :]

    async def pump(self, stream: Stream, gone: asyncio.Future[bytes]) -> None:
        """Send the stream everything after its place, then each new message, until the
        client goes or is dropped."""
        try:
            while not gone.done() and not stream.dropped:
                pending = self.after(stream.last)
                if pending is None:  # behind the buffer: read the log itself up to it
                    self.live.discard(stream)
                    await self.catch_up(stream)
                    continue
                self.live.add(stream)
                for message in pending:
                    await stream.send(message)
                if not pending:
                    await self.wait(stream, gone)
        finally:
            self.live.discard(stream)

    async def catch_up(self, stream: Stream) -> None:
        """Send a stream that starts behind the buffer what the log holds up to the buffer."""
        floor = self.floor
        found = await asyncio.to_thread(self.reader.read, stream.last + 1, self.batch, floor)
        for message in found:
            await stream.send(message)
        if len(found) < self.batch:  # the log has nothing more up to the floor
            stream.last = max(stream.last, floor)

    async def wait(self, stream: Stream, gone: asyncio.Future[bytes]) -> None:
        """Wait for news, sending a comment line after `heartbeat` seconds without any."""
        news = asyncio.ensure_future(self.news.wait())
        waiting: set[asyncio.Future[Any]] = {news, gone}
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=self.heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            news.cancel()
        if not done:
            await stream.comment()


STREAM_HEADERS = (
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store"),
    ("X-Accel-Buffering", "no"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Connection", "close"),
)
"""A stream's headers: it lasts until the connection closes (no length, no chunks)."""


class Streams:
    """What the front hands `GET /api/stream` to: the process' follower, built on first use."""

    def __init__(self, config: Config | None = None, timeout: float = 60.0) -> None:
        self.config = config
        self.timeout = timeout
        self.follower: Follower | None = None
        self.building = asyncio.Lock()

    @staticmethod
    def wants(method: bytes, target: bytes) -> bool:
        """Whether a request is for the stream (other methods go to the app: 405)."""
        return method in (b"GET", b"HEAD") and target.partition(b"?")[0] == PATH

    async def ready(self) -> Follower:
        """The follower, built and started on the first stream of the process."""
        async with self.building:
            if self.follower is None:
                config = self.config or Config.from_env()
                app = await asyncio.to_thread(Timeline, config)
                follower = Follower(LogReader(app), config.stream_buffer, config.stream_heartbeat)
                await follower.start()
                self.follower = follower
        return self.follower

    async def serve(
        self,
        method: bytes,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> int:
        """Serve one stream until its client goes; the status answered."""
        last_event_id = next((v for n, v in headers if n == b"last-event-id"), None)
        query = target.partition(b"?")[2].decode("latin-1")
        try:
            asked = parse_request(query, last_event_id.decode("latin-1") if last_event_id else None)
        except InvalidArguments as error:
            writer.write(refusal(error.errors))
            await writer.drain()
            return 422
        follower = await self.ready()
        writer.write(head())
        if method == b"HEAD":
            await writer.drain()
            return 200
        writer.write(b"retry: %d\n\n" % RETRY_MS)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        start = follower.position if asked.since is None else asked.since
        stream = Stream(writer, asked.organisation, start, self.timeout)
        gone = asyncio.ensure_future(reader.read(1))  # a client says nothing more: b"" at its end
        try:
            await follower.pump(stream, gone)
        except (OSError, TimeoutError):
            pass  # the client went, or stopped reading
        finally:
            gone.cancel()
        return 200


def head() -> bytes:
    """The head of a stream's response."""
    lines = ["HTTP/1.1 200 OK", *(f"{name}: {value}" for name, value in STREAM_HEADERS)]
    lines.append(f"Date: {formatdate(usegmt=True)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def refusal(errors: dict[str, str]) -> bytes:
    """A 422 problem+json answer naming the bad parameters, as the app's are."""
    body = orjson.dumps(
        {
            "type": "/api/problems/invalid-parameters",
            "title": "A parameter is not valid",
            "status": 422,
            "detail": "; ".join(f"{name}: {message}" for name, message in errors.items()),
            "instance": PATH.decode(),
            "errors": errors,
        }
    )
    head = [
        "HTTP/1.1 422 Unprocessable Content",
        "Content-Type: application/problem+json",
        f"Content-Length: {len(body)}",
        "X-Content-Type-Options: nosniff",
        "Referrer-Policy: no-referrer",
        "Connection: close",
        f"Date: {formatdate(usegmt=True)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def stream_lines(messages: Sequence[Message], organisation: str | None) -> bytes:
    """A finite stream: `retry`, then these messages (those of `organisation`, if given)."""
    chosen = [m.data for m in messages if organisation is None or m.organisation == organisation]
    return b"retry: %d\n\n" % RETRY_MS + b"".join(chosen)
