"""The Node.js drivers, run as subprocesses: each prints its report as JSON lines.

:func:`run_client` runs one session of tests/js/client.mjs (the official npm
``engine.io-client``) and :func:`check_session` checks its report;
:func:`json_report` reads what a driver printed as one line (the browser driver
tests/e2e/chat.mjs too). :func:`run_socketio_client` runs one of the Socket.IO
scenarios of tests/js/socketio-client.mjs (the official npm ``socket.io-client``)
without blocking, for servers that run in the test's own event loop; its
:class:`StepReport` is also what the Python player of the full scenario returns.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from .servers import REPO_ROOT

NODE = shutil.which("node")
CLIENT = REPO_ROOT / "tests" / "js" / "client.mjs"
SOCKETIO_CLIENT = REPO_ROOT / "tests" / "js" / "socketio-client.mjs"
NODE_MODULES = REPO_ROOT / "tests" / "js" / "node_modules"


def needs_npm(package: str) -> list[pytest.MarkDecorator]:
    """The marks of a test that runs Node.js with the npm ``package``: ``node``,
    and skipped where either is missing."""
    return [
        pytest.mark.node,
        pytest.mark.skipif(NODE is None, reason="node is not on PATH"),
        pytest.mark.skipif(
            not (NODE_MODULES / package).is_dir(),
            reason="tests/js/node_modules is missing (run: cd tests/js && npm ci)",
        ),
    ]


CLIENT_TIMEOUT_MS = 10_000
"""The client driver's own deadline; the subprocess gets a few seconds more."""

Message = dict[str, str]
"""One message as the driver reports it: {"type": "text", "data": ...} or
{"type": "binary", "hex": ...}."""


def text(data: str) -> Message:
    return {"type": "text", "data": data}


def binary(data: bytes) -> Message:
    return {"type": "binary", "hex": data.hex()}


def send_arg(message: Message) -> str:
    if message["type"] == "text":
        return f"text:{message['data']}"
    return f"bin:{message['hex']}"


@dataclass(frozen=True)
class Mode:
    """A client configuration and what the driver must report for it."""

    transports: str
    expect_upgrade: bool
    open_transport: str
    final_transport: str


MODES = {
    "polling": Mode("polling", False, "polling", "polling"),
    "websocket": Mode("websocket", False, "websocket", "websocket"),
    "upgrade": Mode("polling,websocket", True, "polling", "websocket"),
}


MESSAGES = [
    text("héllo ✓"),
    binary(bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])),
    text("astral 🎉 and a colon: still text"),
    binary(b"\xff\x00" * 300),
    binary(b""),
    text("4"),
    text("b"),
]
"""Text and binary messages, some of them easy to mistake for one another."""


def json_report(returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The report a driver printed: one JSON line, and an exit status that
    agrees with its ``ok``."""
    lines = stdout.splitlines()
    assert len(lines) == 1, (
        f"want one JSON line, exit {returncode}\nstdout: {stdout!r}\nstderr: {stderr}"
    )
    report: dict[str, Any] = json.loads(lines[0])
    assert returncode == (0 if report["ok"] else 1), stderr
    return report


def run_client(url: str, mode: Mode, sends: list[Message]) -> dict[str, Any]:
    """Run one client session against ``url``; the driver's JSON report."""
    assert NODE is not None
    args = [NODE, str(CLIENT), "--url", url, "--transports", mode.transports]
    if mode.expect_upgrade:
        args.append("--expect-upgrade")
    for message in sends:
        args += ["--send", send_arg(message)]
    args += ["--timeout", str(CLIENT_TIMEOUT_MS)]
    completed = subprocess.run(
        args,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=CLIENT_TIMEOUT_MS / 1000 + 10,
        check=False,
    )
    return json_report(completed.returncode, completed.stdout, completed.stderr)


def check_session(report: dict[str, Any], mode: Mode, sent: list[Message]) -> None:
    """The session went as ``mode`` says, and every message came back."""
    assert report["error"] is None, report
    assert report["ok"] is True, report
    assert report["openTransport"] == mode.open_transport, report
    assert report["upgraded"] is mode.expect_upgrade, report
    assert report["finalTransport"] == mode.final_transport, report
    assert report["messages"] == sent
    assert report["closeReason"] == "forced close", report


@dataclass(frozen=True)
class StepReport:
    """What a Socket.IO driver reported: its steps by name (the last one,
    ``done`` or ``failed``, under ``"end"``) and what it wrote to stderr."""

    steps: dict[str, list[dict[str, Any]]]
    end: dict[str, Any]
    stderr: str

    @classmethod
    def of(cls, lines: list[dict[str, Any]], stderr: str = "") -> StepReport:
        """The report of the lines a driver printed, in order (each with its
        ``"step"``), the last one ``done`` or ``failed``."""
        *steps, end = lines
        assert end["step"] in ("done", "failed"), lines
        by_name: dict[str, list[dict[str, Any]]] = {}
        for step in steps:
            step = dict(step)
            by_name.setdefault(step.pop("step"), []).append(step)
        return cls(by_name, end, stderr)

    def one(self, name: str) -> dict[str, Any]:
        """The one step called ``name``."""
        entries = self.steps[name]
        assert len(entries) == 1, entries
        return entries[0]


async def run_socketio_client(
    url: str, *, token: str, mode: Mode, scenario: str = "basic"
) -> StepReport:
    """Play one of the driver's scenarios against ``url``, without blocking the
    event loop."""
    assert NODE is not None
    args = [NODE, str(SOCKETIO_CLIENT), "--url", url, "--token", token, "--scenario", scenario]
    args += ["--transports", mode.transports, "--timeout", str(CLIENT_TIMEOUT_MS)]
    if mode.expect_upgrade:
        args.append("--expect-upgrade")
    with anyio.fail_after(CLIENT_TIMEOUT_MS / 1000 + 10):
        completed = await anyio.run_process(args, cwd=REPO_ROOT, check=False)
    stdout = completed.stdout.decode()
    stderr = completed.stderr.decode()
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert lines, f"no report, exit {completed.returncode}\nstderr: {stderr}"
    report = StepReport.of(lines, stderr)
    assert completed.returncode == (0 if report.end["ok"] else 1), stderr
    return report
