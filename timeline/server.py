"""Running the web app under gunicorn, each worker building its own services after the fork.

The app is named by its import string so that `timeline/` never imports `api/`.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import shutil
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import gunicorn.util
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from timeline.logs import logging_config

WSGI_FACTORY = "api.wsgi:create_app"

LOGGING = logging_config()
"""Every log line goes to standard error as JSON."""


class AppLogsRequests(Logger):  # type: ignore[misc]
    """gunicorn's logger without its access line: the app logs each request itself, as JSON
    with its request id, and gunicorn's line would say the same again without it."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Nothing: see `api.observability`."""


def write_problem(sock: Any, status: int, reason: str, detail: str) -> None:
    """gunicorn's own refusal of a request it could not read, as problem details (RFC 9457)
    like every other error of the service, where gunicorn would send an HTML page."""
    detail = detail or "the server could not answer this request"  # gunicorn gives a 500 none
    body = json.dumps(
        {"type": "about:blank", "title": reason, "status": status, "detail": detail},
        ensure_ascii=False,
    ).encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


LINGER_SECONDS = 0.002
"""How long a thread that has answered on a kept-alive connection waits there for the
client's next request before handing the connection back to its worker's poller."""
LINGER_REQUESTS = 16
"""The most requests of one connection a thread answers in a row before handing it back."""


class TimelineWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker (gthread), with two changes.

    Refusals of requests it cannot parse (a bad request line, oversized headers: the app never
    sees them) are problem+json, not HTML. gunicorn writes those answers through
    `gunicorn.util.write_error`, called by name from `Worker.handle_error` and nowhere else;
    each worker process of ours answers with `write_problem` instead.

    A thread lingers on a kept-alive connection. gthread hands every connection back to the
    worker's main thread after each answer: the main thread is woken to watch it again, woken
    once more when the next request arrives, and hands it to a pool thread through the
    executor's queue. Those are three thread wake-ups per request, and each one waits for a
    core. Here the thread that answered waits up to `LINGER_SECONDS` for the same client's
    next request and answers it itself. It does so only while no other connection waits for a
    thread, and for at most `LINGER_REQUESTS` requests in a row. A client slower than that,
    and every connection of a stopping worker, goes back to the poller as before. A/B runs
    are in bench/RESULTS.md (2026-12-02).
    """

    def init_process(self) -> None:
        gunicorn.util.write_error = write_problem
        self._queued = 0  # connections handed to the thread pool that no thread has taken yet
        self._queued_lock = threading.Lock()
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        """Hand `conn` to the thread pool (on the main thread), counting it as waiting."""
        with self._queued_lock:
            self._queued += 1
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        """Answer the request on `conn`, then, while `_next_request_comes` says so, the
        client's next ones (in a pool thread). The result is gthread's for the last answer."""
        with self._queued_lock:
            self._queued -= 1
        result = super().handle(conn)
        answered = 1
        while result is True and answered < LINGER_REQUESTS and self._next_request_comes(conn):
            result = super().handle(conn)
            answered += 1
        return result

    def _next_request_comes(self, conn: Any) -> bool:
        """Whether the client's next request on `conn` is here or arrives within the linger,
        with the worker running and no other connection waiting for a thread (before the
        linger, and again after it: one that came meanwhile goes first)."""
        if not self.alive or self._others_wait():
            return False
        if conn.parser.unreader.buf.getvalue():  # read already, behind the last request
            return True
        poll = select.poll()
        try:
            poll.register(conn.sock, select.POLLIN)
            arrived = bool(poll.poll(LINGER_SECONDS * 1000))
        except (OSError, ValueError):  # not pollable: gthread's own path deals with it
            return False
        return arrived and self.alive and not self._others_wait()

    def _others_wait(self) -> bool:
        """Whether a connection handed to the thread pool waits for a thread."""
        with self._queued_lock:
            return self._queued > 0


def load_wsgi_app(target: str = WSGI_FACTORY) -> Callable[..., Any]:
    """Import `module:factory` and call the factory."""
    module_name, _, factory_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    app: Callable[..., Any] = factory()
    return app


class TimelineServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured in code: no config file, no preloading before the fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Hand gunicorn our settings."""
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Callable[..., Any]:
        """Build the WSGI app in the worker."""
        return load_wsgi_app()


def _child_exit(_server: Any, worker: Any) -> None:
    """Let Prometheus' multiprocess files forget a worker that has gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def prepare_metrics_directory() -> None:
    """Give the workers a fresh directory to add their metrics up in (before they start)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = directory or tempfile.mkdtemp(prefix="timeline-metrics-")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


class RequestsPerConnection:
    """gunicorn's `pre_request` hook: close a kept-alive connection after its `limit`th
    request (as nginx's `keepalive_requests`).

    Each worker keeps the connections it accepted; a client's next connection goes to whichever
    worker takes it first, the least busy one. Without a limit, eight clients' connections could
    all stay with one worker while the other idled."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, _worker: Any, request: Any) -> None:
        if request.req_number >= self.limit:
            request.must_close = True  # answered with "Connection: close", then closed


def run(
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    keepalive: int,
    keepalive_requests: int,
) -> None:
    """Serve until stopped; SIGTERM lets requests in flight finish first."""
    TimelineServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": f"{__name__}.TimelineWorker",  # gthread's: see there
            "preload_app": False,
            "graceful_timeout": 30,
            "timeout": 60,
            # Idle connections stay open `keepalive` seconds (0: one request each), and serve at
            # most `keepalive_requests` requests (see RequestsPerConnection).
            "keepalive": keepalive,
            "pre_request": RequestsPerConnection(keepalive_requests),
            "control_socket_disable": True,
            "logconfig_dict": LOGGING,
            "logger_class": AppLogsRequests,
            "child_exit": _child_exit,
            # Looser than the app's own limits (api.observability), which answer with problem
            # details; these only stop what the app should never have to read.
            "limit_request_line": 8190,
            "limit_request_fields": 200,
            "limit_request_field_size": 65536,
        }
    ).run()
