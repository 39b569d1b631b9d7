"""A python-socketio server on engineio_sc, recording what its handlers saw.

Both client kinds (python-socketio's ``AsyncClient`` and the npm
``socket.io-client``) play the same scenario against it: connect with an auth
payload (a wrong one is refused), an event acknowledged with the handler's
return value, a broadcast to a room, bytes both ways, an acknowledged call from
the server to the client, a disconnect by the server and one by the client.
"""

from __future__ import annotations

from typing import Any

import anyio
import socketio

import engineio_sc

TOKEN = "let me in"
"""The one token the connect handler accepts."""
REFUSED = "bad token"
"""The message a refused connection gets."""
ROOM = "room-1"
CLIENT_DISCONNECT = "client disconnect"
SERVER_DISCONNECT = "server disconnect"
"""python-socketio's disconnect reasons, as its server's disconnect handler gets them."""


class AsyncServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, with engineio_sc as its Engine.IO engine."""

    def _engineio_server_class(self) -> type[engineio_sc.AsyncServer]:
        return engineio_sc.AsyncServer


APPS = ("socketio", "engineio_sc")
"""The ASGI applications that can serve the server: ``socketio.ASGIApp(sio)``,
or ``engineio_sc.ASGIApp(sio.eio, engineio_path="socket.io")``, whose lifespan
runs the engine (its ``on_startup`` starts a background task here)."""


class ScenarioServer:
    """The scenario's server, in one of :data:`APPS`, with what it saw.

    Args:
        clients: how many clients connect (and so disconnect) in the scenario.
        app: which of :data:`APPS` serves it.
    """

    def __init__(self, clients: int, app: str = "socketio") -> None:
        self.sio: Any = AsyncServer(async_mode="asgi")
        if app == "socketio":
            self.app: Any = socketio.ASGIApp(self.sio)
        else:
            self.app = engineio_sc.ASGIApp(
                self.sio.eio, engineio_path="socket.io", on_startup=self.startup
            )
        self.started_in_background = anyio.Event()
        self.auths: dict[str, dict[str, Any]] = {}
        self.answers: list[Any] = []
        self.disconnects: dict[str, str] = {}
        self.all_disconnected = anyio.Event()
        self._clients = clients
        sio = self.sio
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("echo", self.echo)
        sio.on("join", self.join)
        sio.on("shout", self.shout)
        sio.on("bytes", self.bytes)
        sio.on("call_me", self.call_me)
        sio.on("kick_me", self.kick_me)

    def startup(self) -> None:
        self.sio.start_background_task(self.started_in_background.set)

    def name(self, sid: str) -> str:
        """The name the client gave in its auth payload."""
        return str(self.auths[sid]["name"])

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not isinstance(auth, dict) or auth.get("token") != TOKEN:
            raise socketio.exceptions.ConnectionRefusedError(REFUSED)
        self.auths[sid] = auth

    async def disconnect(self, sid: str, reason: str) -> None:
        self.disconnects[sid] = reason
        if len(self.disconnects) == self._clients:
            self.all_disconnected.set()

    async def echo(self, sid: str, data: Any) -> dict[str, Any]:
        return {"echo": data, "name": self.name(sid), "transport": self.sio.transport(sid)}

    async def join(self, sid: str, room: str) -> str:
        await self.sio.enter_room(sid, room)
        return room

    async def shout(self, sid: str, text: str) -> None:
        await self.sio.emit("shouted", {"text": text, "from": self.name(sid)}, room=ROOM)

    async def bytes(self, sid: str, data: bytes) -> bytes:
        """Echoed twice: as an event (a python-engineio packet handed to
        ``send_packet``) and as the acknowledgement (through ``send``)."""
        await self.sio.emit("bytes", data[::-1], to=sid)
        return data

    async def call_me(self, sid: str, number: int) -> Any:
        answer = await self.sio.call("question", number, to=sid, timeout=10)
        self.answers.append(answer)
        return answer

    async def kick_me(self, sid: str) -> None:
        await self.sio.disconnect(sid)
