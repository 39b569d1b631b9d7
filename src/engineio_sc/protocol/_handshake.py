"""Request classification: query and method in, a typed request or an error out.

The checks and their order are those of the reference server: transport, then
sid (unknown sid, transport mismatch), then for handshakes the method, the
WebSocket upgrade and the protocol version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

from ..exceptions import ErrorCode, ProtocolError
from ._packets import Packet, PacketType
from ._state import Transport

__all__ = [
    "Handshake",
    "OpenPacket",
    "Poll",
    "Post",
    "Preflight",
    "Request",
    "WebSocketJoin",
    "classify",
]


@dataclass(frozen=True, slots=True)
class Handshake:
    """A request that creates a session on ``transport``."""

    transport: Transport


@dataclass(frozen=True, slots=True)
class Poll:
    """A long-poll ``GET`` on session ``sid``."""

    sid: str


@dataclass(frozen=True, slots=True)
class Post:
    """A ``POST`` carrying packets for session ``sid``."""

    sid: str


@dataclass(frozen=True, slots=True)
class WebSocketJoin:
    """A WebSocket for the existing session ``sid``: an upgrade from polling."""

    sid: str


@dataclass(frozen=True, slots=True)
class Preflight:
    """A CORS preflight (``OPTIONS``)."""


Request = Handshake | Poll | Post | WebSocketJoin | Preflight


def _transport(name: str | None, enabled: Collection[Transport]) -> Transport:
    for transport in enabled:
        if transport == name:  # a StrEnum: no call of the enum's .value property
            return transport
    raise ProtocolError(ErrorCode.UNKNOWN_TRANSPORT, detail=f"transport {name!r} is not enabled")


def classify(
    method: str,
    query: Mapping[str, str],
    *,
    websocket: bool,
    transports: Collection[Transport],
    session_transport: Callable[[str], Transport | None],
) -> Request:
    """Classify an Engine.IO request.

    Args:
        method: the HTTP method (``GET`` for a WebSocket request).
        query: the query parameters, first value of each.
        websocket: whether this is a WebSocket (upgrade) request.
        transports: the transports the server enables.
        session_transport: the current transport of a session, ``None`` for an
            unknown sid.

    Raises:
        ProtocolError: with the reference server's code and status.
    """
    if method == "OPTIONS" and not websocket:
        return Preflight()
    transport = _transport(query.get("transport"), transports)
    sid = query.get("sid")
    if sid:
        current = session_transport(sid)
        if current is None:
            raise ProtocolError(ErrorCode.UNKNOWN_SID, detail=f"unknown sid {sid!r}")
        if websocket:
            if transport is not Transport.WEBSOCKET:
                raise ProtocolError(ErrorCode.BAD_REQUEST, detail="transport mismatch")
            return WebSocketJoin(sid)
        if transport is not current:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="transport mismatch")
        if method == "GET":
            return Poll(sid)
        if method == "POST":
            return Post(sid)
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, status=405, detail=f"method {method} is not allowed"
        )
    if method != "GET":
        raise ProtocolError(ErrorCode.BAD_HANDSHAKE_METHOD, detail=f"handshake with {method}")
    if (transport is Transport.WEBSOCKET) != websocket:
        raise ProtocolError(ErrorCode.BAD_REQUEST, detail="transport handshake error")
    if query.get("EIO") != "4":
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
            detail=f"EIO={query.get('EIO')!r}, only 4 is supported",
        )
    return Handshake(transport)


class OpenPacket:
    """The open packet of a server's new sessions on one transport.

    All but the sid is the same for every session, so its JSON is written once.

    Args:
        upgrades: the transports the session may upgrade to.
        ping_interval: seconds between pings, as the client is to expect them.
        ping_timeout: seconds the client has to answer a ping.
        max_payload: the largest packet or payload the server takes, in bytes.
    """

    __slots__ = ("_rest",)

    def __init__(
        self, *, upgrades: list[str], ping_interval: float, ping_timeout: float, max_payload: int
    ) -> None:
        rest = {
            "upgrades": upgrades,
            "pingInterval": round(ping_interval * 1000),
            "pingTimeout": round(ping_timeout * 1000),
            "maxPayload": max_payload,
        }
        self._rest = json.dumps(rest, separators=(",", ":"))[1:]  # without its "{"

    def for_sid(self, sid: str) -> Packet:
        """The open packet of session ``sid``."""
        # json.dumps(sid) itself, without the encoder it looks up on the way
        return Packet(PacketType.OPEN, '{"sid":' + encode_basestring_ascii(sid) + "," + self._rest)
