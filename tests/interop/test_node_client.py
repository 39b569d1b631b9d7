"""The official npm ``engine.io-client`` (via tests/js/client.mjs) against the echo server."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import REPO_ROOT, RunningServer

NODE = shutil.which("node")
CLIENT = REPO_ROOT / "tests" / "js" / "client.mjs"
NODE_MODULES = REPO_ROOT / "tests" / "js" / "node_modules"

CLIENT_TIMEOUT_MS = 10_000
"""The driver's own deadline; the subprocess gets a few seconds more."""

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="node is not on PATH"),
    pytest.mark.skipif(
        not (NODE_MODULES / "engine.io-client").is_dir(),
        reason="tests/js/node_modules is missing (run: cd tests/js && npm ci)",
    ),
]

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

MIXED = [
    text("héllo ✓"),
    binary(bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])),
    text("astral 🎉 and a colon: still text"),
    binary(b"\xff\x00" * 300),
    binary(b""),
    text("4"),
    text("b"),
    text("plain ascii"),
]


def run_client(server: RunningServer, mode: Mode, sends: list[Message]) -> dict[str, Any]:
    """Run one client session; the driver's JSON report."""
    assert NODE is not None
    args = [NODE, str(CLIENT), "--url", server.url, "--transports", mode.transports]
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
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, (
        f"want one JSON line, exit {completed.returncode}\n"
        f"stdout: {completed.stdout!r}\nstderr: {completed.stderr}"
    )
    report: dict[str, Any] = json.loads(lines[0])
    assert completed.returncode == (0 if report["ok"] else 1), completed.stderr
    return report


def check_session(report: dict[str, Any], mode: Mode, sent: list[Message]) -> None:
    assert report["error"] is None, report
    assert report["ok"] is True, report
    assert report["openTransport"] == mode.open_transport, report
    assert report["upgraded"] is mode.expect_upgrade, report
    assert report["finalTransport"] == mode.final_transport, report
    assert report["messages"] == sent
    assert report["closeReason"] == "forced close", report


@pytest.mark.parametrize("mode_name", list(MODES))
def test_echo_text_and_binary(echo_server: RunningServer, mode_name: str) -> None:
    mode = MODES[mode_name]
    report = run_client(echo_server, mode, MIXED)
    check_session(report, mode, MIXED)


def test_many_messages_over_polling(echo_server: RunningServer) -> None:
    """50 messages sent in one go come back, in order, over as many polls as it takes."""
    mode = MODES["polling"]
    sent = [text(f"message {i:02d} ✓ " + "x" * i) for i in range(50)]
    report = run_client(echo_server, mode, sent)
    check_session(report, mode, sent)
