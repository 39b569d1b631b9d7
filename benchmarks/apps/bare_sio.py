"""A bare Socket.IO server: the ceiling of the Socket.IO scenarios on each ASGI server.

A raw ASGI WebSocket application that speaks just enough Engine.IO v4 and
Socket.IO v5, hard-coded, for ``sio-echo`` and ``sio-fanout`` and nothing else,
the least work the load generator accepts; no Socket.IO server can do less on
the same ASGI server. Every text frame is trusted and read with string
operations only (no JSON parsing):

- the WebSocket accepted (any path), the open packet
  ``0{"sid":...,"upgrades":[],"pingInterval":...}`` (the settings of ``_settings``);
- ``40`` (connect to the main namespace) answered ``40{"sid":...}``;
- ``42<id>["echo",<data>]`` answered ``43<id>[<data>]``;
- ``42<id>["join"]``: the socket enters the room, then ``43<id>[true]``;
- ``42["fanout",<data>]``: ``42["tick",<data>]`` sent to every socket of the room,
  one after the other, each send awaited in the emitter's own task;
- anything else (a pong, a close packet, a binary frame) ignored.

It never pings: the load generator answers the pings that come and never times a
session out for want of them. Over HTTP, any request gets a short 200 (the runner's
readiness probe); there is no polling.

How far the broadcast goes before it waits depends on the ASGI server: uvicorn
writes a frame to the transport and returns without suspending unless the
transport's write buffer is full; Hypercorn's asyncio worker takes the
connection's send lock, writes and awaits ``drain`` (no suspension below the
buffer's limit either); Hypercorn's trio worker sends each frame with
``send_all``, a checkpoint, so the loop yields between members.
"""

from __future__ import annotations

import itertools
from typing import Any

import _settings
from _bare import Receive, Send, lifespan, open_packet, reply

_settings.tune_gc()

ACCEPT = {"type": "websocket.accept"}
ECHO = '["echo",'
FANOUT = '["fanout",'
JOIN = '["join"]'

_ids = itertools.count()
_room: set[Send] = set()
"""The ``send`` of every socket in the room of the broadcasts."""


def _frame(text: str) -> dict[str, Any]:
    return {"type": "websocket.send", "text": text}


async def _broadcast(text: str) -> None:
    """Send one frame to every socket in the room, in turn (one message for all)."""
    message = _frame(text)
    for send in tuple(_room):  # a member may leave while the loop waits
        try:
            await send(message)
        except OSError:  # uvicorn: that client has gone (Hypercorn drops the frame)
            _room.discard(send)


async def _event(text: str, send: Send) -> None:
    """An event packet ``42[<id>][<name>,...]``: echo, join or fanout."""
    bracket = text.find("[", 2)
    if bracket < 0:
        return
    ack_id, args = text[2:bracket], text[bracket:]
    if args.startswith(ECHO):
        await send(_frame(f"43{ack_id}[{args[len(ECHO) :]}"))
    elif args.startswith(FANOUT):
        await _broadcast(f'42["tick",{args[len(FANOUT) :]}')
    elif args == JOIN:
        _room.add(send)
        await send(_frame(f"43{ack_id}[true]"))


async def _websocket(receive: Receive, send: Send) -> None:
    """One client, from the accept to its disconnect."""
    try:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                if text is None:
                    continue
                if text.startswith("42"):
                    await _event(text, send)
                elif text == "40":
                    await send(_frame(f'40{{"sid":"s{next(_ids)}"}}'))
            elif kind == "websocket.connect":
                await send(ACCEPT)
                await send(_frame(open_packet(f"e{next(_ids)}")))
            elif kind == "websocket.disconnect":
                return
    finally:
        _room.discard(send)


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    if scope["type"] == "websocket":
        await _websocket(receive, send)
    elif scope["type"] == "http":
        await reply(send, b"bare Socket.IO\n")
    elif scope["type"] == "lifespan":
        await lifespan(receive, send)
