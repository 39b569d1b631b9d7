"""The Socket.IO clients of one server, by Engine.IO session, and the delivery
of packets to them: :class:`ClientTable`, the server's :class:`~._manager.Outlet`.

A socket (a client in one namespace) that is still joining holds what is sent to
it until the server has sent its ``CONNECT`` answer, so that the answer comes
first, as the reference server does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from .. import AsyncServer as EngineServer
from .. import Packet as EnginePacket
from .. import PacketType as EnginePacketType
from ..exceptions import QueueFullError
from ._manager import Callback, Messages
from ._runner import Runner
from .exceptions import TimeoutError
from .protocol import Connection, EventReceived, Packet, encode

__all__ = ["AckWaiter", "Client", "ClientTable", "Socket"]

MAX_PENDING_ACKS = 1024
"""The most acks one client may owe; past it, the oldest is forgotten."""


class AckWaiter:
    """What :meth:`AsyncServer.call` waits on: the ack's arguments, or the
    client's departure."""

    __slots__ = ("_done", "args")

    def __init__(self) -> None:
        self._done = anyio.Event()
        self.args: tuple[Any, ...] | None = None

    def __call__(self, *args: Any) -> None:
        self.args = args
        self._done.set()

    def forget(self) -> None:
        """The ack will never come."""
        self._done.set()

    async def wait(self, timeout: float | None) -> tuple[Any, ...]:
        """The ack's arguments.

        Raises:
            TimeoutError: none came within ``timeout`` seconds, or the client went.
        """
        with anyio.move_on_after(timeout):
            await self._done.wait()
        if self.args is None:
            raise TimeoutError("no answer" if not self._done.is_set() else "the client went away")
        return self.args


@dataclass(slots=True, eq=False)
class Socket:
    """A client in one namespace.

    Attributes:
        sid: its Socket.IO sid.
        namespace: the namespace.
        client: its Engine.IO session's client.
        session: the application's session dict.
        held: what waits for the ``CONNECT`` answer while it is joining, or ``None``
            once joined.
    """

    sid: str
    namespace: str
    client: Client
    session: dict[str, Any] = field(default_factory=dict)
    held: list[Messages] | None = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Client:
    """One Engine.IO session's Socket.IO state.

    Attributes:
        eio_sid: the Engine.IO session id.
        environ: the WSGI-style environ of its first request.
        connection: the protocol core's state.
        sockets: its socket in each namespace it has joined or is joining.
        callbacks: what waits for each ack id.
        runner: runs its event handlers.
    """

    eio_sid: str
    environ: dict[str, Any]
    connection: Connection
    runner: Runner[tuple[Socket, EventReceived]]
    sockets: dict[str, Socket] = field(default_factory=dict)
    callbacks: dict[int, Callback] = field(default_factory=dict)


Dumps = Callable[[Any], str]


class ClientTable:
    """The server's clients, and how packets reach them.

    Args:
        eio: the engine.
        dumps: the JSON encoder.
        logger: where dropped deliveries are logged.
    """

    def __init__(self, eio: EngineServer, dumps: Dumps, logger: logging.Logger) -> None:
        self._eio = eio
        self._dumps = dumps
        self._log = logger
        self.clients: dict[str, Client] = {}
        self.sockets: dict[str, Socket] = {}
        self.joining: dict[tuple[str, str], Socket] = {}

    def encode(self, packet: Packet) -> Messages:
        """The messages that carry ``packet``."""
        return encode(packet, self._dumps)

    def _hold(self, eio_sid: str, namespace: str, messages: Messages) -> bool:
        socket = self.joining.get((eio_sid, namespace))
        if socket is None or socket.held is None:
            return False
        if len(socket.held) >= self._eio.options.max_queue_size:
            self._log.warning("%s: too much sent while it joins %s, dropped", eio_sid, namespace)
        else:
            socket.held.append(messages)
        return True

    async def deliver(self, eio_sid: str, namespace: str, messages: Messages) -> None:
        """Send to one client, as the engine's ``queue_full`` says."""
        if self.joining and self._hold(eio_sid, namespace, messages):
            return
        await self.send(eio_sid, messages)

    async def send(self, eio_sid: str, messages: Messages) -> None:
        """Send to one client now."""
        if len(messages) == 1:
            await self._eio.send_packet(
                eio_sid, EnginePacket(EnginePacketType.MESSAGE, messages[0])
            )
        else:
            await self._eio.send_packets(
                eio_sid, [EnginePacket(EnginePacketType.MESSAGE, m) for m in messages]
            )

    async def broadcast(
        self, recipients: Sequence[str], namespace: str, messages: Messages
    ) -> None:
        """Put the same messages on each recipient's queue, with no task per
        recipient. A recipient whose queue is full is served as ``queue_full``
        says: waited for, skipped (logged), or disconnected (logged)."""
        packets = [EnginePacket(EnginePacketType.MESSAGE, m) for m in messages]
        eio = self._eio
        full: list[str] = []
        joining = self.joining
        for eio_sid in recipients:
            if joining and self._hold(eio_sid, namespace, messages):
                continue
            try:
                eio.send_packets_nowait(eio_sid, packets)
            except QueueFullError:
                full.append(eio_sid)
        policy = eio.options.queue_full
        for eio_sid in full:
            if policy == "wait":
                await eio.send_packets(eio_sid, packets)
            elif policy == "raise":
                self._log.warning("%s: its queue is full, a broadcast skips it", eio_sid)
            else:
                self._log.warning("%s: its queue is full, disconnecting it", eio_sid)
                await eio.disconnect(eio_sid)

    def add_callback(self, eio_sid: str, callback: Callback) -> int | None:
        """Register ``callback`` for the client's next ack id; ``None`` if the
        client is gone. Past :data:`MAX_PENDING_ACKS` owed acks, the oldest is
        forgotten (logged)."""
        client = self.clients.get(eio_sid)
        if client is None:
            return None
        callbacks = client.callbacks
        if len(callbacks) >= MAX_PENDING_ACKS:
            oldest = next(iter(callbacks))
            self._log.warning("%s: owes %d acks, forgetting the oldest", eio_sid, len(callbacks))
            forgotten = callbacks.pop(oldest)
            if isinstance(forgotten, AckWaiter):
                forgotten.forget()
        ack_id = client.connection.next_ack_id()
        callbacks[ack_id] = callback
        return ack_id

    def forget(self, sid: str, callback: Callback) -> None:
        """``callback`` no longer waits for ``sid``'s ack (its ``call()`` timed out)."""
        socket = self.sockets.get(sid)
        if socket is None:
            return
        callbacks = socket.client.callbacks
        for ack_id in [i for i, waiting in callbacks.items() if waiting is callback]:
            del callbacks[ack_id]

    def remove(self, eio_sid: str) -> Client | None:
        """Forget a client whose Engine.IO session ended, and its sockets still
        joining (a joined socket goes once its disconnect handler has run); what
        waits for its acks stops waiting."""
        client = self.clients.pop(eio_sid, None)
        if client is None:
            return None
        client.runner.close()
        for socket in client.sockets.values():
            self.joining.pop((eio_sid, socket.namespace), None)
            if socket.held is not None:
                self.sockets.pop(socket.sid, None)
        for callback in client.callbacks.values():
            if isinstance(callback, AckWaiter):
                callback.forget()
        client.callbacks.clear()
        return client
