"""A Socket.IO chat with rooms: connect with a name, join a room, talk to the room.

Install the browser bundle of the official ``socket.io-client`` once, then run it
from the repository root and open http://127.0.0.1:3000/ in a few browser tabs::

    npm ci --prefix examples/socketio_chat
    hypercorn examples.socketio_chat.app:app --worker-class trio --bind 127.0.0.1:3000

What a client sends (each handler's return value is the client's ack):

- its name, as the auth payload of the connection: ``io({auth: {name}})``; a
  connection without one is refused;
- ``join(room)``: leave its room (if any) and enter ``room`` (one room at a
  time); the ack is ``{"room": room, "members": [names]}``;
- ``leave()``: leave its room; the ack is ``{"room": None, "members": []}``;
- ``say(text)``: send ``text`` to the others in its room; the ack is
  ``{"room": room}``, or ``{"error": why}``.

What it gets: ``message`` ``{"from": name, "text": text}`` from the others in
its room, and ``presence`` ``{"notice": "ada joined", "members": [names]}``
when someone enters or leaves the room.

The page (``index.html``, at ``/``) loads the bundle from ``/socket.io.min.js``
and talks to the server at ``/socket.io/``, on the same origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engineio_sc import socketio

HERE = Path(__file__).resolve().parent
INDEX = HERE / "index.html"
DIST = HERE / "node_modules" / "socket.io-client" / "dist"
BUNDLE = DIST / "socket.io.min.js"
"""The UMD browser bundle: it defines the global ``io``."""
NPM_INSTALL = "npm ci --prefix examples/socketio_chat"
"""How to install the bundle, from the repository root."""

MAX_NAME = 32
"""The longest name (of a person or a room) kept, in characters."""
MAX_TEXT = 2000
"""The longest message kept, in characters."""


def _require_bundle() -> None:
    """Refuse to start without the browser bundle: the page would be useless."""
    if not BUNDLE.is_file():
        raise SystemExit(
            f"examples/socketio_chat: the socket.io-client browser bundle is missing "
            f"({BUNDLE}).\nInstall it from the repository root with: {NPM_INSTALL}"
        )


_require_bundle()

# Each client's events are handled one at a time, in order: a client's join,
# leave and say never overlap, so its session always names the one room it is in.
sio = socketio.AsyncServer(async_handlers=False)


def _clean(value: object, limit: int) -> str:
    """``value`` without surrounding blanks, cut at ``limit`` characters; ``''``
    unless it is a string (clients may send anything)."""
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _members(room: str) -> list[str]:
    """The names of the people in ``room``, sorted."""
    sessions = [await sio.get_session(sid) for sid, _ in sio.manager.get_participants("/", room)]
    return sorted(session["name"] for session in sessions)


async def _leave_room(sid: str, session: dict[str, Any]) -> None:
    """Take ``sid`` out of its room, if it is in one, and tell the others there."""
    room = session["room"]
    if room is None:
        return
    session["room"] = None
    await sio.leave_room(sid, room)
    presence = {"notice": f"{session['name']} left", "members": await _members(room)}
    await sio.emit("presence", presence, room=room)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    """Let in a client that gives its name; refuse the others (the page shows why)."""
    name = _clean(auth.get("name") if isinstance(auth, dict) else None, MAX_NAME)
    if not name:
        raise socketio.exceptions.ConnectionRefusedError("a name is required")
    await sio.save_session(sid, {"name": name, "room": None})


@sio.event
async def join(sid: str, room: Any) -> dict[str, Any]:
    """Move the client to ``room``; the ack names who is there."""
    room = _clean(room, MAX_NAME)
    if not room:
        return {"error": "a room needs a name"}
    async with sio.session(sid) as session:
        if session["room"] != room:
            await _leave_room(sid, session)
            await sio.enter_room(sid, room)
            session["room"] = room
            presence = {"notice": f"{session['name']} joined", "members": await _members(room)}
            await sio.emit("presence", presence, room=room, skip_sid=sid)
    return {"room": room, "members": await _members(room)}


@sio.event
async def leave(sid: str) -> dict[str, Any]:
    """Take the client out of its room."""
    async with sio.session(sid) as session:
        await _leave_room(sid, session)
    return {"room": None, "members": []}


@sio.event
async def say(sid: str, text: Any) -> dict[str, Any]:
    """Send ``text`` to the others in the client's room (the page shows its own)."""
    text = _clean(text, MAX_TEXT)
    session = await sio.get_session(sid)
    room = session["room"]
    if room is None:
        return {"error": "join a room first"}
    if not text:
        return {"error": "nothing to send"}
    await sio.emit("message", {"from": session["name"], "text": text}, room=room, skip_sid=sid)
    return {"room": room}


@sio.event
async def disconnect(sid: str, reason: str) -> None:
    """Tell the client's room that it has gone."""
    await _leave_room(sid, await sio.get_session(sid))


app = socketio.ASGIApp(
    sio,
    static_files={
        "/": {"filename": str(INDEX), "content_type": "text/html; charset=utf-8"},
        "/socket.io.min.js": {"filename": str(BUNDLE), "content_type": "text/javascript"},
        # The bundle's sourceMappingURL, for the browser's devtools.
        "/socket.io.min.js.map": {
            "filename": str(DIST / "socket.io.min.js.map"),
            "content_type": "application/json",
        },
    },
)
