"""python-socketio's ``AsyncClient`` playing the full scenario of
tests/js/socketio-client.mjs, step for step, with the same report.

python-socketio's client runs on asyncio only: :func:`run_player` plays in a
thread of its own, with its own event loop, so that the server may run on trio
or asyncio in the test's thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from ..node_driver import Mode, StepReport
from ..python_socketio.client import disconnect, new_client, send_disconnect
from .app import ALT_PATH, CHAT, NAMES, TOKEN

DEADLINE = 15.0
"""Seconds for the whole scenario."""
PAYLOAD = bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])
"""The bytes both drivers send."""


def hexify(value: Any) -> Any:
    """``value`` with its bytes as ``{"hex": ...}``, as the Node driver reports them."""
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, list | tuple):
        return [hexify(item) for item in value]
    if isinstance(value, dict):
        return {key: hexify(item) for key, item in value.items()}
    return value


class Player:
    """One client: an ``AsyncClient`` (one Engine.IO connection, at ``/alt/`` for
    C) in ``'/'`` and ``'/chat'``, that keeps what it receives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sio: Any = new_client()
        self.shouted: list[Any] = []
        self.said: list[Any] = []
        self.questions: list[Any] = []
        self.held = False
        self.released = asyncio.Event()
        self.refusals: asyncio.Queue[Any] = asyncio.Queue()
        self.welcomes: asyncio.Queue[Any] = asyncio.Queue()
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.bytes: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.reasons = {namespace: asyncio.Queue[str]() for namespace in ("/", CHAT)}
        on = self.sio.on
        on("connect_error", self.refusals.put_nowait)
        on("welcome", self.welcomes.put_nowait)
        on("shouted", self.shouted.append)
        on("vote", lambda question: name)
        on("question", self.question)
        on("hold", self.hold)
        on("release", self.released.set)
        on("message", self.messages.put_nowait)
        on("said", self.said.append, namespace=CHAT)
        on("bytes", lambda *args: self.bytes.put_nowait(args), namespace=CHAT)
        for namespace, reasons in self.reasons.items():
            on("disconnect", reasons.put_nowait, namespace=namespace)

    def question(self, number: int) -> tuple[int, bytes]:
        self.questions.append(number)
        return number * 2, PAYLOAD

    async def hold(self) -> None:
        """Answer only once ``release`` came."""
        self.held = True
        await self.released.wait()

    async def connect(self, url: str, mode: Mode, token: str = TOKEN) -> None:
        """Join ``'/'`` and ``'/chat'`` (``'/'`` alone with a wrong token)."""
        await self.sio.connect(
            f"{url}?client={self.name}",
            auth={"token": token, "name": self.name},
            transports=mode.transports.split(","),
            namespaces=["/", CHAT] if token == TOKEN else ["/"],
            socketio_path=ALT_PATH if self.name == "C" else "socket.io",
            wait_timeout=5,
        )

    async def call(self, event: str, data: Any = None, namespace: str = "/") -> Any:
        return await self.sio.call(event, data, namespace=namespace, timeout=5)


async def play(url: str, mode: Mode) -> list[dict[str, Any]]:
    """The scenario's steps, as the Node driver reports them."""
    steps: list[dict[str, Any]] = []
    report = steps.append

    refused = Player("R")
    try:
        await refused.connect(url, mode, token="wrong")
    except socketio.exceptions.ConnectionError:
        refusal = await refused.refusals.get()
        report({"step": "refused", "message": refusal["message"], "data": refusal.get("data")})
    else:
        raise AssertionError("a connection with a wrong token was accepted")

    players = {name: Player(name) for name in NAMES}
    for name, p in players.items():
        await p.connect(url, mode)
        root, chat = p.sio.get_sid("/"), p.sio.get_sid(CHAT)
        welcome = await p.welcomes.get()
        transport = p.sio.transport()
        report(
            {
                "step": "connect",
                "name": name,
                "root": root,
                "chat": chat,
                "transport": transport,
                "welcome": welcome,
            }
        )
    a, b, c = players.values()
    for p in (a, b, c):
        report({"step": "whoami", "name": p.name, "reply": await p.call("whoami")})
    report({"step": "count", "replies": [await a.call("count"), await a.call("count")]})

    rooms = {}
    for p, room in ((a, "red"), (b, "red"), (c, "blue")):
        rooms[p.name] = await p.call("join", room, CHAT)
    report({"step": "join", "rooms": rooms})

    async def say(text: str, skip_self: bool) -> None:
        await a.call("say", {"text": text, "room": "red", "skip_self": skip_self}, CHAT)

    await a.call("shout", "hi all")
    await say("s1", True)
    await say("s2", False)
    left = await b.call("leave", "red", CHAT)
    await say("s3", False)
    closed = await a.call("close", "red", CHAT)
    await say("s4", False)
    report({"step": "rooms", "left": left, "closed": closed})
    for p in (a, b, c):
        rooms_now = await p.call("rooms", namespace=CHAT)
        said = hexify(p.said)
        report(
            {
                "step": "received",
                "name": p.name,
                "shouted": p.shouted,
                "said": said,
                "rooms": rooms_now,
            }
        )

    ack = await a.call("bytes", {"blob": PAYLOAD}, CHAT)
    report({"step": "bytes", "ack": hexify(ack), "event": hexify(await a.bytes.get())})

    report({"step": "survey", "reply": await a.call("survey")})
    answer = await b.call("call_me", 21)
    report({"step": "call", "question": b.questions, "answer": hexify(answer)})
    reply = await c.call("call_late")
    report({"step": "timeout", "reply": reply, "held": c.held})

    later = await a.call("later", 7)
    report({"step": "later", "ack": later, "message": await a.messages.get()})

    await c.sio.emit("kick_me", namespace=CHAT)
    kicked = await c.reasons[CHAT].get()
    report({"step": "kicked", "reason": kicked, "whoami": await c.call("whoami")})

    # The client has no API to leave one namespace: its packet, and forget it.
    await send_disconnect(b.sio, CHAT)
    del b.sio.namespaces[CHAT]
    report({"step": "left", "reason": None, "whoami": await b.call("whoami")})

    reasons = {}
    for p in (a, b, c):
        namespaces = list(p.sio.namespaces)
        await disconnect(p.sio)
        reasons[p.name] = [await p.reasons[namespace].get() for namespace in namespaces]
    report({"step": "bye", "reasons": reasons})
    report({"step": "done", "ok": True})
    return steps


def run_player(url: str, mode: Mode) -> StepReport:
    """Play the scenario against ``url`` in a new event loop (call it in a thread)."""

    async def bounded() -> list[dict[str, Any]]:
        async with asyncio.timeout(DEADLINE):
            return await play(url, mode)

    return StepReport.of(asyncio.run(bounded()))
