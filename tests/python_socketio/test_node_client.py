"""The npm ``socket.io-client`` (via tests/js/socketio-client.mjs) against
python-socketio on engineio_sc."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from ..live.conftest import Serve
from ..node_driver import MODES, needs_npm, run_socketio_client
from .app import CLIENT_DISCONNECT, REFUSED, ROOM, SERVER_DISCONNECT, TOKEN, ScenarioServer

pytestmark = [pytest.mark.anyio, *needs_npm("socket.io-client")]

DEADLINE = 5.0
"""Seconds for the server to see the last client go, once the driver is done."""
STEPS = ["refused", "connect", "echo", "broadcast", "bytes", "call", "kicked", "left"]
PAYLOAD = bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])
"""The bytes the driver sends."""


@pytest.mark.parametrize("mode_name", list(MODES))
async def test_socketio_scenario(
    serve: Serve, mode_name: str, clean_logs: Callable[[], None]
) -> None:
    mode = MODES[mode_name]
    server = ScenarioServer(clients=2)
    async with serve(server.app) as url:
        report = await run_socketio_client(url, token=TOKEN, mode=mode)
        with anyio.fail_after(DEADLINE):
            await server.all_disconnected.wait()
        await server.sio.shutdown()

    assert report.end == {"step": "done", "ok": True}, report
    assert report.stderr == ""
    assert list(report.steps) == STEPS
    assert len(report.steps["connect"]) == 2
    assert all(len(report.steps[name]) == 1 for name in STEPS if name != "connect")
    steps = {name: entries[0] for name, entries in report.steps.items()}
    assert steps["refused"] == {"message": REFUSED, "data": None}

    connected = report.steps["connect"]
    assert [(c["name"], c["transport"]) for c in connected] == [
        ("A", mode.final_transport),
        ("B", mode.final_transport),
    ]
    a_sid, b_sid = (c["id"] for c in connected)
    assert server.auths == {
        a_sid: {"token": TOKEN, "name": "A"},
        b_sid: {"token": TOKEN, "name": "B"},
    }

    sent = {"text": "héllo ✓", "list": [1, 2.5, None, True]}
    assert steps["echo"] == {
        "reply": {"echo": sent, "name": "A", "transport": mode.final_transport}
    }
    shouted = {"text": "hello room", "from": "A"}
    assert steps["broadcast"] == {"joined": [ROOM, ROOM], "received": {"A": shouted, "B": shouted}}
    assert steps["bytes"] == {"ack": {"hex": PAYLOAD.hex()}, "event": {"hex": PAYLOAD[::-1].hex()}}
    assert steps["call"] == {"question": 21, "answer": 42}
    assert server.answers == [42]
    assert steps["kicked"] == {"reason": "io server disconnect"}
    assert steps["left"] == {"reason": "io client disconnect"}
    assert server.disconnects == {b_sid: SERVER_DISCONNECT, a_sid: CLIENT_DISCONNECT}
    clean_logs()
