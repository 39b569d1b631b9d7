"""Engine.IO v4 packets and their codec.

A packet is a type digit followed by optional data. Text packets travel as
``<digit><text>``; a binary message travels as a raw binary WebSocket frame, or in
a polling payload as ``b`` followed by standard base64.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass

from ..exceptions import ErrorCode, ProtocolError

__all__ = ["Packet", "PacketType", "decode_binary_frame", "decode_text", "encode_polling"]


class PacketType(enum.IntEnum):
    """The seven Engine.IO packet types."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_DIGITS = "0123456789"
_TYPES = tuple(PacketType)  # by digit


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet.

    ``data`` is ``str`` for text packets and ``bytes`` for binary ones; only a
    ``MESSAGE`` may be binary.
    """

    type: PacketType
    data: str | bytes = ""

    def __post_init__(self) -> None:
        if isinstance(self.data, bytes) and self.type is not PacketType.MESSAGE:
            raise ValueError("only MESSAGE packets may carry binary data")

    @property
    def binary(self) -> bool:
        """Whether the packet carries binary data."""
        return isinstance(self.data, bytes)

    def encode(self) -> str | bytes:
        """Encode for a WebSocket frame: text as ``<digit><data>``, binary as is."""
        if isinstance(self.data, bytes):
            return self.data
        return _DIGITS[self.type] + self.data


def encode_polling(packet: Packet) -> str:
    """Encode one packet for a polling payload (binary as ``b`` + base64)."""
    if isinstance(packet.data, bytes):
        return "b" + base64.b64encode(packet.data).decode("ascii")
    return _DIGITS[packet.type] + packet.data


def decode_text(text: str) -> Packet:
    """Decode a text packet (a WebSocket text frame or one polling payload item).

    Raises:
        ProtocolError: the text is empty, has an unknown type, or bad base64.
    """
    if not text:
        raise ProtocolError(ErrorCode.BAD_REQUEST, detail="empty packet")
    head = text[0]
    if head == "b":
        try:
            return Packet(PacketType.MESSAGE, base64.b64decode(text[1:], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="invalid base64 packet") from exc
    if "0" <= head <= "6":
        return Packet(_TYPES[ord(head) - 48], text[1:])
    raise ProtocolError(ErrorCode.BAD_REQUEST, detail=f"unknown packet type {head!r}")


def decode_binary_frame(data: bytes) -> Packet:
    """Decode a binary WebSocket frame: always a binary ``MESSAGE``."""
    return Packet(PacketType.MESSAGE, bytes(data))
