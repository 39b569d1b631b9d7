"""The Socket.IO layer's sans-IO core: the packet codec and one connection's
rules (a connection's namespaces, their packets' order, the connect timeout).

The messages here are Engine.IO message payloads: ``2["ev",1]`` is what the
wire carries as ``42["ev",1]``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engineio_sc.socketio.protocol import (
    RESERVED_EVENTS,
    AckReceived,
    Connection,
    ConnectRequested,
    Decoder,
    EventReceived,
    Left,
    NamespaceState,
    Packet,
    PacketType,
    ProtocolViolation,
    encode,
)

BIN = b"\x07\x08\x09"


def decode(*messages: str | bytes, max_attachments: int = 1000) -> Packet | None:
    """What a new decoder makes of ``messages``: the packet the last completes."""
    decoder = Decoder(max_attachments=max_attachments)
    packet = None
    for message in messages:
        packet = decoder.feed(message)
    return packet


def violates(*messages: str | bytes, max_attachments: int = 1000) -> str:
    """The message of the violation the last of ``messages`` raises."""
    decoder = Decoder(max_attachments=max_attachments)
    for message in messages[:-1]:
        decoder.feed(message)
    with pytest.raises(ProtocolViolation) as caught:
        decoder.feed(messages[-1])
    return str(caught.value)


def placeholder(num: Any) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


# -- encoding ------------------------------------------------------------------------


def test_packet_type_values() -> None:
    assert [(t.name, t.value) for t in PacketType] == [
        ("CONNECT", 0),
        ("DISCONNECT", 1),
        ("EVENT", 2),
        ("ACK", 3),
        ("CONNECT_ERROR", 4),
        ("BINARY_EVENT", 5),
        ("BINARY_ACK", 6),
    ]


@pytest.mark.parametrize(
    ("packet", "text"),
    [
        (Packet(PacketType.CONNECT), "0"),
        (Packet(PacketType.CONNECT, data={"sid": "abc"}), '0{"sid":"abc"}'),
        (Packet(PacketType.CONNECT, "/custom", {"sid": "abc"}), '0/custom,{"sid":"abc"}'),
        (Packet(PacketType.DISCONNECT), "1"),
        (Packet(PacketType.DISCONNECT, "/chat"), "1/chat,"),
        (Packet(PacketType.EVENT, data=["hello", 1]), '2["hello",1]'),
        (Packet(PacketType.EVENT, "/chat", ["ev"], 12), '2/chat,12["ev"]'),
        (Packet(PacketType.ACK, data=["acked", {"a": 1}], id=7), '37["acked",{"a":1}]'),
        (Packet(PacketType.ACK, data=[], id=0), "30[]"),
        (
            Packet(PacketType.CONNECT_ERROR, "/random", {"message": "Invalid namespace"}),
            '4/random,{"message":"Invalid namespace"}',
        ),
        (
            Packet(PacketType.CONNECT_ERROR, "/deny", {"message": "no", "data": {"code": 42}}),
            '4/deny,{"message":"no","data":{"code":42}}',
        ),
        (Packet(PacketType.EVENT, data=["é ☃", "\n"]), '2["\\u00e9 \\u2603","\\n"]'),
    ],
)
def test_encode_text_packets(packet: Packet, text: str) -> None:
    assert encode(packet) == [text]


def test_encode_event_with_bytes_is_a_binary_event() -> None:
    packet = Packet(PacketType.EVENT, data=["bin", BIN])
    assert encode(packet) == ['51-["bin",{"_placeholder":true,"num":0}]', BIN]


def test_encode_ack_with_bytes_is_a_binary_ack() -> None:
    packet = Packet(PacketType.ACK, data=[BIN], id=9)
    assert encode(packet) == ['61-9[{"_placeholder":true,"num":0}]', BIN]


def test_encode_buffers_in_order_wherever_they_are() -> None:
    data = ["ev", {"a": b"1", "b": [b"2", {"c": bytearray(b"3")}]}, (memoryview(b"4"), 5)]
    text, *buffers = encode(Packet(PacketType.EVENT, "/ns", data, 3))
    assert buffers == [b"1", b"2", b"3", b"4"]
    assert all(type(buffer) is bytes for buffer in buffers)
    assert text == (
        '54-/ns,3["ev",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1},'
        '{"c":{"_placeholder":true,"num":2}}]},[{"_placeholder":true,"num":3},5]]'
    )


def test_encode_empty_bytes_is_still_an_attachment() -> None:
    assert encode(Packet(PacketType.EVENT, data=["e", b""])) == [
        '51-["e",{"_placeholder":true,"num":0}]',
        b"",
    ]


def test_encode_tuples_are_arrays() -> None:
    assert encode(Packet(PacketType.EVENT, data=["e", (1, (2, 3))])) == ['2["e",[1,[2,3]]]']


def test_encode_takes_its_dumps() -> None:
    seen: list[Any] = []

    def dumps(value: Any) -> str:
        seen.append(value)
        return "[0]"

    assert encode(Packet(PacketType.EVENT, data=["e", b"x"]), dumps) == ["51-[0]", b"x"]
    assert seen == [["e", placeholder(0)]]


# -- decoding: the rows of the reference server's table, at the core --------------------


def test_decode_connect_to_the_main_namespace() -> None:  # 40
    assert decode("0") == Packet(PacketType.CONNECT, "/", None)


def test_decode_connect_with_auth() -> None:  # 40/custom,{"token":"abc"}
    assert decode('0/custom,{"token":"abc"}') == Packet(
        PacketType.CONNECT, "/custom", {"token": "abc"}
    )


def test_decode_connect_to_any_namespace() -> None:  # 40/random, 40/deny,
    assert decode("0/random") == Packet(PacketType.CONNECT, "/random")
    assert decode("0/deny,") == Packet(PacketType.CONNECT, "/deny")


@pytest.mark.parametrize("auth", ['"str"', "[]", "-1", "null", "true", '""'])
def test_connect_auth_must_be_an_object(auth: str) -> None:  # 40"str"
    assert violates("0" + auth) == "invalid payload for a CONNECT packet"
    assert violates("0/ns," + auth) == "invalid payload for a CONNECT packet"


def test_decode_event_with_ack_id() -> None:  # 427["ev",{"a":1}]
    assert decode('27["ev",{"a":1}]') == Packet(PacketType.EVENT, "/", ["ev", {"a": 1}], 7)


def test_decode_binary_event_with_its_attachment() -> None:  # 451-9[...] + 07 08 09
    decoder = Decoder()
    assert decoder.feed('51-9["bin",{"_placeholder":true,"num":0}]') is None
    assert decoder.feed(BIN) == Packet(PacketType.EVENT, "/", ["bin", BIN], 9)


def test_decode_ack_for_any_id() -> None:  # 4399["x"]: the connection ignores it
    assert decode('399["x"]') == Packet(PacketType.ACK, "/", ["x"], 99)


@pytest.mark.parametrize(
    "text",
    [
        '2abc["ev",1]',  # a bad ack id
        "2{}",  # a payload that is not an array
        "abc",  # an unknown type
    ],
)
def test_decode_refuses_the_table_rows_that_close(text: str) -> None:
    with pytest.raises(ProtocolViolation):
        decode(text)


# -- decoding: types and payloads ----------------------------------------------------------


@pytest.mark.parametrize("text", ["", "7", "8[]", "9", "x", "-1", " 2[1]", "\u0662[1]"])
def test_unknown_type(text: str) -> None:
    assert violates(text) == "unknown packet type"


@pytest.mark.parametrize("text", ["2", "2/ns,", "27", "3", "37", "3/ns,7", "50-", "61-3"])
def test_event_and_ack_need_a_payload(text: str) -> None:
    assert "without its payload" in violates(text)


@pytest.mark.parametrize("payload", ["{}", '"x"', "-1", "null"])
def test_ack_payload_must_be_an_array(payload: str) -> None:
    assert violates("31" + payload) == "invalid payload for a ACK packet"


def test_ack_payload_may_be_empty() -> None:
    assert decode("31[]") == Packet(PacketType.ACK, "/", [], 1)


@pytest.mark.parametrize("payload", ["{}", "[]", "[true]", "[null]", "[{}]", "[[]]", '"ev"'])
def test_event_payload_is_a_named_array(payload: str) -> None:
    assert violates("2" + payload) == "invalid payload for a EVENT packet"


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_event_names_are_refused(name: str) -> None:
    assert violates(f'2["{name}"]') == "invalid payload for a EVENT packet"
    assert violates(f'51-["{name}",{{"_placeholder":true,"num":0}}]') == (
        "invalid payload for a BINARY_EVENT packet"
    )


def test_reserved_names() -> None:
    assert sorted(RESERVED_EVENTS) == [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ]


@pytest.mark.parametrize(
    ("payload", "name"), [("[1]", 1), ("[2.5,true]", 2.5), ('["Connect"]', "Connect")]
)
def test_event_names_may_be_numbers(payload: str, name: Any) -> None:
    packet = decode("2" + payload)
    assert packet is not None
    assert packet.data[0] == name


@pytest.mark.parametrize("payload", ["{}", '"str"', "[]", "null", "-1"])
def test_disconnect_with_a_payload_breaks_the_protocol(payload: str) -> None:
    assert violates("1" + payload) == "invalid payload for a DISCONNECT packet"
    assert violates("1/chat," + payload) == "invalid payload for a DISCONNECT packet"


def test_disconnect_without_payload() -> None:
    assert decode("1") == Packet(PacketType.DISCONNECT, "/")
    assert decode("1/chat,") == Packet(PacketType.DISCONNECT, "/chat")


@pytest.mark.parametrize(
    ("payload", "data"), [('"no"', "no"), ('{"message":"m"}', {"message": "m"})]
)
def test_connect_error_payload_is_a_string_or_an_object(payload: str, data: Any) -> None:
    assert decode("4" + payload) == Packet(PacketType.CONNECT_ERROR, "/", data)
    assert violates("4[]") == "invalid payload for a CONNECT_ERROR packet"


@pytest.mark.parametrize("text", ['2["a"', '2["a"]x', "2[\"a\",'b']", "2[NaN", "0{a:1}"])
def test_payload_must_be_json(text: str) -> None:
    assert violates(text) == "invalid payload: not JSON"


def test_payload_may_have_json_whitespace() -> None:
    assert decode('2 ["a"] ') == Packet(PacketType.EVENT, "/", ["a"])


def test_json_nested_too_deep_is_a_violation() -> None:
    assert violates("2" + "[" * 100_000) == "invalid payload: nested too deep"
    assert violates('2["a",' + "[" * 5000 + "]" * 5000 + "]") == "invalid payload: nested too deep"


def _nested_binary_event(depth: int) -> str:
    return '51-["a",' + "[" * depth + json.dumps(placeholder(0)) + "]" * depth + "]"


def test_attachment_nested_too_deep_is_a_violation() -> None:
    # The deepest packet whose JSON is read: putting its buffer back in takes
    # more frames a level than reading it.
    low, high = 0, 100_000
    while low < high:
        depth = (low + high + 1) // 2
        try:
            Decoder().feed(_nested_binary_event(depth))
        except ProtocolViolation:
            high = depth - 1
        else:
            low = depth
    decoder = Decoder()
    assert decoder.feed(_nested_binary_event(low)) is None
    with pytest.raises(ProtocolViolation, match=r"^invalid payload: nested too deep$"):
        decoder.feed(b"x")


def test_decoder_takes_its_loads() -> None:
    seen: list[str] = []

    def loads(text: str) -> Any:
        seen.append(text)
        return ["from loads"]

    assert Decoder(loads).feed('2/a,1["x"]') == Packet(PacketType.EVENT, "/a", ["from loads"], 1)
    assert seen == ['["x"]']


# -- decoding: namespaces and ack ids ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "namespace", "ack_id", "data"),
    [
        ('2["x"]', "/", None, ["x"]),
        ('2/ns,["x"]', "/ns", None, ["x"]),
        ('2/ns,7["x"]', "/ns", 7, ["x"]),
        ('2/a/b,["x"]', "/a/b", None, ["x"]),
        ('2/1,2["x"]', "/1", 2, ["x"]),
        ('2/,["x"]', "/", None, ["x"]),  # the main namespace, written in full
        ('2/ns ☃,0["x"]', "/ns ☃", 0, ["x"]),
        ('2007["x"]', "/", 7, ["x"]),  # leading zeros, as Number() reads them
        ('212345678901234567890["x"]', "/", 12345678901234567890, ["x"]),
        ("3/ns,9[]", "/ns", 9, []),
        ("0/ns,5{}", "/ns", 5, {}),  # read, then ignored by the connection
    ],
)
def test_namespace_and_ack_id(text: str, namespace: str, ack_id: int | None, data: Any) -> None:
    packet = decode(text)
    assert packet is not None
    assert (packet.namespace, packet.id, packet.data) == (namespace, ack_id, data)


def test_a_namespace_runs_to_the_comma_or_the_end() -> None:
    assert decode('0/ns{"a":1}') == Packet(PacketType.CONNECT, '/ns{"a":1}')
    assert "without its payload" in violates('2/ns["x"]')


def test_a_namespace_must_start_with_a_slash() -> None:
    assert violates('2ns,["x"]') == "invalid payload: not JSON"


def test_an_ack_id_too_long_to_read_is_a_violation() -> None:
    assert violates("2" + "1" * 5000 + '["x"]') == "illegal ack id: too many digits"
    assert violates("6" + "1" * 5000 + "-[]") == "illegal attachments: too many digits"


# -- decoding: binary packets and their attachments ---------------------------------------------


def test_attachments_count() -> None:
    decoder = Decoder()
    text = '53-/ns,4["e",{"_placeholder":true,"num":2},[{"_placeholder":true,"num":0}]]'
    assert decoder.feed(text) is None
    assert decoder.feed(b"zero") is None
    assert decoder.feed(b"one") is None
    assert decoder.feed(b"two") == Packet(PacketType.EVENT, "/ns", ["e", b"two", [b"zero"]], 4)
    assert decoder.feed('2["next"]') == Packet(PacketType.EVENT, "/", ["next"])


def test_binary_ack() -> None:
    assert decode('61-/ns,3[{"_placeholder":true,"num":0}]', BIN) == Packet(
        PacketType.ACK, "/ns", [BIN], 3
    )


def test_a_buffer_may_be_used_twice_or_not_at_all() -> None:
    text = '52-["e",{"_placeholder":true,"num":1},{"_placeholder":true,"num":1}]'
    assert decode(text, b"a", b"b") == Packet(PacketType.EVENT, "/", ["e", b"b", b"b"])


def test_binary_packet_with_no_attachments_is_complete_at_once() -> None:
    assert decode('50-["e",1]') == Packet(PacketType.EVENT, "/", ["e", 1])
    assert decode("60-2[]") == Packet(PacketType.ACK, "/", [], 2)
    assert "illegal attachment placeholder" in violates('50-["e",{"_placeholder":true,"num":0}]')


@pytest.mark.parametrize(
    "head", ["5", "5-", "5x-", "51", "5-1-", "5+1-", "5 1-", "5\u00b2-", "5\u0661-"]
)
def test_illegal_attachments(head: str) -> None:
    assert violates(head + '["e"]') == "illegal attachments"


@pytest.mark.parametrize(
    "num", [1, -1, None, True, 0.0, "0", [0], {"n": 0}], ids=lambda num: json.dumps(num)
)
def test_illegal_placeholder(num: Any) -> None:
    text = "51-" + json.dumps(["e", placeholder(num)])
    assert violates(text, b"x") == "illegal attachment placeholder"


def test_a_placeholder_without_its_num_is_illegal() -> None:
    assert violates('51-["e",{"_placeholder":true}]', b"x") == "illegal attachment placeholder"


def test_what_only_looks_like_a_placeholder_stays() -> None:
    data = ["e", {"_placeholder": False, "num": 0}, {"_placeholder": 1, "num": 0}]
    assert decode("51-" + json.dumps(data), b"x") == Packet(PacketType.EVENT, "/", data)
    text_only = ["e", placeholder(0)]
    assert decode("2" + json.dumps(text_only)) == Packet(PacketType.EVENT, "/", text_only)


def test_an_attachment_out_of_turn() -> None:
    assert violates(b"x") == "an attachment that no packet announced"
    assert violates('2["e"]', b"x") == "an attachment that no packet announced"
    assert violates('51-["e",{"_placeholder":true,"num":0}]', b"x", b"y") == (
        "an attachment that no packet announced"
    )


def test_a_text_message_while_attachments_are_awaited() -> None:
    text = '52-["e",{"_placeholder":true,"num":0}]'
    assert violates(text, b"x", '2["e"]') == "a text message while attachments were awaited"


def test_max_attachments() -> None:
    two = '52-["e",{"_placeholder":true,"num":1}]'
    assert decode(two, b"a", b"b", max_attachments=2) == Packet(PacketType.EVENT, "/", ["e", b"b"])
    assert violates("63-1[]", max_attachments=2) == "more than 2 attachments"
    assert violates("5" + "9" * 30 + '-["e"]') == "more than 1000 attachments"


# -- the connection: its namespaces --------------------------------------------------------------


def joined(*namespaces: str) -> Connection:
    """A connection that has joined ``namespaces``."""
    connection = Connection(opened_at=0, connect_timeout=45)
    for namespace in namespaces:
        text = "0" if namespace == "/" else f"0{namespace},"
        assert connection.receive(text) == ConnectRequested(namespace, None)
        connection.accepted(namespace)
    return connection


def raises(connection: Connection, message: str | bytes) -> str:
    with pytest.raises(ProtocolViolation) as caught:
        connection.receive(message)
    return str(caught.value)


def test_a_namespace_is_absent_joining_joined_then_left() -> None:
    connection = Connection(opened_at=0, connect_timeout=45)
    assert connection.state("/") is NamespaceState.ABSENT
    assert connection.receive('0{"token":"abc"}') == ConnectRequested("/", {"token": "abc"})
    assert connection.state("/") is NamespaceState.JOINING
    assert connection.joined == []
    connection.accepted("/")
    assert connection.state("/") is NamespaceState.JOINED
    assert connection.joined == ["/"]
    assert connection.receive("1") == Left("/")
    assert connection.state("/") is NamespaceState.LEFT
    assert connection.joined == []


def test_events_and_acks_of_a_joined_namespace() -> None:
    connection = joined("/", "/chat")
    assert connection.receive('27["ev",{"a":1}]') == EventReceived("/", ["ev", {"a": 1}], 7)
    assert connection.receive('2/chat,["ev"]') == EventReceived("/chat", ["ev"], None)
    assert connection.receive('3/chat,4["x",2]') == AckReceived("/chat", 4, ["x", 2])
    assert connection.receive("399[]") == AckReceived("/", 99, [])
    assert connection.joined == ["/", "/chat"]


def test_binary_packets_come_whole() -> None:
    connection = joined("/")
    assert connection.receive('51-9["bin",{"_placeholder":true,"num":0}]') is None
    assert connection.receive(BIN) == EventReceived("/", ["bin", BIN], 9)
    assert connection.receive('61-2[{"_placeholder":true,"num":0}]') is None
    assert connection.receive(b"") == AckReceived("/", 2, [b""])


def test_a_second_connect_while_joining_or_joined() -> None:
    connection = Connection(opened_at=0, connect_timeout=45)
    connection.receive("0")
    assert raises(connection, "0") == "a second CONNECT for /"
    connection = joined("/", "/a")
    assert raises(connection, "0/a,") == "a second CONNECT for /a"


@pytest.mark.parametrize(
    "message", ['2["ev",1]', '21["ev"]', '31["x"]', '51-["e",{"_placeholder":true,"num":0}]']
)
def test_an_event_or_ack_for_a_namespace_not_joined(message: str) -> None:
    joining = Connection(opened_at=0, connect_timeout=45)
    joining.receive("0")  # the server has not answered yet
    for connection in (Connection(opened_at=0, connect_timeout=45), joining, joined("/other")):
        last: str | bytes = message
        if message.startswith("5"):
            assert connection.receive(message) is None
            last = b"attachment"
        assert "which is not joined" in raises(connection, last)


@pytest.mark.parametrize("message", ['2["ev",1]', '21["ev"]', '31["x"]'])
def test_an_event_or_ack_for_a_namespace_left_is_ignored(message: str) -> None:
    by_client = joined("/")
    assert by_client.receive("1") == Left("/")
    assert by_client.receive(message) is None
    by_server = joined("/")
    assert by_server.leave("/")
    assert by_server.receive(message) is None
    assert by_server.state("/") is NamespaceState.LEFT


def test_a_binary_event_for_a_namespace_left_is_read_whole_and_ignored() -> None:
    connection = joined("/")
    connection.receive("1")
    assert connection.receive('51-["e",{"_placeholder":true,"num":0}]') is None
    assert connection.receive(b"x") is None
    assert connection.receive('2["e"]') is None  # the attachment was taken


def test_a_disconnect_for_a_namespace_not_joined_is_ignored() -> None:
    connection = Connection(opened_at=0, connect_timeout=45)
    assert connection.receive("1") is None  # absent
    assert connection.state("/") is NamespaceState.ABSENT
    connection.receive("0")
    assert connection.receive("1") is None  # joining
    assert connection.state("/") is NamespaceState.JOINING
    connection.accepted("/")
    assert connection.receive("1") == Left("/")
    assert connection.receive("1") is None  # left
    assert connection.state("/") is NamespaceState.LEFT


def test_a_connect_error_from_a_client_breaks_the_protocol() -> None:
    connection = joined("/")
    assert raises(connection, '4{"message":"x"}') == "a CONNECT_ERROR from a client"
    assert raises(Connection(0, 45), '4"x"') == "a CONNECT_ERROR from a client"


def test_an_ack_without_its_id_breaks_the_protocol() -> None:
    assert raises(joined("/"), '3["x"]') == "an ACK without its id"
    assert raises(joined("/"), '60-["x"]') == "an ACK without its id"


def test_a_client_may_join_again_after_leaving() -> None:
    connection = joined("/")
    connection.receive("1")
    assert connection.receive("0") == ConnectRequested("/", None)
    assert connection.state("/") is NamespaceState.JOINING
    connection.accepted("/")
    assert connection.receive('2["e"]') == EventReceived("/", ["e"], None)


def test_a_refused_client_may_ask_again() -> None:
    connection = Connection(opened_at=0, connect_timeout=45)
    connection.receive("0/deny,")
    connection.refused("/deny")
    assert connection.state("/deny") is NamespaceState.ABSENT
    assert "which is not joined" in raises(connection, '2/deny,["e"]')
    connection = Connection(opened_at=0, connect_timeout=45)
    connection.receive("0/deny,")
    connection.refused("/deny")
    assert connection.receive('0/deny,{"token":"t"}') == ConnectRequested("/deny", {"token": "t"})


def test_the_server_leaves_only_a_joined_namespace() -> None:
    connection = Connection(opened_at=0, connect_timeout=45)
    assert not connection.leave("/")
    connection.receive("0")
    assert not connection.leave("/")  # joining
    assert connection.state("/") is NamespaceState.JOINING
    connection.accepted("/")
    assert connection.leave("/")
    assert connection.state("/") is NamespaceState.LEFT
    assert not connection.leave("/")


def test_a_violation_of_the_codec_comes_through() -> None:
    assert raises(joined("/"), "2{}") == "invalid payload for a EVENT packet"


def test_the_connection_takes_its_loads() -> None:
    connection = Connection(0, 45, loads=lambda text: {"auth": text})
    assert connection.receive("0/a,xyz") == ConnectRequested("/a", {"auth": "xyz"})


def test_next_ack_id_counts_from_zero() -> None:
    connection = Connection(opened_at=0, connect_timeout=45)
    assert [connection.next_ack_id() for _ in range(4)] == [0, 1, 2, 3]
    other = Connection(opened_at=0, connect_timeout=45)
    assert other.next_ack_id() == 0


# -- the connection: the connect timeout -----------------------------------------------------------


def test_no_namespace_joined_in_time() -> None:
    connection = Connection(opened_at=100.0, connect_timeout=45)
    assert connection.connect_deadline == 145.0
    assert not connection.connect_timed_out(100.0)
    assert not connection.connect_timed_out(144.999)
    assert connection.connect_timed_out(145.0)
    assert connection.connect_timed_out(1000.0)


def test_joining_is_not_joined() -> None:
    connection = Connection(opened_at=100.0, connect_timeout=45)
    connection.receive("0")
    assert connection.connect_deadline == 145.0
    assert connection.connect_timed_out(145.0)


def test_a_refusal_does_not_stop_the_clock() -> None:
    connection = Connection(opened_at=100.0, connect_timeout=45)
    connection.receive("0/deny,")
    connection.refused("/deny")
    assert connection.connect_deadline == 145.0
    assert connection.connect_timed_out(145.0)


def test_joining_once_stops_the_clock_for_good() -> None:
    connection = Connection(opened_at=100.0, connect_timeout=45)
    connection.receive("0/a,")
    connection.accepted("/a")
    assert connection.connect_deadline is None
    assert not connection.connect_timed_out(145.0)
    connection.receive("1/a,")  # it left every namespace: still not timed out
    assert connection.joined == []
    assert connection.connect_deadline is None
    assert not connection.connect_timed_out(1e9)


# -- properties -----------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
keys = st.text().filter(lambda key: key != "_placeholder")
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
values_with_bytes = st.recursive(
    json_scalars | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
namespaces = st.just("/") | st.text(st.characters(exclude_characters=","), max_size=10).map(
    lambda name: "/" + name
)
ack_ids = st.none() | st.integers(min_value=0, max_value=2**64)
event_names = st.text().filter(lambda name: name not in RESERVED_EVENTS) | st.integers()

events = st.builds(
    Packet,
    st.just(PacketType.EVENT),
    namespaces,
    st.builds(
        lambda name, args: [name, *args], event_names, st.lists(values_with_bytes, max_size=4)
    ),
    ack_ids,
)
acks = st.builds(
    Packet,
    st.just(PacketType.ACK),
    namespaces,
    st.lists(values_with_bytes, max_size=4),
    st.integers(min_value=0, max_value=2**64),
)
connects = st.builds(
    Packet,
    st.just(PacketType.CONNECT),
    namespaces,
    st.none() | st.dictionaries(st.text(), json_values, max_size=4),
)
disconnects = st.builds(Packet, st.just(PacketType.DISCONNECT), namespaces)
connect_errors = st.builds(
    Packet,
    st.just(PacketType.CONNECT_ERROR),
    namespaces,
    st.text() | st.dictionaries(st.text(), json_values, max_size=4),
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON kind (``1 == 1.0 == True`` for ``==``)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(events | acks | connects | disconnects | connect_errors)
@example(Packet(PacketType.EVENT, "/ns", ["e", b"", {"k": [b"\x00"]}], 0))
@example(Packet(PacketType.ACK, "/12", [b"x"], 34))
@example(Packet(PacketType.EVENT, "/", [0], None))
def test_round_trip(packet: Packet) -> None:
    messages = encode(packet)
    decoder = Decoder()
    for message in messages[:-1]:
        assert decoder.feed(message) is None
    decoded = decoder.feed(messages[-1])
    assert decoded is not None
    assert (decoded.type, decoded.namespace, decoded.id) == (
        packet.type,
        packet.namespace,
        packet.id,
    )
    assert _same(packet.data, decoded.data)


@given(events | acks, events | acks)
def test_round_trip_of_packets_in_a_row(first: Packet, second: Packet) -> None:
    decoder = Decoder()
    received = [decoder.feed(m) for packet in (first, second) for m in encode(packet)]
    assert [packet for packet in received if packet is not None] == [first, second]


def _fragments() -> st.SearchStrategy[str]:
    """Text made of the pieces a packet is made of, so that more of it parses."""
    piece = st.sampled_from(
        ["0", "1", "2", "3", "4", "5", "6", "9", "-", "/", ",", "ns", '"', "[", "]", "{", "}",
         ":", "true", "null", '"_placeholder"', '"num"', "1e400", "NaN", " ", "\u00e9", "\\u"]
    )  # fmt: skip
    return st.lists(piece, max_size=20).map("".join)


messages = st.text() | st.binary() | _fragments()


@settings(max_examples=500)
@given(st.lists(messages, max_size=8))
@example(["2" + "7" * 5000 + "[1]"])
@example(["5" + "[" * 3000])
def test_the_decoder_raises_nothing_but_violations(stream: list[str | bytes]) -> None:
    decoder = Decoder(max_attachments=3)
    for message in stream:
        try:
            decoder.feed(message)
        except ProtocolViolation:
            return


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            ["0", "0/a,", "1", '2["e"]', "31[]", '51-["e",{"_placeholder":true,"num":0}]', b"x"]
        )
        | messages,
        max_size=10,
    ),
    st.data(),
)
def test_the_connection_raises_nothing_but_violations(
    stream: list[str | bytes], data: st.DataObject
) -> None:
    connection = Connection(opened_at=0, connect_timeout=45)
    for message in stream:
        try:
            event = connection.receive(message)
        except ProtocolViolation:
            return
        if isinstance(event, ConnectRequested):
            if data.draw(st.booleans()):
                connection.accepted(event.namespace)
            else:
                connection.refused(event.namespace)
