"""The browser chat (examples/chat) end to end: Hypercorn's trio worker, headless Chromium.

The chat app runs as a subprocess on a free loopback port, exactly as the README
runs it. ``tests/e2e/chat.mjs`` drives two pages of Debian's Chromium through the
npm ``playwright-core`` and reports what they showed as one JSON line. At teardown
the app gets SIGINT and must exit by itself, cleanly, within
:data:`~tests.servers.EXIT_DEADLINE` seconds (see :func:`tests.servers.running_server`).

``scripts/test`` installs what this needs (Chromium, and ``npm ci`` in
examples/chat and tests/e2e); without it the browser test is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..node_driver import json_report
from ..servers import (
    BIN_DIR,
    REPO_ROOT,
    RunningServer,
    ServerLog,
    free_port,
    running_server,
    spawn,
    stop,
)

HYPERCORN = BIN_DIR / "hypercorn"
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = REPO_ROOT / "tests" / "e2e" / "chat.mjs"
PLAYWRIGHT = REPO_ROOT / "tests" / "e2e" / "node_modules" / "playwright-core"
CHAT_DIR = REPO_ROOT / "examples" / "chat"
CHAT_APP = CHAT_DIR / "app.py"
BUNDLE = CHAT_DIR / "node_modules" / "engine.io-client" / "dist" / "engine.io.min.js"

START_DEADLINE = 20.0
"""Seconds for the app to accept connections."""
LOG_DEADLINE = 10.0
"""Seconds for an expected line to show up in the app's log."""
DRIVER_TIMEOUT_MS = 40_000
"""The browser driver's own deadline; it is killed (with Chromium) a little later."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hypercorn(app: str, port: int) -> list[str]:
    """``hypercorn APP --worker-class trio`` on a loopback port."""
    return [str(HYPERCORN), app, "--worker-class", "trio", "--bind", f"127.0.0.1:{port}"]


@pytest.fixture
def chat_app() -> Iterator[RunningServer]:
    """``hypercorn examples.chat.app:app --worker-class trio`` on a free loopback port,
    stopped with SIGINT on the way out (failing the test unless it exits cleanly)."""
    port = free_port()
    with running_server(
        "the chat app",
        hypercorn("examples.chat.app:app", port),
        port=port,
        start_deadline=START_DEADLINE,
    ) as server:
        yield server


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
    return json_report(process.returncode, stdout, stderr)


def _counts(log: ServerLog, event: str) -> list[int]:
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
def test_two_pages_chat(chat_app: RunningServer, tmp_path: Path) -> None:
    """A sends, both pages show it; B sends, both show it; A leaves, B still chats."""
    report = run_driver(f"{chat_app.url}/", tmp_path)
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
    process, log = spawn(hypercorn("app:app", free_port()), cwd=tmp_path, name="chat")
    try:
        process.wait(timeout=START_DEADLINE)
    except subprocess.TimeoutExpired:
        stop(process)
        log.close()
        pytest.fail(f"the app started without its bundle; log:\n{log.text}")
    log.close()
    # Hypercorn (0.18, one worker process) exits with status 0 even when its worker
    # fails to load the app, so the status says nothing: the message does.
    assert "the engine.io-client browser bundle is missing" in log.text, log.text
    assert "npm ci --prefix examples/chat" in log.text, log.text
    assert "Running on" not in log.text, log.text
    assert "Traceback" not in log.text, log.text
