"""The framework examples (aiohttp, Sanic, Tornado) as subprocesses.

:func:`running_example` starts ``python -m examples.<name>`` on a free loopback
port, waits (with a deadline) until the port accepts connections, and on the way
out sends SIGINT and checks that the example exits by itself within
:data:`EXIT_DEADLINE` seconds, with status 0 and no traceback in its output.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

START_DEADLINE = 20.0
"""Seconds for an example to accept connections."""
EXIT_DEADLINE = 10.0
"""Seconds for an example to exit by itself after SIGINT."""
CONNECT_RETRY = 0.05
"""Seconds between two connection attempts while an example starts (spent
waiting for the process to exit, so that a crash is seen at once)."""

PING_INTERVAL = 0.5
PING_TIMEOUT = 0.5
MAX_PAYLOAD = 10_000

EXAMPLE_ENV = {
    "EIO_HOST": "127.0.0.1",
    "EIO_PING_INTERVAL": str(PING_INTERVAL),
    "EIO_PING_TIMEOUT": str(PING_TIMEOUT),
    "EIO_MAX_PAYLOAD": str(MAX_PAYLOAD),
    "PYTHONUNBUFFERED": "1",
}


class ExampleLog:
    """Drains the example's merged stdout/stderr in a thread (so the example never
    blocks on a full pipe) and hands the lines over as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="example-log", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            for line in self._stream:
                self.lines.append(line)
                self._queue.put(line)
        finally:
            self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """The first match of ``pattern`` in a line not yet looked at, logged
        within ``timeout`` seconds; None at the end of the output or the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                self._queue.put(None)
                return None
            match = pattern.search(line)
            if match is not None:
                return match

    def wait_end(self) -> None:
        """Wait (bounded) until the whole output has been read."""
        self._thread.join(timeout=5)

    def close(self) -> None:
        """Wait (bounded) for the end of the output, then close the pipe."""
        self.wait_end()
        self._stream.close()

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class RunningExample:
    """An example server subprocess that accepts connections."""

    name: str
    port: int
    process: subprocess.Popen[str]
    log: ExampleLog = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    interrupted: bool = False

    def interrupt(self) -> None:
        """Send SIGINT now (the clean-exit checks still run on the way out)."""
        self.interrupted = True
        self.process.send_signal(signal.SIGINT)

    def wait_exit(self) -> int:
        """The exit status, once the process has exited (within
        :data:`EXIT_DEADLINE` seconds) and its output is all in :attr:`log`."""
        status = self.process.wait(timeout=EXIT_DEADLINE)
        self.log.wait_end()
        return status


def free_port() -> int:
    """A loopback port that nothing listens on (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait_listening(process: subprocess.Popen[str], port: int) -> str | None:
    """None once ``port`` accepts connections, else why it did not in time."""
    deadline = time.monotonic() + START_DEADLINE
    while not _accepts(port):
        if time.monotonic() > deadline:
            return f"no connection accepted within {START_DEADLINE} s"
        try:
            status = process.wait(timeout=CONNECT_RETRY)
        except subprocess.TimeoutExpired:
            continue
        return f"the process exited with status {status}"
    return None


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


@contextmanager
def running_example(name: str, **env: str) -> Iterator[RunningExample]:
    """``python -m examples.<name>`` on a free loopback port, stopped with SIGINT
    on the way out (failing the test unless it exits cleanly and in time).

    ``env`` overrides :data:`EXAMPLE_ENV`.
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", f"examples.{name}"],
        cwd=REPO_ROOT,
        env={**os.environ, **EXAMPLE_ENV, **env, "EIO_PORT": str(port)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    log = ExampleLog(process.stdout)
    try:
        problem = _wait_listening(process, port)
    except BaseException:  # e.g. KeyboardInterrupt: do not leave the example behind
        _stop(process)
        log.close()
        raise
    if problem is not None:
        _stop(process)
        log.close()
        pytest.fail(f"{name} did not start: {problem}; log:\n{log.text}")

    example = RunningExample(name=name, port=port, process=process, log=log)
    try:
        yield example
    except BaseException:
        _stop(process)
        log.close()
        raise

    alive_before = example.interrupted or process.poll() is None
    exited, elapsed = _stop(process)
    log.close()
    assert alive_before, f"{name} died during the test; log:\n{log.text}"
    assert exited, f"{name} did not exit within {EXIT_DEADLINE} s of SIGINT; log:\n{log.text}"
    assert process.returncode == 0, (
        f"{name} exited with status {process.returncode} after SIGINT "
        f"({elapsed:.2f} s); log:\n{log.text}"
    )
    assert "Traceback" not in log.text, f"{name} logged a traceback; log:\n{log.text}"
