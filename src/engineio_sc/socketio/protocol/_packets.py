"""The Socket.IO v5 packet codec.

A packet is written ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`` in
one Engine.IO text message; its binary attachments follow as binary messages, the
JSON holding ``{"_placeholder":true,"num":N}`` where each one was. Decoding is as
strict as the reference server's parser: whatever it refuses raises
:class:`ProtocolViolation`, and the connection is closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

__all__ = [
    "RESERVED_EVENTS",
    "Decoder",
    "Packet",
    "PacketType",
    "ProtocolViolation",
    "deconstruct",
    "encode",
    "reconstruct",
]

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names a client may not send."""

_JSON_ARRAY_OR_OBJECT = ("[", "{")
_DIGITS = frozenset("0123456789")


class PacketType(IntEnum):
    """The seven packet types."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


class ProtocolViolation(Exception):
    """What a client sent breaks the protocol: the connection is closed."""


@dataclass(slots=True)
class Packet:
    """One Socket.IO packet.

    Attributes:
        type: the packet type. :func:`encode` writes an ``EVENT`` or ``ACK`` whose
            data holds bytes as its binary form.
        namespace: the namespace, ``"/"`` by default.
        data: the JSON value it carries (``bytes`` where attachments go), or
            ``None`` for none.
        id: the ack id, or ``None``.
    """

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None


Dumps = Callable[[Any], str]


def _compact_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _has_binary(value: Any) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return True
    if isinstance(value, list | tuple):
        return any(_has_binary(item) for item in value)
    if isinstance(value, dict):
        return any(_has_binary(item) for item in value.values())
    return False


def _deconstruct(value: Any, buffers: list[bytes]) -> Any:
    """``value`` with each bytes object replaced by a placeholder, appended to
    ``buffers``."""
    if isinstance(value, bytes | bytearray | memoryview):
        buffers.append(bytes(value))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(value, list | tuple):
        return [_deconstruct(item, buffers) for item in value]
    if isinstance(value, dict):
        return {key: _deconstruct(item, buffers) for key, item in value.items()}
    return value


def deconstruct(value: Any) -> tuple[Any, list[bytes]]:
    """``value`` with each bytes object in it replaced by a placeholder
    ``{"_placeholder": true, "num": N}``, and those bytes in order (none: ``value``
    as it is). What :func:`reconstruct` takes back."""
    if not _has_binary(value):
        return value, []
    buffers: list[bytes] = []
    return _deconstruct(value, buffers), buffers


def encode(packet: Packet, dumps: Dumps = _compact_dumps) -> list[str | bytes]:
    """The Engine.IO messages that carry ``packet``: one text message, then its
    binary attachments, in order.

    An ``EVENT`` or ``ACK`` whose data holds ``bytes`` goes out as a
    ``BINARY_EVENT`` or ``BINARY_ACK``.
    """
    kind = packet.type
    data = packet.data
    buffers: list[bytes] = []
    if kind in (PacketType.EVENT, PacketType.ACK) and _has_binary(data):
        kind = PacketType.BINARY_EVENT if kind is PacketType.EVENT else PacketType.BINARY_ACK
    if kind in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
        data = _deconstruct(data, buffers)
        head = f"{kind.value}{len(buffers)}-"
    else:
        head = str(kind.value)
    if packet.namespace != "/":
        head += packet.namespace + ","
    if packet.id is not None:
        head += str(packet.id)
    if data is not None:
        head += dumps(data)
    return [head, *buffers]


Loads = Callable[[str], Any]


def _valid_event(data: Any) -> bool:
    if not isinstance(data, list) or not data:
        return False
    name = data[0]
    if isinstance(name, bool):
        return False
    return isinstance(name, int | float) or (isinstance(name, str) and name not in RESERVED_EVENTS)


def _check_payload(kind: PacketType, data: Any) -> None:
    if kind is PacketType.CONNECT:
        valid = isinstance(data, dict)
    elif kind is PacketType.CONNECT_ERROR:
        valid = isinstance(data, str | dict)
    elif kind in (PacketType.EVENT, PacketType.BINARY_EVENT):
        valid = _valid_event(data)
    elif kind in (PacketType.ACK, PacketType.BINARY_ACK):
        valid = isinstance(data, list)
    else:  # DISCONNECT carries nothing
        valid = False
    if not valid:
        raise ProtocolViolation(f"invalid payload for a {kind.name} packet")


def _integer(digits: str, what: str) -> int:
    try:
        return int(digits)
    except ValueError:  # more digits than int() converts
        raise ProtocolViolation(f"{what}: too many digits") from None


def _parse(text: str, loads: Loads) -> tuple[Packet, int]:
    """One text message as a packet and its count of attachments."""
    if not text or text[0] not in _DIGITS or int(text[0]) > PacketType.BINARY_ACK:
        raise ProtocolViolation("unknown packet type")
    kind = PacketType(int(text[0]))
    i = 1
    attachments = 0
    if kind in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
        dash = text.find("-", i)
        count = text[i:dash] if dash >= 0 else ""
        if not count or not count.isdigit() or not count.isascii():
            raise ProtocolViolation("illegal attachments")
        attachments = _integer(count, "illegal attachments")
        i = dash + 1
    namespace = "/"
    if text.startswith("/", i):
        comma = text.find(",", i)
        end = len(text) if comma < 0 else comma
        namespace = text[i:end]
        i = end + 1
    start = i
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    ack_id = _integer(text[start:i], "illegal ack id") if i > start else None
    data = None
    if i < len(text):
        try:
            data = loads(text[i:])
        except ValueError:
            raise ProtocolViolation("invalid payload: not JSON") from None
        except RecursionError:
            raise ProtocolViolation("invalid payload: nested too deep") from None
        _check_payload(kind, data)
    elif kind in (PacketType.EVENT, PacketType.BINARY_EVENT, PacketType.ACK, PacketType.BINARY_ACK):
        raise ProtocolViolation(f"a {kind.name} packet without its payload")
    return Packet(kind, namespace, data, ack_id), attachments


def reconstruct(value: Any, buffers: list[bytes]) -> Any:
    """``value`` with each placeholder replaced by its bytes.

    Raises:
        ProtocolViolation: a placeholder names no buffer.
    """
    if isinstance(value, list):
        return [reconstruct(item, buffers) for item in value]
    if isinstance(value, dict):
        if value.get("_placeholder") is True:
            num = value.get("num")
            if type(num) is not int or not 0 <= num < len(buffers):
                raise ProtocolViolation("illegal attachment placeholder")
            return buffers[num]
        return {key: reconstruct(item, buffers) for key, item in value.items()}
    return value


class Decoder:
    """Turns one connection's Engine.IO messages into packets, holding a binary
    packet until its attachments have come.

    Args:
        loads: the JSON decoder.
        max_attachments: the most attachments one packet may announce.
    """

    __slots__ = ("_buffers", "_loads", "_max_attachments", "_pending", "_wanted")

    def __init__(self, loads: Loads = json.loads, max_attachments: int = 1000) -> None:
        self._loads = loads
        self._max_attachments = max_attachments
        self._pending: Packet | None = None
        self._wanted = 0
        self._buffers: list[bytes] = []

    def feed(self, message: str | bytes) -> Packet | None:
        """Take one message; return the packet it completes, if any.

        Raises:
            ProtocolViolation: the message is malformed, or comes out of turn (a
                text message while attachments are awaited, an attachment that
                none awaits).
        """
        if isinstance(message, str):
            if self._pending is not None:
                raise ProtocolViolation("a text message while attachments were awaited")
            packet, attachments = _parse(message, self._loads)
            if packet.type not in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
                return packet
            if attachments > self._max_attachments:
                raise ProtocolViolation(f"more than {self._max_attachments} attachments")
            if attachments == 0:
                return self._complete(packet, [])
            self._pending, self._wanted, self._buffers = packet, attachments, []
            return None
        if self._pending is None:
            raise ProtocolViolation("an attachment that no packet announced")
        self._buffers.append(message)
        if len(self._buffers) < self._wanted:
            return None
        packet, buffers = self._pending, self._buffers
        self._pending, self._buffers = None, []
        return self._complete(packet, buffers)

    @staticmethod
    def _complete(packet: Packet, buffers: list[bytes]) -> Packet:
        kind = PacketType.EVENT if packet.type is PacketType.BINARY_EVENT else PacketType.ACK
        try:
            data = reconstruct(packet.data, buffers)
        except RecursionError:
            raise ProtocolViolation("invalid payload: nested too deep") from None
        return Packet(kind, packet.namespace, data, packet.id)
