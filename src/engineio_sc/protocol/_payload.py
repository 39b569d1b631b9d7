"""The polling payload codec: packets joined by the record separator ``\\x1e``."""

from __future__ import annotations

from ..exceptions import ErrorCode, ProtocolError
from ._packets import Packet, decode_text, encode_polling

__all__ = ["SEPARATOR", "PayloadBuilder", "decode_payload"]

SEPARATOR = "\x1e"


class PayloadBuilder:
    """One polling body, built a packet at a time within a byte budget.

    The official client's way of counting, applied to what the server sends: the
    UTF-8 bytes of each encoded packet and its separator. The first packet always
    goes in, however large, so that a body never comes out empty.

    Args:
        budget: the most bytes the body may hold (``maxPayload``).
    """

    __slots__ = ("_budget", "_items", "_size")

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._items: list[str] = []
        self._size = 0

    def add(self, packet: Packet) -> bool:
        """Add ``packet`` if it fits; ``False`` (and nothing added) if it does not."""
        item = encode_polling(packet)
        cost = (len(item) if item.isascii() else len(item.encode())) + 1
        if self._items and self._size + cost > self._budget:
            return False
        self._items.append(item)
        self._size += cost
        return True

    def __len__(self) -> int:
        """How many packets the body holds."""
        return len(self._items)

    def text(self) -> str:
        """The body."""
        return SEPARATOR.join(self._items)


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
