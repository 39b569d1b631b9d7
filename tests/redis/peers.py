"""python-socketio's ``AsyncClient`` as the Redis tests use it: connected to one
worker of tests/redis/app.py, keeping every event it receives, in order."""

from __future__ import annotations

import asyncio
from itertools import count
from typing import Any

import anyio

from ..python_socketio.client import disconnect, new_client

DEADLINE = 5.0
"""Seconds for anything a test waits for: an event, an ack, a disconnect."""
ANSWER = b"\x00\x01\xfe\xff"
"""What every client sends with its answer to ``question``."""
MARKER = "marker"
"""The event a test sends after the others: once a client has it, it has had
every event sent before it (Redis and each worker keep the order)."""
PROBE_WAIT = 0.3
"""Seconds a probe waits to be delivered before the next is sent."""


class Peer:
    """A client of one worker.

    Attributes:
        events: what it received, in order: ``(event, args)``.
        disconnected: set when the server disconnected it.
        hold: while set, answers to ``question`` wait until it is set.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.sio: Any = new_client()
        self.sid = ""
        self.worker = ""
        self.events: list[tuple[str, list[Any]]] = []
        self.disconnected = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self._changed = asyncio.Event()
        self.sio.on("*", self._received)
        self.sio.on("question", self._question)
        self.sio.on("disconnect", self._disconnect)

    async def _received(self, event: str, *args: Any) -> None:
        self.events.append((event, list(args)))
        self._changed.set()

    async def _question(self, number: int) -> tuple[int, bytes]:
        self.events.append(("question", [number]))
        self._changed.set()
        if self.hold is not None:
            with anyio.move_on_after(DEADLINE):
                await self.hold.wait()
        return number * 2, ANSWER

    def _disconnect(self, reason: str) -> None:
        self.disconnected.set()

    async def connect(self, url: str, transport: str) -> Peer:
        """Connect over ``transport`` (``polling``, ``websocket``, or ``upgrade``)."""
        transports = None if transport == "upgrade" else [transport]
        with anyio.fail_after(DEADLINE):
            await self.sio.connect(url, transports=transports)
            me = await self.sio.call("whoami", timeout=DEADLINE)
        self.sid, self.worker = me["sid"], me["worker"]
        return self

    async def close(self) -> None:
        if self.sio.connected:
            with anyio.fail_after(DEADLINE):
                await disconnect(self.sio)

    async def op(self, **request: Any) -> Any:
        """Ask the worker to carry out ``request`` (see ``Worker.op``)."""
        return await self.sio.call("op", request, timeout=DEADLINE)

    async def rooms(self) -> list[str]:
        """The rooms the worker has this client in (its own sid's left out)."""
        me = await self.sio.call("whoami", timeout=DEADLINE)
        return [room for room in me["rooms"] if room != self.sid]

    async def until(self, event: str) -> list[tuple[str, list[Any]]]:
        """The events received before the first ``event`` (which is taken too),
        within :data:`DEADLINE`."""
        with anyio.fail_after(DEADLINE):
            while not any(name == event for name, _ in self.events):
                self._changed.clear()
                await self._changed.wait()
        at = next(i for i, (name, _) in enumerate(self.events) if name == event)
        before = self.events[:at]
        del self.events[: at + 1]
        return before


async def reach(sender: Peer, receiver: Peer, deadline: float = DEADLINE) -> list[str]:
    """Send ``probe`` events from ``sender``'s worker to ``receiver`` until one gets
    through, within ``deadline`` seconds (a worker subscribes to Redis with its
    first client, or after an outage), then :data:`MARKER`: the names of the
    events ``receiver`` had before it, probes included, none left after it."""
    with anyio.fail_after(deadline):
        for n in count():
            await sender.op(do="emit", event="probe", data=n, to=receiver.sid)
            with anyio.move_on_after(PROBE_WAIT):
                before = await receiver.until("probe")
                break
    await sender.op(do="emit", event=MARKER, to=receiver.sid)
    return [name for name, _ in [*before, ("probe", []), *await receiver.until(MARKER)]]
