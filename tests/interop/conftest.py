"""The example echo server as a subprocess, under each supported ASGI server.

The ``echo_server`` fixture starts ``examples/echo.py`` on a loopback port chosen
by the OS, learns the port from the server's log line, and on teardown checks
that the server exits by itself within :data:`EXIT_DEADLINE` seconds of a SIGINT
(a hung shutdown is a bug), with status 0 and no traceback in its log.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent

START_DEADLINE = 15.0
"""Seconds for the server to log the address it listens on."""
EXIT_DEADLINE = 10.0
"""Seconds for the server to exit by itself after SIGINT."""

SERVER_ENV = {"EIO_PING_INTERVAL": "0.5", "EIO_PING_TIMEOUT": "0.5"}

SERVERS: dict[str, list[str]] = {
    "hypercorn-trio": [
        "hypercorn",
        "examples.echo:app",
        "--worker-class",
        "trio",
        "--bind",
        "127.0.0.1:0",
    ],
    "hypercorn-asyncio": ["hypercorn", "examples.echo:app", "--bind", "127.0.0.1:0"],
    "uvicorn": ["uvicorn", "examples.echo:app", "--host", "127.0.0.1", "--port", "0"],
}

# hypercorn: "[...] [INFO] Running on http://127.0.0.1:PORT (CTRL + C to quit)"
# uvicorn:   "INFO:     Uvicorn running on http://127.0.0.1:PORT (Press CTRL+C to quit)"
LISTENING = re.compile(r"(?:Running on|Uvicorn running on) http://127\.0\.0\.1:(\d+)\b")


class ServerLog:
    """Drains the server's merged stdout/stderr in a thread, so the server never
    blocks on a full pipe, and hands the lines to the test thread as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="server-log", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            for line in self._stream:
                self.lines.append(line)
                self._queue.put(line)
        finally:
            self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], deadline: float) -> re.Match[str] | None:
        """The first match of ``pattern`` in a line logged before the monotonic
        ``deadline``, or None at end of output or at the deadline."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                return None
            match = pattern.search(line)
            if match is not None:
                return match

    def close(self) -> None:
        """Wait (bounded) for the end of the output, then close the pipe."""
        self._thread.join(timeout=5)
        self._stream.close()

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class RunningServer:
    """An echo server subprocess that is listening."""

    name: str
    port: int
    process: subprocess.Popen[str]
    log: ServerLog = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start(name: str) -> tuple[subprocess.Popen[str], ServerLog]:
    executable, *args = SERVERS[name]
    env = {**os.environ, **SERVER_ENV}
    env.pop("EIO_MAX_PAYLOAD", None)
    process = subprocess.Popen(
        [str(BIN_DIR / executable), *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    return process, ServerLog(process.stdout)


def _stop(process: subprocess.Popen[str]) -> tuple[bool, float]:
    """SIGINT, then SIGKILL if needed: whether it exited by itself, and how fast."""
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=EXIT_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=EXIT_DEADLINE)
        return False, time.monotonic() - started
    return True, time.monotonic() - started


@pytest.fixture(params=list(SERVERS))
def echo_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """``examples.echo:app`` under hypercorn (trio), hypercorn (asyncio) or uvicorn."""
    name = str(request.param)
    process, log = _start(name)
    try:
        match = log.wait_for(LISTENING, time.monotonic() + START_DEADLINE)
    except BaseException:  # e.g. KeyboardInterrupt: do not leave the server behind
        _stop(process)
        log.close()
        raise
    if match is None:
        status = process.poll()
        _stop(process)
        log.close()
        pytest.fail(
            f"{name} did not report its address within {START_DEADLINE} s "
            f"(exit status {status}); log:\n{log.text}"
        )
    server = RunningServer(name=name, port=int(match.group(1)), process=process, log=log)

    yield server

    alive_before = process.poll() is None
    exited, elapsed = _stop(process)
    log.close()
    assert alive_before, f"{name} died during the test; log:\n{log.text}"
    assert exited, f"{name} did not exit within {EXIT_DEADLINE} s of SIGINT; log:\n{log.text}"
    assert process.returncode == 0, (
        f"{name} exited with status {process.returncode} after SIGINT "
        f"({elapsed:.2f} s); log:\n{log.text}"
    )
    assert "Traceback" not in log.text, f"{name} logged a traceback; log:\n{log.text}"
