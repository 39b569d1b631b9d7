"""Request classification and the open packet of the sans-IO core."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping

import pytest

from engineio_sc.exceptions import ErrorCode, ProtocolError
from engineio_sc.protocol import (
    Handshake,
    OpenPacket,
    Packet,
    PacketType,
    Poll,
    Post,
    Preflight,
    Request,
    Transport,
    WebSocketJoin,
    classify,
    decode_text,
)

POLLING, WEBSOCKET = Transport.POLLING, Transport.WEBSOCKET
BOTH = (POLLING, WEBSOCKET)

# The sessions known to the fake registry: sid -> current transport.
SESSIONS = {"P": POLLING, "W": WEBSOCKET}


class Registry:
    """A fake sid registry that records the sids it is asked about."""

    def __init__(self, sessions: Mapping[str, Transport] = SESSIONS) -> None:
        self.sessions = dict(sessions)
        self.asked: list[str] = []

    def __call__(self, sid: str) -> Transport | None:
        self.asked.append(sid)
        return self.sessions.get(sid)


def run(
    method: str,
    query: Mapping[str, str],
    *,
    websocket: bool = False,
    transports: Collection[Transport] = BOTH,
    registry: Registry | None = None,
) -> Request:
    return classify(
        method,
        query,
        websocket=websocket,
        transports=transports,
        session_transport=registry if registry is not None else Registry(),
    )


def q(**params: str) -> dict[str, str]:
    return dict(params)


# -- successful classification -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "query", "websocket", "expected"),
    [
        ("GET", q(EIO="4", transport="polling"), False, Handshake(POLLING)),
        ("GET", q(EIO="4", transport="websocket"), True, Handshake(WEBSOCKET)),
        ("GET", q(EIO="4", transport="polling", t="Nabc", j="0"), False, Handshake(POLLING)),
        # An empty sid is no sid (as in engine.io's `if (sid)`): a handshake.
        ("GET", q(EIO="4", transport="polling", sid=""), False, Handshake(POLLING)),
        ("GET", q(EIO="4", transport="polling", sid="P"), False, Poll("P")),
        ("POST", q(EIO="4", transport="polling", sid="P"), False, Post("P")),
        ("GET", q(EIO="4", transport="websocket", sid="W"), True, WebSocketJoin("W")),
        # The upgrade of a polling session.
        ("GET", q(EIO="4", transport="websocket", sid="P"), True, WebSocketJoin("P")),
        # The EIO version is only checked on handshakes.
        ("GET", q(transport="polling", sid="P"), False, Poll("P")),
        ("POST", q(EIO="3", transport="polling", sid="P"), False, Post("P")),
        ("GET", q(EIO="abc", transport="websocket", sid="P"), True, WebSocketJoin("P")),
        # A preflight needs nothing else.
        ("OPTIONS", q(), False, Preflight()),
        ("OPTIONS", q(transport="nope", sid="unknown", EIO="3"), False, Preflight()),
    ],
)
def test_classify_ok(
    method: str, query: dict[str, str], websocket: bool, expected: Request
) -> None:
    assert run(method, query, websocket=websocket) == expected


def test_preflight_does_not_look_up_the_sid() -> None:
    registry = Registry()
    assert run("OPTIONS", q(transport="polling", sid="P"), registry=registry) == Preflight()
    assert registry.asked == []


def test_handshake_does_not_look_up_a_sid() -> None:
    registry = Registry()
    run("GET", q(EIO="4", transport="polling"), registry=registry)
    assert registry.asked == []


def test_known_sid_is_looked_up_once() -> None:
    registry = Registry()
    assert run("GET", q(EIO="4", transport="polling", sid="P"), registry=registry) == Poll("P")
    assert registry.asked == ["P"]


# -- errors ------------------------------------------------------------------------

ERRORS = [
    # transport missing, unknown, or not enabled: code 0
    ("missing transport", "GET", q(EIO="4"), False, BOTH, ErrorCode.UNKNOWN_TRANSPORT, 400),
    ("unknown transport", "GET", q(EIO="4", transport="abc"), False, BOTH, 0, 400),
    ("empty transport", "GET", q(EIO="4", transport=""), False, BOTH, 0, 400),
    ("case of transport", "GET", q(EIO="4", transport="Polling"), False, BOTH, 0, 400),
    ("webtransport", "GET", q(EIO="4", transport="webtransport"), False, BOTH, 0, 400),
    (
        "websocket disabled",
        "GET",
        q(EIO="4", transport="websocket"),
        True,
        (POLLING,),
        0,
        400,
    ),
    ("polling disabled", "GET", q(EIO="4", transport="polling"), False, (WEBSOCKET,), 0, 400),
    ("nothing enabled", "GET", q(EIO="4", transport="polling"), False, (), 0, 400),
    # unknown sid: code 1
    ("unknown sid", "GET", q(EIO="4", transport="polling", sid="nope"), False, BOTH, 1, 400),
    ("unknown sid post", "POST", q(transport="polling", sid="nope"), False, BOTH, 1, 400),
    ("unknown sid ws", "GET", q(transport="websocket", sid="nope"), True, BOTH, 1, 400),
    # handshake with another method than GET: code 2
    ("handshake POST", "POST", q(EIO="4", transport="polling"), False, BOTH, 2, 400),
    ("handshake PUT", "PUT", q(EIO="4", transport="polling"), False, BOTH, 2, 400),
    ("handshake DELETE", "DELETE", q(EIO="4", transport="polling"), False, BOTH, 2, 400),
    # bad request: code 3
    ("ws handshake no upgrade", "GET", q(EIO="4", transport="websocket"), False, BOTH, 3, 400),
    ("upgrade polling handshake", "GET", q(EIO="4", transport="polling"), True, BOTH, 3, 400),
    ("poll after upgrade", "GET", q(transport="polling", sid="W"), False, BOTH, 3, 400),
    ("post after upgrade", "POST", q(transport="polling", sid="W"), False, BOTH, 3, 400),
    (
        "plain GET transport=websocket",
        "GET",
        q(transport="websocket", sid="P"),
        False,
        BOTH,
        3,
        400,
    ),
    ("ws join transport=polling", "GET", q(transport="polling", sid="P"), True, BOTH, 3, 400),
    ("ws join ws session polling", "GET", q(transport="polling", sid="W"), True, BOTH, 3, 400),
    # other methods with a sid: 405
    ("PUT with sid", "PUT", q(transport="polling", sid="P"), False, BOTH, 3, 405),
    ("DELETE with sid", "DELETE", q(transport="polling", sid="P"), False, BOTH, 3, 405),
    ("HEAD with sid", "HEAD", q(transport="polling", sid="P"), False, BOTH, 3, 405),
    # protocol version: code 5
    ("EIO missing", "GET", q(transport="polling"), False, BOTH, 5, 400),
    ("EIO=3", "GET", q(EIO="3", transport="polling"), False, BOTH, 5, 400),
    ("EIO=abc", "GET", q(EIO="abc", transport="polling"), False, BOTH, 5, 400),
    ("EIO=5", "GET", q(EIO="5", transport="polling"), False, BOTH, 5, 400),
    ("EIO=04", "GET", q(EIO="04", transport="polling"), False, BOTH, 5, 400),
    ("EIO empty", "GET", q(EIO="", transport="polling"), False, BOTH, 5, 400),
    ("EIO missing ws", "GET", q(transport="websocket"), True, BOTH, 5, 400),
    ("EIO=3 ws", "GET", q(EIO="3", transport="websocket"), True, BOTH, 5, 400),
]


@pytest.mark.parametrize(
    ("method", "query", "websocket", "transports", "code", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in ERRORS],
)
def test_classify_errors(
    method: str,
    query: dict[str, str],
    websocket: bool,
    transports: Collection[Transport],
    code: int,
    status: int,
) -> None:
    with pytest.raises(ProtocolError) as info:
        run(method, query, websocket=websocket, transports=transports)
    error = info.value
    assert error.code == code
    assert isinstance(error.code, ErrorCode)
    assert error.status == status


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (ErrorCode.UNKNOWN_TRANSPORT, "Transport unknown"),
        (ErrorCode.UNKNOWN_SID, "Session ID unknown"),
        (ErrorCode.BAD_HANDSHAKE_METHOD, "Bad handshake method"),
        (ErrorCode.BAD_REQUEST, "Bad request"),
        (ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version"),
    ],
)
def test_error_messages_are_the_reference_servers(code: ErrorCode, message: str) -> None:
    query = {
        ErrorCode.UNKNOWN_TRANSPORT: q(EIO="4"),
        ErrorCode.UNKNOWN_SID: q(transport="polling", sid="nope"),
        ErrorCode.BAD_HANDSHAKE_METHOD: q(EIO="4", transport="polling"),
        ErrorCode.BAD_REQUEST: q(transport="websocket", sid="P"),
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: q(transport="polling"),
    }[code]
    method = "POST" if code is ErrorCode.BAD_HANDSHAKE_METHOD else "GET"
    with pytest.raises(ProtocolError) as info:
        run(method, query)
    assert info.value.code is code
    assert info.value.message == message


# -- the order of the checks -------------------------------------------------------

ORDER = [
    # transport is checked before everything else (except a preflight)
    ("transport before sid", "GET", q(transport="abc", sid="nope"), False, 0),
    ("transport before method", "PUT", q(EIO="4", transport="abc"), False, 0),
    ("transport before ws mismatch", "GET", q(EIO="4", transport="abc"), True, 0),
    ("transport before EIO", "GET", q(EIO="3", transport="abc"), False, 0),
    ("missing transport before sid", "GET", q(sid="nope"), False, 0),
    # the sid checks come before the handshake checks
    ("unknown sid before method", "PUT", q(transport="polling", sid="nope"), False, 1),
    ("unknown sid before EIO", "GET", q(EIO="3", transport="polling", sid="nope"), False, 1),
    ("unknown sid before mismatch", "GET", q(transport="websocket", sid="nope"), False, 1),
    ("mismatch before EIO", "GET", q(EIO="3", transport="polling", sid="W"), False, 3),
    ("mismatch before method", "PUT", q(transport="websocket", sid="P"), False, 3),
    # handshake: method, then the websocket check, then EIO
    ("method before ws mismatch", "POST", q(EIO="4", transport="websocket"), False, 2),
    ("method before EIO", "POST", q(EIO="3", transport="polling"), False, 2),
    ("method before EIO (ws)", "PUT", q(transport="websocket"), True, 2),
    (
        "OPTIONS on a websocket is no preflight",
        "OPTIONS",
        q(EIO="4", transport="websocket"),
        True,
        2,
    ),
    ("ws mismatch before EIO", "GET", q(EIO="3", transport="websocket"), False, 3),
    ("ws mismatch before EIO (polling)", "GET", q(transport="polling"), True, 3),
]


@pytest.mark.parametrize(
    ("method", "query", "websocket", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in ORDER],
)
def test_classify_check_order(
    method: str, query: dict[str, str], websocket: bool, code: int
) -> None:
    with pytest.raises(ProtocolError) as info:
        run(method, query, websocket=websocket)
    assert info.value.code == code


def test_unknown_transport_is_found_before_the_sid_is_looked_up() -> None:
    registry = Registry()
    with pytest.raises(ProtocolError):
        run("GET", q(transport="abc", sid="P"), registry=registry)
    assert registry.asked == []


# -- the open packet ---------------------------------------------------------------


def test_open_packet_exact() -> None:
    packet = OpenPacket(
        upgrades=["websocket"], ping_interval=25, ping_timeout=20, max_payload=1_000_000
    ).for_sid("abc123")
    assert packet.type is PacketType.OPEN
    assert packet.data == (
        '{"sid":"abc123","upgrades":["websocket"],"pingInterval":25000,'
        '"pingTimeout":20000,"maxPayload":1000000}'
    )
    assert packet.encode() == "0" + str(packet.data)
    assert decode_text(str(packet.encode())) == packet


def test_open_packet_keys_and_types() -> None:
    template = OpenPacket(upgrades=[], ping_interval=0.3, ping_timeout=0.2, max_payload=10)
    packet = template.for_sid("s")
    assert isinstance(packet.data, str)
    body = json.loads(packet.data)
    assert list(body) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert body == {
        "sid": "s",
        "upgrades": [],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 10,
    }
    assert type(body["pingInterval"]) is int
    assert type(body["pingTimeout"]) is int


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [
        (0.5, 500),
        (0.3, 300),
        (25, 25000),
        (1.001, 1001),  # 1.001 * 1000 == 1000.9999999999999: truncation gives 1000
        (2.01, 2010),  # 2.01 * 1000 == 2009.9999999999998
        (0.0016, 2),
        (0.0014, 1),
        (60.0, 60000),
    ],
)
def test_open_packet_rounds_to_milliseconds(seconds: float, ms: int) -> None:
    template = OpenPacket(upgrades=[], ping_interval=seconds, ping_timeout=seconds, max_payload=1)
    packet = template.for_sid("s")
    body = json.loads(str(packet.data))
    assert body["pingInterval"] == ms
    assert body["pingTimeout"] == ms
    assert f'"pingInterval":{ms},' in str(packet.data)


@pytest.mark.parametrize("sid", ['a"b\\c', "\u00e9t\u00e9", "\n", "x" * 100])
def test_open_packet_escapes_the_sid(sid: str) -> None:
    template = OpenPacket(upgrades=["websocket"], ping_interval=1, ping_timeout=1, max_payload=1)
    body = json.loads(str(template.for_sid(sid).data))
    assert body == {
        "sid": sid,
        "upgrades": ["websocket"],
        "pingInterval": 1000,
        "pingTimeout": 1000,
        "maxPayload": 1,
    }


def test_open_packet_is_a_packet() -> None:
    template = OpenPacket(upgrades=[], ping_interval=1, ping_timeout=1, max_payload=1)
    packet = template.for_sid("s")
    assert isinstance(packet, Packet)
    assert not packet.binary
