"""The browser chat (examples/chat) end to end: Hypercorn's trio worker, headless Chromium.

The chat app runs as a subprocess on a free loopback port, exactly as the README
runs it. ``tests/e2e/chat.mjs`` drives two pages of Debian's Chromium through the
npm ``playwright-core`` and reports what they showed as one JSON line. At teardown
the app gets SIGINT and must exit by itself, cleanly, within :data:`EXIT_DEADLINE`.

``scripts/test`` installs what this needs (Chromium, and ``npm ci`` in
examples/chat and tests/e2e); without it the browser test is skipped.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HYPERCORN = Path(sys.executable).parent / "hypercorn"
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = REPO_ROOT / "tests" / "e2e" / "chat.mjs"
PLAYWRIGHT = REPO_ROOT / "tests" / "e2e" / "node_modules" / "playwright-core"
CHAT_DIR = REPO_ROOT / "examples" / "chat"
CHAT_APP = CHAT_DIR / "app.py"
BUNDLE = CHAT_DIR / "node_modules" / "engine.io-client" / "dist" / "engine.io.min.js"

START_DEADLINE = 20.0
"""Seconds for the app to accept connections."""
EXIT_DEADLINE = 10.0
"""Seconds for the app to exit by itself after SIGINT."""
LOG_DEADLINE = 10.0
"""Seconds for an expected line to show up in the app's log."""
DRIVER_TIMEOUT_MS = 40_000
"""The browser driver's own deadline; it is killed (with Chromium) a little later."""
CONNECT_RETRY = 0.05
"""Seconds between two connection attempts while the app starts."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Log:
    """Drains a process's merged stdout/stderr in a thread, so that it never
    blocks on a full pipe, and hands the lines over as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="chat-log", daemon=True)
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

    def close(self) -> None:
        """Wait (bounded) for the end of the output, then close the pipe."""
        self._thread.join(timeout=5)
        self._stream.close()

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class RunningChat:
    """The chat app, accepting connections."""

    port: int
    process: subprocess.Popen[str]
    log: Log = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


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
    """``None`` once ``port`` accepts connections, else why it did not in time."""
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


def _hypercorn(app: str, port: int, cwd: Path) -> tuple[subprocess.Popen[str], Log]:
    """``hypercorn APP --worker-class trio`` on a loopback port, its output drained."""
    process = subprocess.Popen(
        [str(HYPERCORN), app, "--worker-class", "trio", "--bind", f"127.0.0.1:{port}"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    return process, Log(process.stdout)


@pytest.fixture
def chat_app() -> Iterator[RunningChat]:
    """``hypercorn examples.chat.app:app --worker-class trio`` on a free loopback port,
    stopped with SIGINT on the way out (failing the test unless it exits cleanly)."""
    port = free_port()
    process, log = _hypercorn("examples.chat.app:app", port, REPO_ROOT)
    try:
        problem = _wait_listening(process, port)
    except BaseException:  # e.g. KeyboardInterrupt: do not leave the app behind
        _stop(process)
        log.close()
        raise
    if problem is not None:
        _stop(process)
        log.close()
        pytest.fail(f"the chat app did not start: {problem}; log:\n{log.text}")

    yield RunningChat(port=port, process=process, log=log)

    alive_before = process.poll() is None
    exited, elapsed = _stop(process)
    log.close()
    assert alive_before, f"the chat app died during the test; log:\n{log.text}"
    assert exited, f"the chat app did not exit within {EXIT_DEADLINE} s of SIGINT:\n{log.text}"
    assert process.returncode == 0, (
        f"the chat app exited with status {process.returncode} after SIGINT "
        f"({elapsed:.2f} s); log:\n{log.text}"
    )
    assert "Traceback" not in log.text, f"the chat app logged a traceback; log:\n{log.text}"


def run_driver(url: str, screenshots: Path) -> dict[str, Any]:
    """Run tests/e2e/chat.mjs; its JSON report. Killed with its Chromium if it hangs."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH"
    args = [node, str(DRIVER), "--url", url, "--screenshots", str(screenshots)]
    args += ["--chromium", str(CHROMIUM), "--timeout", str(DRIVER_TIMEOUT_MS)]
    process = subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        start_new_session=True,  # its own process group: Chromium goes with it
    )
    try:
        stdout, stderr = process.communicate(timeout=DRIVER_TIMEOUT_MS / 1000 + 15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=10)
        pytest.fail(f"the browser driver hung\nstdout: {stdout}\nstderr: {stderr}")
    lines = stdout.splitlines()
    assert len(lines) == 1, (
        f"want one JSON line, exit {process.returncode}\nstdout: {stdout!r}\nstderr: {stderr}"
    )
    report: dict[str, Any] = json.loads(lines[0])
    assert process.returncode == (0 if report["ok"] else 1), stderr
    return report


def _counts(log: Log, event: str) -> list[int]:
    """The connected counts that the app logged in its ``event`` lines, in order."""
    pattern = rf"^chat: \S+ {event} .*\((\d+) connected\)$"
    return [int(n) for n in re.findall(pattern, log.text, re.MULTILINE)]


def check_page(name: str, page: dict[str, Any], sent: list[str]) -> None:
    """What one page shows once ``sent`` went round: both messages, over websocket."""
    assert page["eioGlobal"] == "function", f"page {name}: the bundle did not load: {page}"
    assert page["errors"] == [], f"page {name}: {page['errors']}"
    assert page["state"] == "open", f"page {name}: {page}"
    assert page["transport"] == "websocket", f"page {name}: {page}"
    assert page["upgrades"] == "websocket", f"page {name}: {page}"
    assert page["notices"] == ["connected over polling", "upgraded to websocket"], page
    assert page["messages"] == sent, f"page {name}: {page}"
    assert page["markupInMessages"] == 0, f"page {name} rendered a message as HTML: {page}"
    assert page["inputValue"] == "", f"page {name}: {page}"


@pytest.mark.node
@pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing (scripts/test installs it)"
)
@pytest.mark.skipif(
    not PLAYWRIGHT.is_dir(),
    reason="tests/e2e/node_modules is missing (run: npm ci --prefix tests/e2e)",
)
@pytest.mark.skipif(
    not BUNDLE.is_file(),
    reason="examples/chat/node_modules is missing (run: npm ci --prefix examples/chat)",
)
def test_two_pages_chat(chat_app: RunningChat, tmp_path: Path) -> None:
    """A sends, both pages show it; B sends, both show it; A leaves, B still chats."""
    report = run_driver(chat_app.url, tmp_path)
    shown = json.dumps(report, indent=1, ensure_ascii=False)
    assert report["error"] is None, shown
    assert report["ok"] is True, shown
    sent = report["sent"]
    for name in ("A", "B"):
        check_page(name, report["pages"][name], [sent["A"], sent["B"]])
    check_page("B after A left", report["afterLeave"], [sent["A"], sent["B"], sent["C"]])

    assert report["screenshots"] == [str(tmp_path / "A.png"), str(tmp_path / "B.png")]
    for shot in report["screenshots"]:
        image = Path(shot).read_bytes()
        assert image.startswith(PNG_SIGNATURE), shot
        assert len(image) > 5_000, f"{shot} is suspiciously small: {len(image)} bytes"

    # The app's set of sids: both joined; A's leaving took it out, then B's.
    gone = re.compile(r"^chat: \S+ left: .*\(0 connected\)$")
    assert chat_app.log.wait_for(gone, LOG_DEADLINE), chat_app.log.text
    assert _counts(chat_app.log, "joined") == [1, 2], chat_app.log.text
    assert _counts(chat_app.log, "left:") == [1, 0], chat_app.log.text


def test_refuses_to_start_without_the_bundle(tmp_path: Path) -> None:
    """A copy of the app with no node_modules beside it says which npm command to run."""
    shutil.copy(CHAT_APP, tmp_path / "app.py")
    process, log = _hypercorn("app:app", free_port(), tmp_path)
    try:
        process.wait(timeout=START_DEADLINE)
    except subprocess.TimeoutExpired:
        _stop(process)
        log.close()
        pytest.fail(f"the app started without its bundle; log:\n{log.text}")
    log.close()
    # Hypercorn (0.18, one worker process) exits with status 0 even when its worker
    # fails to load the app, so the status says nothing: the message does.
    assert "the engine.io-client browser bundle is missing" in log.text, log.text
    assert "npm ci --prefix examples/chat" in log.text, log.text
    assert "Running on" not in log.text, log.text
    assert "Traceback" not in log.text, log.text
