"""The polling payload codec: packets joined by the record separator ``\\x1e``."""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import ErrorCode, ProtocolError
from ._packets import Packet, decode_text, encode_polling

__all__ = ["SEPARATOR", "decode_payload", "encode_payload"]

SEPARATOR = "\x1e"


def encode_payload(packets: Iterable[Packet]) -> str:
    """Join packets into one polling body."""
    return SEPARATOR.join(encode_polling(p) for p in packets)


def decode_payload(body: bytes) -> tuple[list[Packet], ProtocolError | None]:
    """Split a POST body into packets.

    Decoding goes left to right and stops at the first bad packet: the packets
    before it are returned with the error, so that they are still delivered before
    the session is closed (as the reference server does). An empty body is a bad
    payload too: no client sends one, and the reference server's parser takes it
    for one empty (so malformed) packet.
    """
    if not body:
        return [], ProtocolError(ErrorCode.BAD_REQUEST, detail="empty payload")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [], ProtocolError(ErrorCode.BAD_REQUEST, detail="payload is not valid UTF-8")
    packets: list[Packet] = []
    for item in text.split(SEPARATOR):
        try:
            packets.append(decode_text(item))
        except ProtocolError as exc:
            return packets, exc
    return packets, None
