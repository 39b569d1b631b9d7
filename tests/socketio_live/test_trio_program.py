"""A trio program, run by ``trio.run``: the Socket.IO server (``async with sio:``),
Hypercorn and a client in one nursery; an event sent by the connect handler
(after the ``CONNECT`` answer), the client's round trip, a shutdown while it is
still connected, and nothing left running at the end.

The client speaks Socket.IO over the suite's WebSocket client (tests/live/wsclient.py),
on trio like the rest of the program (python-socketio's client runs on asyncio only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import trio
from hypercorn.trio import serve

from engineio_sc import socketio

from ..live.conftest import hypercorn_config, listening_socket, task_count
from ..live.wsclient import connect as open_websocket

DEADLINE = 20.0
"""Seconds for the whole program."""
AUTH = {"name": "trio"}
TEXT = "round trip ✓"


def packet(head: str, data: Any) -> str:
    """A Socket.IO packet as the server writes it: compact JSON."""
    return head + json.dumps(data, separators=(",", ":"))


def test_trio_program(clean_logs: Callable[[], None]) -> None:
    seen, sid = trio.run(program)
    assert seen == [
        ("connect", sid, AUTH),
        ("echo", sid, TEXT),
        ("disconnect", sid, "server disconnect"),
    ]
    clean_logs()


async def program() -> tuple[list[tuple[str, str, Any]], str]:
    """What the server's handlers saw, and the client's sid."""
    baseline = task_count()
    sio = socketio.AsyncServer(async_handlers=False, connect_timeout=5, ping_interval=5)
    seen: list[tuple[str, str, Any]] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.append(("connect", sid, auth))
        await sio.emit("welcome", auth["name"], to=sid)  # held until the CONNECT answer

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        seen.append(("echo", sid, data))
        return data

    @sio.event
    def disconnect(sid: str, reason: str) -> None:
        seen.append(("disconnect", sid, reason))

    sock = listening_socket()
    url = f"ws://127.0.0.1:{sock.getsockname()[1]}/socket.io/?EIO=4&transport=websocket"
    config = hypercorn_config(sock)
    stop = trio.Event()
    with trio.fail_after(DEADLINE):
        async with sio, trio.open_nursery() as nursery:
            app = socketio.ASGIApp(sio)
            nursery.start_soon(partial(serve, app, config, shutdown_trigger=stop.wait))
            async with open_websocket(url) as ws:
                assert str(await ws.receive()).startswith("0{")
                await ws.send(packet("40", AUTH))
                connected = str(await ws.receive())
                assert connected.startswith("40")
                sid = json.loads(connected[2:])["sid"]
                assert await ws.receive() == packet("42", ["welcome", AUTH["name"]])
                await ws.send(packet("421", ["echo", TEXT]))
                assert await ws.receive() == packet("431", [TEXT])
                await sio.shutdown()
                assert await ws.receive() is None
                assert ws.close_code == 1000
            stop.set()
    assert task_count() == baseline
    return seen, sid
