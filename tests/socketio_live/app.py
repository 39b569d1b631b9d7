"""The engineio_sc.socketio server of the full scenario, recording what its
handlers saw.

Both client kinds play the scenario against it: the npm ``socket.io-client``
(``tests/js/socketio-client.mjs --scenario full``, which describes its steps) and
python-socketio's ``AsyncClient`` (:mod:`.player`). The namespace ``'/'`` has
function handlers (``on`` and ``event``); ``'/chat'`` is the class-based
:class:`Chat`. The server is served by ``ASGIApp`` with hooks and another ASGI
app, which answers ``/hello`` and hands ``/alt/`` to ``handle_request``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import anyio

from engineio_sc import socketio

TOKEN = "let me in"
"""The one token the connect handlers accept."""
REFUSED = "bad token"
REFUSED_DATA = {"retry": False}
"""The message and data of a refused connection."""
CHAT = "/chat"
ALT_PATH = "alt"
"""Where the other app serves Socket.IO through ``handle_request`` (client C)."""
NAMES = ("A", "B", "C")
"""The clients that connect, to both namespaces."""
CALL_TIMEOUT = 5.0
"""Seconds for a client to answer the server's ``call()`` and ``emit()`` acks."""
LATE = 0.1
"""The timeout of the call that the client answers only after it has timed out."""
HELLO = b"hello from the other app"


class Chat(socketio.AsyncNamespace):
    """``'/chat'``: rooms, bytes and a disconnect by the server, through the
    namespace's own methods."""

    def __init__(self, app: ScenarioApp) -> None:
        super().__init__(CHAT)
        self.app = app

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        self.app.admit(CHAT, sid, auth)
        await self.save_session(sid, {"name": auth["name"]})

    def on_disconnect(self, sid: str, reason: str) -> None:
        self.app.gone(CHAT, sid, reason)

    async def on_join(self, sid: str, room: str) -> list[str]:
        await self.enter_room(sid, room)
        return sorted(self.rooms(sid))

    async def on_leave(self, sid: str, room: str) -> list[str]:
        await self.leave_room(sid, room)
        return sorted(self.rooms(sid))

    async def on_close(self, sid: str, room: str) -> list[str]:
        await self.close_room(room)
        return sorted(self.rooms(sid))

    def on_rooms(self, sid: str) -> list[str]:
        return sorted(self.rooms(sid))

    async def on_say(self, sid: str, data: dict[str, Any]) -> bool:
        async with self.session(sid) as session:
            name = session["name"]
        skip = sid if data["skip_self"] else None
        said = {"text": data["text"], "from": name, "utf8": data["text"].encode()}
        await self.emit("said", said, room=data["room"], skip_sid=skip)
        return True

    async def on_bytes(self, sid: str, data: dict[str, bytes]) -> dict[str, bytes]:
        blob = data["blob"]
        await self.emit("bytes", (blob[::-1], {"n": [blob, 1]}), to=sid)
        return data

    async def on_kick_me(self, sid: str) -> None:
        await self.disconnect(sid)


class ScenarioApp:
    """The server, its ASGI app, and what it saw.

    Attributes:
        auths: the auth of each accepted ``(namespace, sid)``.
        disconnects: the reason each ``(namespace, sid)`` left with.
        all_gone: set once every client left both namespaces.
        answers: what the clients answered to ``call()``.
        timeouts: how many ``call()`` timed out.
        lifespan: the hooks that ran, and the other app's lifespan events.
    """

    def __init__(self) -> None:
        sio = self.sio = socketio.AsyncServer()
        self.app = socketio.ASGIApp(
            sio, other_asgi_app=self.other, on_startup=self.startup, on_shutdown=self.shutdown
        )
        self.auths: dict[tuple[str, str], Any] = {}
        self.disconnects: dict[tuple[str, str], str] = {}
        self.all_gone = anyio.Event()
        self.answers: list[Any] = []
        self.timeouts = 0
        self.lifespan: list[str] = []
        sio.register_namespace(Chat(self))
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        for handler in (
            self.whoami,
            self.count,
            self.shout,
            self.survey,
            self.call_me,
            self.call_late,
            self.later,
        ):
            sio.event(handler)

    # -- the ASGI side ----------------------------------------------------------------

    def startup(self) -> None:
        self.sio.start_background_task(self.lifespan.append, "background task")
        self.lifespan.append("on_startup")

    async def shutdown(self) -> None:
        self.lifespan.append("on_shutdown")

    async def other(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The other ASGI app: the lifespan (relayed), ``/alt/`` served by the
        Socket.IO server's ``handle_request``, and ``/hello``."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan.append("other " + message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["path"].startswith(f"/{ALT_PATH}/"):
            await self.sio.handle_request(scope, receive, send)
            return
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": HELLO})

    # -- connections ------------------------------------------------------------------

    def admit(self, namespace: str, sid: str, auth: Any) -> None:
        """Accept ``auth`` or refuse the connection."""
        if not isinstance(auth, dict) or auth.get("token") != TOKEN:
            raise socketio.exceptions.ConnectionRefusedError(REFUSED, REFUSED_DATA)
        self.auths[(namespace, sid)] = auth

    def gone(self, namespace: str, sid: str, reason: str) -> None:
        self.disconnects[(namespace, sid)] = reason
        if len(self.disconnects) == 2 * len(NAMES):
            self.all_gone.set()

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        """Sends ``welcome`` while the client joins: it must come after the
        ``CONNECT`` answer."""
        self.admit("/", sid, auth)
        await self.sio.save_session(sid, {"name": auth["name"], "count": 0})
        await self.sio.emit("welcome", auth["name"], to=sid)

    async def disconnect(self, sid: str, reason: str) -> None:
        self.gone("/", sid, reason)

    # -- the events of '/' ------------------------------------------------------------

    async def whoami(self, sid: str) -> dict[str, Any]:
        session = await self.sio.get_session(sid)
        environ = self.sio.get_environ(sid)
        assert environ is not None
        return {
            "name": session["name"],
            "count": session["count"],
            "client": parse_qs(environ["QUERY_STRING"])["client"][0],
            "transport": self.sio.transport(sid),
            "rooms": sorted(self.sio.rooms(sid)),
        }

    async def count(self, sid: str) -> int:
        async with self.sio.session(sid) as session:
            session["count"] += 1
        return int(session["count"])

    async def shout(self, sid: str, text: str) -> bool:
        session = await self.sio.get_session(sid)
        await self.sio.emit("shouted", {"text": text, "from": session["name"]}, skip_sid=sid)
        return True

    async def survey(self, sid: str) -> list[str]:
        """Ask everyone in ``'/'``, one ack callback per client."""
        answers: list[str] = []
        done = anyio.Event()

        def answer(name: str) -> None:
            answers.append(name)
            if len(answers) == len(NAMES):
                done.set()

        await self.sio.emit("vote", "who are you?", callback=answer)
        with anyio.fail_after(CALL_TIMEOUT):
            await done.wait()
        return sorted(answers)

    async def call_me(self, sid: str, number: int) -> list[Any]:
        """The client answers with two arguments, a number and bytes."""
        answer = await self.sio.call("question", number, to=sid, timeout=CALL_TIMEOUT)
        self.answers.append(answer)
        return list(answer)

    async def call_late(self, sid: str) -> str:
        """The client holds its answer until ``release``, sent once the call has
        timed out."""
        try:
            await self.sio.call("hold", to=sid, timeout=LATE)
        except socketio.exceptions.TimeoutError:
            self.timeouts += 1
            reply = "timed out"
        else:
            reply = "answered"
        await self.sio.emit("release", to=sid)
        return reply

    async def later(self, sid: str, number: int) -> bool:
        self.sio.start_background_task(self.tick, sid, number)
        return True

    async def tick(self, sid: str, number: int) -> None:
        await self.sio.sleep(0)
        await self.sio.send({"later": number}, to=sid)
