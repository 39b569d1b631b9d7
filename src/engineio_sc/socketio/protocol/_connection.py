"""One Engine.IO session's Socket.IO connection: its namespaces, the order of
their packets, and the connect timeout, as rules with no I/O.

A namespace is *absent* until the client asks to join it, *joining* while the
server decides, *joined* once accepted, and *left* after a disconnect from either
side. The reference server's rules:

- a ``CONNECT`` for a namespace that is joining or joined breaks the protocol;
- an ``EVENT`` or ``ACK`` for a namespace that is absent or still joining breaks
  the protocol; for a namespace the client has left it is ignored (it may have
  been on the wire when the client left);
- a ``DISCONNECT`` for a namespace that is not joined is ignored;
- a ``CONNECT_ERROR`` from a client breaks the protocol;
- a connection that has joined no namespace ``connect_timeout`` seconds after it
  opened is closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ._packets import Decoder, Loads, Packet, PacketType, ProtocolViolation

__all__ = [
    "AckReceived",
    "ConnectRequested",
    "Connection",
    "EventReceived",
    "Left",
    "NamespaceState",
    "ReceivedEvent",
]


class NamespaceState(Enum):
    """Where a namespace of the connection stands."""

    ABSENT = "absent"
    JOINING = "joining"
    JOINED = "joined"
    LEFT = "left"


@dataclass(slots=True)
class ConnectRequested:
    """The client asks to join ``namespace``, with its auth payload (a dict or
    ``None``). Answer with :meth:`Connection.accepted` or :meth:`Connection.refused`."""

    namespace: str
    auth: dict[str, Any] | None


@dataclass(slots=True)
class EventReceived:
    """An event: ``data`` is ``[name, *args]``; ``id`` asks for an ack."""

    namespace: str
    data: list[Any]
    id: int | None


@dataclass(slots=True)
class AckReceived:
    """The client acknowledges the server's packet ``id`` with ``args``."""

    namespace: str
    id: int
    args: list[Any]


@dataclass(slots=True)
class Left:
    """The client left ``namespace``."""

    namespace: str


ReceivedEvent = ConnectRequested | EventReceived | AckReceived | Left


class Connection:
    """The Socket.IO state of one Engine.IO session.

    Args:
        opened_at: the clock reading when the session opened.
        connect_timeout: seconds the client has to join a namespace.
        loads: the JSON decoder.
    """

    __slots__ = ("_deadline", "_decoder", "_joined_once", "_next_ack", "_states")

    def __init__(self, opened_at: float, connect_timeout: float, loads: Loads = json.loads) -> None:
        self._decoder = Decoder(loads)
        self._states: dict[str, NamespaceState] = {}
        self._deadline = opened_at + connect_timeout
        self._joined_once = False
        self._next_ack = 0

    def state(self, namespace: str) -> NamespaceState:
        """Where ``namespace`` stands."""
        return self._states.get(namespace, NamespaceState.ABSENT)

    @property
    def joined(self) -> list[str]:
        """The namespaces joined now."""
        return [ns for ns, state in self._states.items() if state is NamespaceState.JOINED]

    def receive(self, message: str | bytes) -> ReceivedEvent | None:
        """Take one Engine.IO message from the client.

        Returns:
            What it means for the server, or ``None`` (an attachment that does not
            complete its packet yet, or a packet to ignore).

        Raises:
            ProtocolViolation: close the connection.
        """
        packet = self._decoder.feed(message)
        if packet is None:
            return None
        return self._route(packet)

    def _route(self, packet: Packet) -> ReceivedEvent | None:
        namespace = packet.namespace
        state = self._states.get(namespace, NamespaceState.ABSENT)
        kind = packet.type
        if kind is PacketType.CONNECT:
            if state in (NamespaceState.JOINING, NamespaceState.JOINED):
                raise ProtocolViolation(f"a second CONNECT for {namespace}")
            self._states[namespace] = NamespaceState.JOINING
            return ConnectRequested(namespace, packet.data)
        if kind is PacketType.DISCONNECT:
            if state is not NamespaceState.JOINED:
                return None
            self._states[namespace] = NamespaceState.LEFT
            return Left(namespace)
        if kind is PacketType.CONNECT_ERROR:
            raise ProtocolViolation("a CONNECT_ERROR from a client")
        if state is NamespaceState.LEFT:
            return None
        if state is not NamespaceState.JOINED:
            raise ProtocolViolation(f"a {kind.name} for {namespace}, which is not joined")
        if kind is PacketType.EVENT:
            return EventReceived(namespace, packet.data, packet.id)
        if packet.id is None:
            raise ProtocolViolation("an ACK without its id")
        return AckReceived(namespace, packet.id, packet.data)

    def accepted(self, namespace: str) -> None:
        """The server let the client join ``namespace``."""
        self._states[namespace] = NamespaceState.JOINED
        self._joined_once = True

    def refused(self, namespace: str) -> None:
        """The server refused ``namespace``: the client may ask again."""
        self._states.pop(namespace, None)

    def leave(self, namespace: str) -> bool:
        """The server disconnects the client from ``namespace``. Returns whether it
        was joined."""
        if self._states.get(namespace) is not NamespaceState.JOINED:
            return False
        self._states[namespace] = NamespaceState.LEFT
        return True

    @property
    def connect_deadline(self) -> float | None:
        """When the connection is closed unless it has joined a namespace, or
        ``None`` once it has."""
        return None if self._joined_once else self._deadline

    def connect_timed_out(self, now: float) -> bool:
        """Whether the client has joined no namespace in time: close it."""
        return not self._joined_once and now >= self._deadline

    def next_ack_id(self) -> int:
        """A new id for a packet whose ack the server awaits."""
        ack_id = self._next_ack
        self._next_ack += 1
        return ack_id
