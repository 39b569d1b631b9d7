"""A bare ASGI echo with no Engine.IO layer: the ceiling of each ASGI server.

On WebSocket, every path is accepted (``/engine.io/`` included) and every frame goes
back unchanged: there is no handshake packet, no ping and no packet type.

Over HTTP, it answers the requests of the polling echo with the least work that
still satisfies an Engine.IO client: a handshake gets an open packet with a new sid,
a ``POST`` is split on the record separator and its messages are kept, a ``GET``
takes what is kept (waiting for it if there is none yet), and a close packet ends
the session. No heartbeat, no session machine, no checks: whatever the client
sends is trusted. Any other path gets a short 200, so that the runner can probe
readiness.

It runs the same on every ASGI server and event loop: it awaits ``receive`` and
``send``, and waits for a message with an :class:`anyio.Event`.
"""

from __future__ import annotations

import itertools
from typing import Any

import _settings
import anyio
from _bare import Receive, Send, lifespan, open_packet, reply

_settings.tune_gc()

SEPARATOR = "\x1e"
CLOSE = "1"


class _Polling:
    """One polling session: the messages not yet taken, and a ``GET`` waiting for them."""

    __slots__ = ("closed", "kept", "wake")

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.wake: anyio.Event | None = None
        self.closed = False

    def put(self, packets: list[str], *, closed: bool) -> None:
        self.kept += packets
        self.closed = self.closed or closed
        if self.wake is not None:
            self.wake.set()
            self.wake = None

    async def take(self) -> str:
        while not self.kept and not self.closed:
            self.wake = anyio.Event()
            await self.wake.wait()
        kept, self.kept = self.kept, []
        return SEPARATOR.join(kept) if kept else CLOSE


_sids = (f"s{n}" for n in itertools.count())
_sessions: dict[str, _Polling] = {}


async def _read_body(receive: Receive) -> str:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks).decode()


def _sid(query_string: bytes) -> str | None:
    for part in query_string.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name == "sid":
            return value
    return None


async def _http(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Serve the polling echo on ``/engine.io/``, a short 200 elsewhere."""
    if not scope["path"].startswith("/engine.io"):
        await reply(send, b"bare echo\n")
        return
    sid = _sid(scope["query_string"])
    if sid is None:
        sid = next(_sids)
        _sessions[sid] = _Polling()
        await reply(send, open_packet(sid).encode())
        return
    session = _sessions[sid]
    if scope["method"] == "POST":
        packets = (await _read_body(receive)).split(SEPARATOR)
        closed = CLOSE in packets
        if closed:
            del _sessions[sid]
        session.put([p for p in packets if p[:1] == "4"], closed=closed)
        await reply(send, b"ok", b"text/html")
        return
    await reply(send, (await session.take()).encode())


async def _websocket(receive: Receive, send: Send) -> None:
    """Accept the WebSocket and send every frame back until the client leaves."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
        elif kind == "websocket.disconnect":
            return


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "websocket":
        await _websocket(receive, send)
