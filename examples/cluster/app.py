"""One worker of a Socket.IO cluster. Every worker process runs this same app; a
Redis manager carries emits, room changes, disconnects and acks between them,
so that a client may be reached from any worker.

Run three workers from the repository root, with a Redis server at
``REDIS_URL``, then nginx in front of them (README.md)::

    export REDIS_URL=redis://127.0.0.1:6379/0
    WORKER_NAME=w1 hypercorn examples.cluster.app:app --worker-class trio --bind 127.0.0.1:8001
    WORKER_NAME=w2 uvicorn examples.cluster.app:app --host 127.0.0.1 --port 8002
    WORKER_NAME=w3 hypercorn examples.cluster.app:app --worker-class asyncio --bind 127.0.0.1:8003

The environment:

- ``REDIS_URL``: the Redis server (default ``redis://127.0.0.1:6379/0``);
- ``REDIS_CHANNEL``: the pub/sub channel the workers share (default ``socketio``);
- ``WORKER_NAME``: this worker's name, given in ``whoami``'s answer (default
  the host name and process id).

What a client sends (each handler's return value is the client's ack); a sid
may be that of a client on any worker:

- ``whoami()``: ``{"worker": name, "sid": sid}``;
- ``join(room)``, ``leave(room)``: enter or leave ``room``; the ack is the
  client's rooms, sorted;
- ``put({"sid": sid, "room": room})``: put another client in ``room``;
- ``shout({"text": text, "room": room, "skip_self": bool})``: emit ``shouted``
  ``{"text": text, "from": sid}`` to ``room`` (everyone without one), but the
  sender with ``skip_self``;
- ``tell({"to": sid, "text": text})``: emit ``told`` ``{"text": text, "from":
  sid}`` to that client;
- ``ask({"to": sid, "question": data})``: call ``question`` on that client; the
  ack is ``{"answer": its ack}``, or ``{"error": "timeout"}``;
- ``kick(sid)``: disconnect that client.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from engineio_sc import socketio

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL = os.environ.get("REDIS_CHANNEL", "socketio")
WORKER = os.environ.get("WORKER_NAME") or f"{socket.gethostname()}:{os.getpid()}"
ASK_TIMEOUT = 5.0
"""Seconds an ``ask`` waits for the other client's ack."""

sio = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(REDIS_URL, channel=CHANNEL))


def _sid(value: Any) -> str:
    """A sid (or room) the client sent; ``''`` unless it is a string."""
    return value if isinstance(value, str) else ""


def _fields(data: Any) -> dict[str, Any]:
    """The fields of an event's argument; none unless it is an object."""
    return data if isinstance(data, dict) else {}


@sio.event
async def whoami(sid: str) -> dict[str, str]:
    """Which worker serves the client, and its sid."""
    return {"worker": WORKER, "sid": sid}


@sio.event
async def join(sid: str, room: Any) -> list[str]:
    """Enter ``room``."""
    if room := _sid(room):
        await sio.enter_room(sid, room)
    return sorted(sio.rooms(sid))


@sio.event
async def leave(sid: str, room: Any) -> list[str]:
    """Leave ``room``."""
    if room := _sid(room):
        await sio.leave_room(sid, room)
    return sorted(sio.rooms(sid))


@sio.event
async def put(sid: str, data: Any) -> bool:
    """Put another client in a room, whichever worker holds it."""
    fields = _fields(data)
    other, room = _sid(fields.get("sid")), _sid(fields.get("room"))
    if other and room:
        await sio.enter_room(other, room)
    return bool(other and room)


@sio.event
async def shout(sid: str, data: Any) -> bool:
    """Emit ``shouted`` to a room, or to everyone."""
    fields = _fields(data)
    message = {"text": fields.get("text"), "from": sid}
    skip = sid if fields.get("skip_self") else None
    await sio.emit("shouted", message, to=_sid(fields.get("room")) or None, skip_sid=skip)
    return True


@sio.event
async def tell(sid: str, data: Any) -> bool:
    """Emit ``told`` to one client."""
    fields = _fields(data)
    if other := _sid(fields.get("to")):
        await sio.emit("told", {"text": fields.get("text"), "from": sid}, to=other)
    return bool(other)


@sio.event
async def ask(sid: str, data: Any) -> dict[str, Any]:
    """Call ``question`` on another client and give back its answer."""
    fields = _fields(data)
    try:
        answer = await sio.call(
            "question", fields.get("question"), to=_sid(fields.get("to")), timeout=ASK_TIMEOUT
        )
    except TimeoutError:
        return {"error": "timeout"}
    return {"answer": answer}


@sio.event
async def kick(sid: str, other: Any) -> bool:
    """Disconnect another client, whichever worker holds it."""
    if other := _sid(other):
        await sio.disconnect(other)
    return bool(other)


app = socketio.ASGIApp(sio)
