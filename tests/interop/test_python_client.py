"""python-engineio's ``AsyncClient`` (asyncio, aiohttp) against the echo server."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import engineio
import pytest

from ..servers import RunningServer

pytestmark = pytest.mark.anyio

DEADLINE = 15.0
"""Seconds for a whole session: connect, echo everything, disconnect."""

# python-engineio's client JSON-decodes incoming text when it can, so the plain
# messages are not JSON; one JSON text checks that decoding on purpose.
SENT: list[str | bytes] = [
    "hello there",
    bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]),
    "héllo ✓ and 🎉",
    bytes(range(256)) * 4,
    "4 is not a packet type here",
]
JSON_TEXT = '{"echo": ["json", 1]}'
JSON_DECODED = {"echo": ["json", 1]}

PINGS = 3
"""Pings a session must outlive (the fixture's server pings every 0.5 s)."""

MODES: dict[str, tuple[list[str] | None, str]] = {
    "polling": (["polling"], "polling"),
    "websocket": (["websocket"], "websocket"),
    "upgrade": (None, "websocket"),  # the default: polling, then upgrade
}


@pytest.fixture
def anyio_backend() -> str:
    """python-engineio's client runs on asyncio only."""
    return "asyncio"


@pytest.mark.parametrize("mode_name", list(MODES))
async def test_echo_text_and_binary(echo_server: RunningServer, mode_name: str) -> None:
    transports, expected_transport = MODES[mode_name]
    client: Any = engineio.AsyncClient(handle_sigint=False)
    received: asyncio.Queue[Any] = asyncio.Queue()
    disconnects: list[str] = []

    def on_message(data: Any) -> None:
        received.put_nowait(data)

    def on_disconnect(reason: str) -> None:
        disconnects.append(reason)

    client.on("message", on_message)
    client.on("disconnect", on_disconnect)
    try:
        with anyio.fail_after(DEADLINE):
            await client.connect(echo_server.url, transports=transports)
            assert client.transport() == expected_transport
            for message in [*SENT, JSON_TEXT]:
                await client.send(message)
            echoed = [await received.get() for _ in range(len(SENT) + 1)]
    finally:
        with anyio.fail_after(DEADLINE):
            await client.disconnect()

    assert echoed[: len(SENT)] == SENT
    assert [type(item) for item in echoed[: len(SENT)]] == [type(item) for item in SENT]
    assert echoed[-1] == JSON_DECODED
    assert received.empty()
    assert disconnects == [client.reason.CLIENT_DISCONNECT]
    assert client.state == "disconnected"


@pytest.mark.parametrize("mode_name", list(MODES))
async def test_session_outlives_heartbeats(echo_server: RunningServer, mode_name: str) -> None:
    """The client answers the server's pings (every 0.5 s here) and the session
    stays up on its transport across several of them."""
    transports, expected_transport = MODES[mode_name]
    client: Any = engineio.AsyncClient(handle_sigint=False)
    received: asyncio.Queue[Any] = asyncio.Queue()
    disconnects: list[str] = []
    pings = 0
    settled = asyncio.Event()  # enough pings, or the session ended

    # The client has no ping event: count the PING packets it handles.
    handle_packet = client._receive_packet

    async def counting_receive_packet(packet: Any) -> None:
        nonlocal pings
        await handle_packet(packet)
        if packet.packet_type == engineio.packet.PING:
            pings += 1
            if pings >= PINGS:
                settled.set()

    def on_disconnect(reason: str) -> None:
        disconnects.append(reason)
        settled.set()

    client._receive_packet = counting_receive_packet
    client.on("message", received.put_nowait)
    client.on("disconnect", on_disconnect)
    try:
        with anyio.fail_after(DEADLINE):
            await client.connect(echo_server.url, transports=transports)
            await settled.wait()
            assert disconnects == [], f"session ended after {pings} pings"
            assert client.transport() == expected_transport
            await client.send("still here")
            echoed = await received.get()
    finally:
        with anyio.fail_after(DEADLINE):
            await client.disconnect()

    assert echoed == "still here"
    assert disconnects == [client.reason.CLIENT_DISCONNECT]
