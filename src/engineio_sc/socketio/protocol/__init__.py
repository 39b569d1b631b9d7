"""The sans-IO core of the Socket.IO layer: the packet codec and one
connection's rules. It does no I/O and reads no clock; the server carries out
what it decides."""

from ._connection import (
    AckReceived,
    Connection,
    ConnectRequested,
    EventReceived,
    Left,
    NamespaceState,
    ReceivedEvent,
)
from ._packets import (
    RESERVED_EVENTS,
    Decoder,
    Packet,
    PacketType,
    ProtocolViolation,
    deconstruct,
    encode,
    reconstruct,
)

__all__ = [
    "RESERVED_EVENTS",
    "AckReceived",
    "ConnectRequested",
    "Connection",
    "Decoder",
    "EventReceived",
    "Left",
    "NamespaceState",
    "Packet",
    "PacketType",
    "ProtocolViolation",
    "ReceivedEvent",
    "deconstruct",
    "encode",
    "reconstruct",
]
