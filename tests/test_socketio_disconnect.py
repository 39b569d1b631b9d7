"""A Socket.IO disconnect handler still has its client's session and rooms, as in
python-socketio, however the client went; the server forgets both once it returns.
Driven in process over long-polling, on trio's virtual clock and on asyncio."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from engineio_sc import socketio

from .asgi_client import ASGIClient, polling

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]

ROOM = "lobby"


class Seen:
    """What the server's disconnect handler saw, and the server."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncServer(ping_interval=60, close_timeout=0.2)
        self.calls: list[tuple[str, dict[str, Any], list[str], str]] = []
        self.done = anyio.Event()
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)

    async def connect(self, sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        await self.sio.save_session(sid, {"name": auth["name"]})
        await self.sio.enter_room(sid, ROOM)

    async def disconnect(self, sid: str, reason: str) -> None:
        session = await self.sio.get_session(sid)
        self.calls.append((sid, session, sorted(self.sio.rooms(sid)), reason))
        await self.sio.disconnect(sid)  # it is going already: nothing happens
        self.done.set()


@asynccontextmanager
async def joined(seen: Seen) -> AsyncIterator[tuple[ASGIClient, str, str]]:
    """A running server and a client joined to ``/`` as ``ada``: the client,
    its Engine.IO sid and its Socket.IO sid."""
    with anyio.fail_after(10):
        async with seen.sio:
            client = ASGIClient(socketio.ASGIApp(seen.sio), path="/socket.io/")
            eio_sid, _ = await client.handshake()
            await client.post(polling(eio_sid), '40{"name":"ada"}')
            answer = (await client.get(polling(eio_sid))).text
            assert answer.startswith("40"), answer
            yield client, eio_sid, json.loads(answer[2:])["sid"]


@pytest.mark.parametrize(
    ("leaving", "reason"),
    [
        ("41", "client disconnect"),  # Socket.IO DISCONNECT of "/"
        ("1", "client disconnect"),  # Engine.IO close: the whole connection
    ],
    ids=["namespace", "connection"],
)
async def test_disconnect_handler_has_the_session(leaving: str, reason: str) -> None:
    seen = Seen()
    async with joined(seen) as (client, eio_sid, sid):
        await client.post(polling(eio_sid), leaving)
        await seen.done.wait()
        assert seen.calls == [(sid, {"name": "ada"}, sorted([sid, ROOM]), reason)]
        with pytest.raises(KeyError):
            await seen.sio.get_session(sid)
        assert seen.sio.rooms(sid) == []
    assert len(seen.calls) == 1
