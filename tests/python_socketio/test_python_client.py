"""python-socketio's ``AsyncClient`` against python-socketio on engineio_sc."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio
import pytest
import socketio

from ..live.conftest import Serve
from .app import (
    APPS,
    CLIENT_DISCONNECT,
    REFUSED,
    ROOM,
    SERVER_DISCONNECT,
    TOKEN,
    ScenarioServer,
)
from .client import disconnect, new_client

pytestmark = pytest.mark.anyio

DEADLINE = 15.0
"""Seconds for the whole scenario."""

MODES: dict[str, tuple[list[str] | None, str]] = {
    "polling": (["polling"], "polling"),
    "websocket": (["websocket"], "websocket"),
    "upgrade": (None, "websocket"),  # the default: polling, then upgrade
}


class Client:
    """A python-socketio ``AsyncClient`` that queues what it receives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sio: Any = new_client()
        self.received: dict[str, asyncio.Queue[Any]] = {
            event: asyncio.Queue() for event in ("connect_error", "shouted", "bytes", "disconnect")
        }
        self.questions: list[Any] = []
        for event, queue in self.received.items():
            self.sio.on(event, queue.put_nowait)
        self.sio.on("question", self.question)

    def question(self, number: int) -> int:
        self.questions.append(number)
        return number * 2

    async def connect(self, url: str, transports: list[str] | None, token: str = TOKEN) -> None:
        await self.sio.connect(
            url, auth={"token": token, "name": self.name}, transports=transports, wait_timeout=5
        )

    async def disconnect(self) -> None:
        await disconnect(self.sio)


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("mode", list(MODES))
async def test_socketio_scenario(
    serve: Serve, mode: str, app: str, clean_logs: Callable[[], None]
) -> None:
    transports, transport = MODES[mode]
    server = ScenarioServer(clients=2, app=app)
    a, b = Client("A"), Client("B")
    async with serve(server.app) as url:
        with anyio.fail_after(DEADLINE):
            refused = Client("C")
            with pytest.raises(socketio.exceptions.ConnectionError):
                await refused.connect(url, transports, token="wrong")
            assert await refused.received["connect_error"].get() == {"message": REFUSED}

            await a.connect(url, transports)
            await b.connect(url, transports)
            assert (a.sio.transport(), b.sio.transport()) == (transport, transport)
            a_sid, b_sid = a.sio.get_sid(), b.sio.get_sid()
            assert server.auths == {
                a_sid: {"token": TOKEN, "name": "A"},
                b_sid: {"token": TOKEN, "name": "B"},
            }

            sent = {"text": "héllo ✓", "list": [1, 2.5, None, True]}
            reply = await a.sio.call("echo", sent)
            assert reply == {"echo": sent, "name": "A", "transport": transport}

            assert [await a.sio.call("join", ROOM), await b.sio.call("join", ROOM)] == [ROOM] * 2
            await a.sio.emit("shout", "hello room")
            shouted = {"text": "hello room", "from": "A"}
            assert [await a.received["shouted"].get(), await b.received["shouted"].get()] == [
                shouted,
                shouted,
            ]

            payload = bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])
            assert await a.sio.call("bytes", payload) == payload
            assert await a.received["bytes"].get() == payload[::-1]

            assert await a.sio.call("call_me", 21) == 42
            assert a.questions == [21]
            assert server.answers == [42]

            await b.sio.emit("kick_me")
            assert await b.received["disconnect"].get() == b.sio.reason.SERVER_DISCONNECT

            await a.disconnect()
            assert await a.received["disconnect"].get() == a.sio.reason.CLIENT_DISCONNECT
            await server.all_disconnected.wait()
        if app == "socketio":
            # No lifespan reaches the engine through socketio.ASGIApp: python-socketio
            # asks for shutdown() before the web server stops.
            await server.sio.shutdown()

    assert server.disconnects == {b_sid: SERVER_DISCONNECT, a_sid: CLIENT_DISCONNECT}
    assert server.started_in_background.is_set() is (app == "engineio_sc")
    assert all(queue.empty() for client in (refused, a, b) for queue in client.received.values())
    clean_logs()
