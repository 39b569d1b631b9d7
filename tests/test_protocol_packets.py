"""The packet codec and the polling payload codec of the sans-IO core."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from engineio_sc.exceptions import ProtocolError
from engineio_sc.protocol import (
    SEPARATOR,
    Packet,
    PacketType,
    PayloadBuilder,
    decode_binary_frame,
    decode_payload,
    decode_text,
    encode_polling,
)

from .helpers import assert_bad_request

TEXTS = ["", "probe", "hello world", "héllo ☃ 😀", "4", "b", "bAQIDBA==", '{"a":[1,2]}']

# -- strategies ----------------------------------------------------------------

# Text that may travel in a polling payload: no record separator, no lone surrogates
# (a payload goes over HTTP as UTF-8).
payload_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=SEPARATOR))
text_packets = st.builds(Packet, st.sampled_from(PacketType), payload_text)
binary_packets = st.builds(Packet, st.just(PacketType.MESSAGE), st.binary())
packets = st.one_of(text_packets, binary_packets)

# A WebSocket text frame holds exactly one packet, so any text is fine there.
ws_text_packets = st.builds(Packet, st.sampled_from(PacketType), st.text())


# -- packet types and the Packet value ---------------------------------------------


def test_packet_type_values() -> None:
    assert {t.name: t.value for t in PacketType} == {
        "OPEN": 0,
        "CLOSE": 1,
        "PING": 2,
        "PONG": 3,
        "MESSAGE": 4,
        "UPGRADE": 5,
        "NOOP": 6,
    }


def test_packet_defaults_to_empty_text() -> None:
    packet = Packet(PacketType.NOOP)
    assert packet.data == ""
    assert not packet.binary


@pytest.mark.parametrize("kind", [t for t in PacketType if t is not PacketType.MESSAGE])
def test_only_message_may_be_binary(kind: PacketType) -> None:
    with pytest.raises(ValueError, match="only MESSAGE"):
        Packet(kind, b"data")


def test_binary_property() -> None:
    assert Packet(PacketType.MESSAGE, b"").binary
    assert Packet(PacketType.MESSAGE, b"x").binary
    assert not Packet(PacketType.MESSAGE, "x").binary


def test_packet_is_frozen() -> None:
    packet = Packet(PacketType.MESSAGE, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        packet.data = "y"  # type: ignore[misc]


# -- text packets: WebSocket text frames and polling items --------------------------


@pytest.mark.parametrize("data", TEXTS)
@pytest.mark.parametrize("kind", list(PacketType))
def test_text_packet_every_type(kind: PacketType, data: str) -> None:
    packet = Packet(kind, data)
    wire = str(kind.value) + data
    assert packet.encode() == wire
    assert encode_polling(packet) == wire
    decoded = decode_text(wire)
    assert decoded == packet
    assert decoded.type is kind
    assert isinstance(decoded.data, str)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("0", Packet(PacketType.OPEN)),
        ("1", Packet(PacketType.CLOSE)),
        ("2", Packet(PacketType.PING)),
        ("2probe", Packet(PacketType.PING, "probe")),
        ("3", Packet(PacketType.PONG)),
        ("3probe", Packet(PacketType.PONG, "probe")),
        ("4hello", Packet(PacketType.MESSAGE, "hello")),
        ("4", Packet(PacketType.MESSAGE, "")),
        ("44", Packet(PacketType.MESSAGE, "4")),
        ("4bAQIDBA==", Packet(PacketType.MESSAGE, "bAQIDBA==")),
        ("5", Packet(PacketType.UPGRADE)),
        ("6", Packet(PacketType.NOOP)),
    ],
)
def test_decode_text_examples(wire: str, expected: Packet) -> None:
    assert decode_text(wire) == expected


def test_websocket_text_frame_may_contain_separator() -> None:
    packet = Packet(PacketType.MESSAGE, f"a{SEPARATOR}b")
    assert packet.encode() == "4a\x1eb"
    assert decode_text("4a\x1eb") == packet


# -- binary messages ---------------------------------------------------------------


def test_binary_message_websocket_frame_is_raw_bytes() -> None:
    packet = Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")
    encoded = packet.encode()
    assert isinstance(encoded, bytes)
    assert encoded == b"\x01\x02\x03\x04"
    assert decode_binary_frame(encoded) == packet


@pytest.mark.parametrize("frame", [b"", b"\x00", b"4hello", b"bAQIDBA==", bytes(range(256))])
def test_binary_frame_is_always_a_binary_message(frame: bytes) -> None:
    """No type byte, no base64: the frame is the message (v3 prefixed a type byte)."""
    packet = decode_binary_frame(frame)
    assert packet.type is PacketType.MESSAGE
    assert packet.data == frame
    assert isinstance(packet.data, bytes)


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"\x01\x02\x03\x04", "bAQIDBA=="),
        (b"\x01\x02\x03", "bAQID"),
        (b"\xff\xfe", "b//4="),
        (b"\xfb", "b+w=="),
        (b"hello", "baGVsbG8="),
    ],
)
def test_binary_message_in_polling_is_b_plus_base64(data: bytes, wire: str) -> None:
    packet = Packet(PacketType.MESSAGE, data)
    assert encode_polling(packet) == wire
    decoded = decode_text(wire)
    assert decoded == packet
    assert isinstance(decoded.data, bytes)


def test_empty_binary_message_in_polling() -> None:
    packet = Packet(PacketType.MESSAGE, b"")
    assert encode_polling(packet) == "b"
    decoded = decode_text("b")
    assert decoded == packet
    assert decoded.data == b""
    assert decoded.binary


# -- decode errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "7",
        "8hello",
        "9",
        "x",
        "a",
        "B",
        " 4hello",
        SEPARATOR,
        "٤",  # ARABIC-INDIC DIGIT FOUR: a digit, but not 0-6
        "\ud800",
    ],
)
def test_decode_text_unknown_type(wire: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_text(wire)
    assert_bad_request(info.value)


@pytest.mark.parametrize(
    "wire",
    [
        "b!!!!",
        "bAQ",  # missing padding
        "bAQIDBA",
        "bAQ=",
        "bA===",
        "b==",
        "bAQ==AQ==",
        "bAQID\n",
        "bAQ ID",
        "bAQ-_",  # URL-safe alphabet is not standard base64
        "béé==",
        "b4AQID",  # a v3 "b<type><base64>" item
    ],
)
def test_decode_text_bad_base64(wire: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_text(wire)
    assert_bad_request(info.value)


# -- the polling payload -------------------------------------------------------------


def test_separator_is_record_separator() -> None:
    assert SEPARATOR == "\x1e"


def payload(packets: list[Packet], budget: int = 10**9) -> str:
    body = PayloadBuilder(budget)
    for packet in packets:
        assert body.add(packet)
    return body.text()


def test_empty_payload() -> None:
    assert payload([]) == ""


def test_payload_of_one_packet_has_no_separator() -> None:
    assert payload([Packet(PacketType.MESSAGE, "hello")]) == "4hello"


def test_payload_budget_counts_utf8_bytes_and_separators() -> None:
    body = PayloadBuilder(12)
    assert body.add(Packet(PacketType.MESSAGE, "hé"))  # "4hé": 4 bytes + 1
    assert body.add(Packet(PacketType.MESSAGE, "abcde"))  # 6 + 1: 12 in all
    assert not body.add(Packet(PacketType.PING))  # 2 more would be over
    assert len(body) == 2
    assert body.text() == "4hé\x1e4abcde"


def test_payload_budget_always_takes_the_first_packet() -> None:
    body = PayloadBuilder(1)
    assert body.add(Packet(PacketType.MESSAGE, b"\x00" * 30))
    assert not body.add(Packet(PacketType.NOOP))
    assert body.text() == "b" + "A" * 40


MIXED = [
    Packet(PacketType.MESSAGE, "hello"),
    Packet(PacketType.PING),
    Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04"),
    Packet(PacketType.MESSAGE, b""),
    Packet(PacketType.MESSAGE, "world"),
    Packet(PacketType.CLOSE),
]
MIXED_WIRE = "4hello\x1e2\x1ebAQIDBA==\x1eb\x1e4world\x1e1"


def test_payload_mixed_text_and_binary() -> None:
    assert payload(MIXED) == MIXED_WIRE


def test_decode_payload_mixed_text_and_binary() -> None:
    packets, error = decode_payload(MIXED_WIRE.encode())
    assert error is None
    assert packets == MIXED
    assert [type(p.data) for p in packets] == [str, str, bytes, bytes, str, str]


def test_decode_payload_single_packet() -> None:
    assert decode_payload(b"4hello") == ([Packet(PacketType.MESSAGE, "hello")], None)


def test_decode_payload_utf8_text() -> None:
    body = "4héllo ☃\x1e4😀".encode()
    assert decode_payload(body) == (
        [Packet(PacketType.MESSAGE, "héllo ☃"), Packet(PacketType.MESSAGE, "😀")],
        None,
    )


def test_decode_payload_empty_body_is_malformed() -> None:
    packets, error = decode_payload(b"")
    assert packets == []
    assert error is not None
    assert_bad_request(error)
    assert error.detail == "empty payload"


@pytest.mark.parametrize("body", [b"4\xff", b"\xc3", b"4hello\x1e4\xe2\x82", b"\xed\xa0\x80"])
def test_decode_payload_not_utf8(body: bytes) -> None:
    packets, error = decode_payload(body)
    assert packets == []
    assert error is not None
    assert_bad_request(error)


@pytest.mark.parametrize(
    ("body", "before"),
    [
        (b"4a\x1e9\x1e4b", [Packet(PacketType.MESSAGE, "a")]),
        (b"4a\x1e2\x1ex\x1e4b", [Packet(PacketType.MESSAGE, "a"), Packet(PacketType.PING)]),
        (b"4a\x1eb!!\x1e4b", [Packet(PacketType.MESSAGE, "a")]),
        (b"bAQ==\x1e\x1e4b", [Packet(PacketType.MESSAGE, b"\x01")]),
        (b"4a\x1e", [Packet(PacketType.MESSAGE, "a")]),
        (b"\x1e4a", []),
        (b"\x1e", []),
        (b"abc", []),
    ],
)
def test_decode_payload_stops_at_first_bad_packet(body: bytes, before: list[Packet]) -> None:
    """The packets before the bad one are returned with the error."""
    packets, error = decode_payload(body)
    assert packets == before
    assert error is not None
    assert_bad_request(error)


# -- properties -------------------------------------------------------------------


@given(ws_text_packets)
def test_text_packet_websocket_round_trip(packet: Packet) -> None:
    encoded = packet.encode()
    assert isinstance(encoded, str)
    assert decode_text(encoded) == packet


@given(binary_packets)
def test_binary_packet_websocket_round_trip(packet: Packet) -> None:
    encoded = packet.encode()
    assert isinstance(encoded, bytes)
    assert decode_binary_frame(encoded) == packet


@given(packets)
@example(Packet(PacketType.MESSAGE, b""))
@example(Packet(PacketType.MESSAGE, ""))
def test_packet_polling_round_trip(packet: Packet) -> None:
    encoded = encode_polling(packet)
    assert SEPARATOR not in encoded
    assert decode_text(encoded) == packet


@given(st.lists(packets, min_size=1))
@example([Packet(PacketType.MESSAGE, b"")])
@example([Packet(PacketType.MESSAGE, b""), Packet(PacketType.MESSAGE, "")])
def test_payload_round_trip(items: list[Packet]) -> None:
    body = payload(items).encode("utf-8")
    assert decode_payload(body) == (items, None)


def check_payload_result(body: bytes) -> None:
    # Any exception (ProtocolError included) fails the test: errors are returned.
    packets, error = decode_payload(body)
    assert isinstance(packets, list)
    assert all(isinstance(p, Packet) for p in packets)
    if error is not None:
        assert_bad_request(error)
    try:
        items = body.decode("utf-8").split(SEPARATOR)
    except UnicodeDecodeError:
        assert packets == []
        assert error is not None
        return
    if error is None:
        assert len(packets) == len(items)
    else:
        assert len(packets) < len(items)


@given(st.binary())
def test_decode_payload_never_raises(body: bytes) -> None:
    check_payload_result(body)


@given(st.text(alphabet="0123456789bAQID=+/x\x1e\xe9").map(lambda s: s.encode("utf-8")))
def test_decode_payload_never_raises_payload_like(body: bytes) -> None:
    check_payload_result(body)


@given(st.one_of(st.text(), st.text().map(lambda s: "b" + s)))
def test_decode_text_raises_only_protocol_error(text: str) -> None:
    try:
        packet = decode_text(text)
    except ProtocolError as exc:
        assert_bad_request(exc)
    else:
        assert isinstance(packet, Packet)
        if isinstance(packet.data, str):
            assert packet.encode() == text
