"""`timeline serve`'s processes: a parent that binds the socket and keeps N worker processes,
each serving it with its own app, built after the fork.

The parent binds the listening socket, then forks the workers (one per core by default). Each
builds the WSGI app (named by its import string, so that `timeline/` never imports `api/`) and
serves the shared socket through `timeline.front`: the kernel hands each new connection to one
of the workers waiting on it. The parent forwards SIGTERM and SIGINT to the workers, starts a
new worker when one dies, kills those still running `grace` seconds after a stop (plus a
margin), and when the last has gone returns, so that `metrics_directory` removes what the
workers' Prometheus metrics left.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

from timeline.front import Limits, serve
from timeline.logs import logging_config

WSGI_FACTORY = "api.wsgi:create_app"

LOGGING = logging_config()
"""Every log line goes to standard error as JSON."""

BOOT_FAILED = 3
"""A worker's exit status when it could not build the app: the server stops rather than
starting one worker after another that fails the same way."""

RESTART_PAUSE = 1.0
"""Seconds to wait before replacing a worker that died within this long of its start."""

KILL_MARGIN = 5.0
"""Seconds after the grace before workers still running are killed."""

log = logging.getLogger("timeline.server")


def load_wsgi_app(target: str = WSGI_FACTORY) -> Callable[..., Any]:
    """Import `module:factory` and call the factory."""
    module_name, _, factory_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    app: Callable[..., Any] = factory()
    return app


@contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh directory for the workers to add their metrics up in (Prometheus' multiprocess
    mode), set as PROMETHEUS_MULTIPROC_DIR for them; removed afterwards if made here, emptied
    first if the operator named one."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        sweep_metrics_directories(tempfile.gettempdir())
    directory = given or tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield directory
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


METRICS_PREFIX = "timeline-metrics-"


def sweep_metrics_directories(parent: str) -> None:
    """Remove the metrics directories of servers that were killed (SIGKILL leaves no time to
    remove them): each is named after its server's pid, and is removed once no process has it."""
    for path in Path(parent).glob(f"{METRICS_PREFIX}*-*"):
        pid = path.name[len(METRICS_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_worker(pid: int) -> None:
    """Let Prometheus' multiprocess files forget a worker that has gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def work(sock: socket.socket, limits: Limits, threads: int) -> int:
    """A worker's life after the fork: build the app, serve until told to stop."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)  # the parent's handlers are the parent's
    signal.alarm(0)
    try:
        app = load_wsgi_app()
    except Exception:
        log.exception("the worker could not build the app")
        return BOOT_FAILED
    serve(sock, app, limits, threads)
    return 0


class Supervisor:
    """Keeps `workers` worker processes serving `sock` until SIGTERM or SIGINT."""

    def __init__(self, sock: socket.socket, workers: int, threads: int, limits: Limits) -> None:
        self.sock = sock
        self.workers = workers
        self.threads = threads
        self.limits = limits
        self.children: dict[int, float] = {}  # pid: when it started
        self.stopping = False
        self.failed = False

    def spawn(self) -> None:
        """Fork one worker."""
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                status = work(self.sock, self.limits, self.threads)
            except BaseException:
                log.exception("the worker failed")
            finally:
                sys.stderr.flush()
                os._exit(status)
        self.children[pid] = time.monotonic()

    def stop(self, signum: int, _frame: FrameType | None = None) -> None:
        """Tell every worker to stop (a signal handler), and to be killed if it lingers."""
        self.stopping = True
        for pid in list(self.children):
            self.send(pid, signal.SIGTERM)
        signal.alarm(int(self.limits.grace + KILL_MARGIN))

    def kill(self, _signum: int, _frame: FrameType | None = None) -> None:
        """Kill the workers a stop left running (SIGALRM's handler)."""
        for pid in list(self.children):
            log.warning("worker %d still running after the grace: killed", pid)
            self.send(pid, signal.SIGKILL)

    @staticmethod
    def send(pid: int, signum: int) -> None:
        """Send `signum` to `pid` if it is still there."""
        with suppress(ProcessLookupError):
            os.kill(pid, signum)

    def run(self) -> int:
        """Start the workers and keep them, until they have all stopped; the exit status."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGALRM, self.kill)
        for _ in range(self.workers):
            self.spawn()
        while self.children:
            pid, status = os.wait()
            started = self.children.pop(pid, None)
            if started is None:
                continue
            forget_worker(pid)
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                continue
            if code == BOOT_FAILED:
                log.error("a worker could not start: stopping")
                self.failed = True
                self.stop(signal.SIGTERM)
                continue
            log.warning("worker %d exited (%d): starting another", pid, code)
            if time.monotonic() - started < RESTART_PAUSE:
                time.sleep(RESTART_PAUSE)
            if not self.stopping:
                self.spawn()
        signal.alarm(0)
        return 1 if self.failed else 0


def run(
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    keepalive: float,
    keepalive_requests: int,
    timeout: float,
) -> int:
    """Serve until stopped; SIGTERM lets requests in flight finish first. The exit status."""
    limits = Limits(timeout=timeout, keepalive=keepalive, keepalive_requests=keepalive_requests)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family, backlog=2048) as sock:
        log.info(
            "listening on http://%s:%d with %d workers of %d threads",
            host,
            port,
            workers,
            threads,
        )
        return Supervisor(sock, workers, threads, limits).run()
