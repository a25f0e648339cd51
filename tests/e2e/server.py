"""Running the real `timeline` command: a server process on a free loopback port, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMELINE = shutil.which("timeline", path=str(Path(sys.executable).parent)) or "timeline"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(database_url: str | None, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    if database_url:
        env["TIMELINE_DATABASE_URL"] = database_url
    env.update(more)
    return env


def cli(
    args: list[str], env: Mapping[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `timeline ARGS` and return what it did."""
    return subprocess.run(
        [TIMELINE, *args],
        env=dict(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def create_token(env: Mapping[str, str], cwd: Path, name: str) -> str:
    """A new API token, made by `timeline token create NAME` as an operator would."""
    made = cli(["token", "create", name], env, cwd)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=dict(headers or {})
        )
        if body is not None and "Content-Type" not in request.headers:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())

    def crash(self) -> None:
        """SIGKILL the whole server, master and workers, as a power cut would stop it."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("POST", path, body=body, **kwargs)


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the server did not become healthy")


@contextmanager
def serving(
    env: Mapping[str, str], cwd: Path, *extra: str, log: Path | None = None
) -> Iterator[Server]:
    """`timeline serve` on a free loopback port, stopped with SIGTERM afterwards."""
    port = free_port()
    log_file = open(log or cwd / "server.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [TIMELINE, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        yield Server(base, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log_file.close()
