"""Servers that the tests run as subprocesses, and check on the way out.

:func:`running_server` starts a server command with its merged stdout/stderr
drained by a thread (:class:`ServerLog`), so that it never blocks on a full pipe.
It learns that the server listens in one of two ways: the port it was given
accepts connections, or a line of its log names the port it chose. On the way
out it sends SIGINT and fails the test unless the server exits by itself within
:data:`EXIT_DEADLINE` seconds (a hung shutdown is a bug), with status 0 and no
traceback in its output.
"""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent
"""Where the virtual environment's commands (hypercorn, uvicorn) are."""

EXIT_DEADLINE = 10.0
"""Seconds for a server to exit by itself after SIGINT."""
CONNECT_RETRY = 0.05
"""Seconds between two connection attempts while a server starts (spent
waiting for the process to exit, so that a crash is seen at once)."""


class ServerLog:
    """Drains a process's merged stdout/stderr in a thread, so that it never
    blocks on a full pipe, and hands the lines over as they come."""

    def __init__(self, stream: IO[str], name: str = "server") -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name=f"{name}-log", daemon=True)
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
        within ``timeout`` seconds; ``None`` at the end of the output or the deadline."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                self._queue.put(None)
                return None
            if (match := pattern.search(line)) is not None:
                return match
        return None

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
class RunningServer:
    """A server subprocess that listens on a loopback port."""

    name: str
    port: int
    process: subprocess.Popen[str]
    log: ServerLog = field(repr=False)
    interrupted: bool = False
    signalled: signal.Signals | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def interrupt(self) -> None:
        """Send SIGINT now (the clean-exit checks still run on the way out)."""
        self.interrupted = True
        self.process.send_signal(signal.SIGINT)

    def signal(self, signum: signal.Signals) -> None:
        """Send ``signum`` now; the process may end by it (the clean-exit checks
        then accept the status ``-signum``, as uvicorn ends after SIGTERM)."""
        self.signalled = signum
        self.process.send_signal(signum)

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


def spawn(
    command: Sequence[str],
    *,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    name: str = "server",
) -> tuple[subprocess.Popen[str], ServerLog]:
    """``command`` in ``cwd`` (with ``env``, else this process's environment),
    its merged stdout/stderr drained into a :class:`ServerLog`."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    return process, ServerLog(process.stdout, name)


def stop(process: subprocess.Popen[str]) -> tuple[bool, float]:
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


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait_accepting(process: subprocess.Popen[str], port: int, timeout: float) -> str | None:
    """``None`` once ``port`` accepts connections, else why it did not in time."""
    deadline = time.monotonic() + timeout
    while not _accepts(port):
        if time.monotonic() > deadline:
            return f"no connection accepted within {timeout} s"
        try:
            status = process.wait(timeout=CONNECT_RETRY)
        except subprocess.TimeoutExpired:
            continue
        return f"the process exited with status {status}"
    return None


def _wait_logged_port(
    process: subprocess.Popen[str], log: ServerLog, listening: re.Pattern[str], timeout: float
) -> int | str:
    """The port that the first group of ``listening`` names in the log, else
    why it was not logged in time."""
    match = log.wait_for(listening, timeout)
    if match is None:
        return f"no address reported within {timeout} s (exit status {process.poll()})"
    return int(match.group(1))


PY311_STREAMS_NOISE = re.compile(
    r"Exception in callback StreamReaderProtocol\.connection_made.*?"
    r"asyncio\.exceptions\.CancelledError\n",
    re.S,
)
"""What Python 3.11's asyncio streams log when a connection task is cancelled
(fixed in 3.12): Hypercorn's asyncio worker cancels every connection still open
at its graceful timeout. Not the application's traceback."""


def application_log(text: str) -> str:
    """A server's log without the interpreter's own noise (:data:`PY311_STREAMS_NOISE`)."""
    return PY311_STREAMS_NOISE.sub("", text)


def check_clean_exit(server: RunningServer) -> None:
    """Stop ``server`` with SIGINT (unless it was interrupted already): fails
    unless it was still running, and then exited by itself within
    :data:`EXIT_DEADLINE` seconds, with status 0 and no traceback logged."""
    name, process, log = server.name, server.process, server.log
    alive_before = server.interrupted or server.signalled or process.poll() is None
    exited, elapsed = stop(process)
    log.close()
    assert alive_before, f"{name} died during the test; log:\n{log.text}"
    assert exited, f"{name} did not exit within {EXIT_DEADLINE} s of SIGINT; log:\n{log.text}"
    ended_by = () if server.signalled is None else (-server.signalled,)
    assert process.returncode in (0, *ended_by), (
        f"{name} exited with status {process.returncode} after SIGINT "
        f"({elapsed:.2f} s); log:\n{log.text}"
    )
    assert "Traceback" not in application_log(log.text), f"{name} logged a traceback:\n{log.text}"


@contextmanager
def running_server(
    name: str,
    command: Sequence[str],
    *,
    start_deadline: float,
    port: int | None = None,
    listening: re.Pattern[str] | None = None,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningServer]:
    """``command`` as a listening server, stopped with SIGINT on the way out
    (failing the test unless it exits cleanly and in time, see
    :func:`check_clean_exit`).

    Either ``port``: the port the command was told to listen on, up once it
    accepts connections; or ``listening``: a pattern whose first group is the
    port, up once a line of the log matches it. Either way within
    ``start_deadline`` seconds, else the test fails. ``name`` says which server
    in the failure messages.
    """
    if (port is None) == (listening is None):
        raise TypeError("give either the port to poll or the log line that names it")
    process, log = spawn(command, cwd=cwd, env=env, name=name)
    try:
        if port is not None:
            problem = _wait_accepting(process, port, start_deadline)
            found: int | str = port if problem is None else problem
        else:
            assert listening is not None
            found = _wait_logged_port(process, log, listening, start_deadline)
    except BaseException:  # e.g. KeyboardInterrupt: do not leave the server behind
        stop(process)
        log.close()
        raise
    if isinstance(found, str):
        stop(process)
        log.close()
        pytest.fail(f"{name} did not start: {found}; log:\n{log.text}")

    server = RunningServer(name=name, port=found, process=process, log=log)
    try:
        yield server
    except BaseException:
        stop(process)
        log.close()
        raise
    check_clean_exit(server)
