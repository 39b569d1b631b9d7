"""The session state table and the per-session protocol machine of the sans-IO core."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from engineio_sc.exceptions import ErrorCode, ProtocolError
from engineio_sc.protocol import (
    TRANSITIONS,
    ClientClosed,
    Input,
    MessageReceived,
    Packet,
    PacketType,
    PingDue,
    PingTimedOut,
    SessionMachine,
    SessionState,
    Transport,
    transition,
)

S = SessionState
INTERVAL, TIMEOUT = 25.0, 20.0
T0 = 1000.0  # any monotonic clock reading

PROBE = Packet(PacketType.PING, "probe")
PROBE_ANSWER = Packet(PacketType.PONG, "probe")
UPGRADE = Packet(PacketType.UPGRADE)
PONG = Packet(PacketType.PONG)


def machine(transport: Transport = Transport.POLLING) -> SessionMachine:
    return SessionMachine(transport, ping_interval=INTERVAL, ping_timeout=TIMEOUT)


def opened(transport: Transport = Transport.POLLING, now: float = T0) -> SessionMachine:
    m = machine(transport)
    m.accept(now)
    return m


def upgrading() -> SessionMachine:
    m = opened()
    m.probe(PROBE)
    return m


def closing() -> SessionMachine:
    m = opened()
    m.close()
    return m


def closed() -> SessionMachine:
    m = closing()
    m.drained()
    return m


MAKERS: dict[SessionState, Callable[[], SessionMachine]] = {
    S.HANDSHAKE: machine,
    S.OPEN: opened,
    S.UPGRADING: upgrading,
    S.CLOSING: closing,
    S.CLOSED: closed,
}


def state_of(m: SessionMachine) -> SessionState:
    """The state, read through a call (so that mypy does not narrow it between moves)."""
    return m.state


def transport_of(m: SessionMachine) -> Transport:
    return m.transport


def assert_bad_request(error: ProtocolError) -> None:
    assert error.code is ErrorCode.BAD_REQUEST
    assert error.status == 400


# -- the transition table -----------------------------------------------------------


def test_transition_table_is_the_designed_one() -> None:
    assert {
        (S.HANDSHAKE, Input.ACCEPT): S.OPEN,
        (S.HANDSHAKE, Input.REJECT): S.CLOSED,
        (S.OPEN, Input.PROBE): S.UPGRADING,
        (S.UPGRADING, Input.UPGRADE): S.OPEN,
        (S.UPGRADING, Input.UPGRADE_FAILED): S.OPEN,
        (S.OPEN, Input.CLOSE): S.CLOSING,
        (S.UPGRADING, Input.CLOSE): S.CLOSING,
        (S.CLOSING, Input.DRAINED): S.CLOSED,
    } == TRANSITIONS


def test_every_state_is_reachable_and_can_reach_closed() -> None:
    reachable = {S.HANDSHAKE}
    frontier = [S.HANDSHAKE]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(SessionState)
    # Every source state of the table is reachable, so every entry is.
    assert {source for source, _ in TRANSITIONS} <= reachable

    can_close = {S.CLOSED}
    changed = True
    while changed:
        changed = False
        for (source, _), target in TRANSITIONS.items():
            if target in can_close and source not in can_close:
                can_close.add(source)
                changed = True
    assert can_close == set(SessionState)


def test_closed_is_terminal() -> None:
    assert not [key for key in TRANSITIONS if key[0] is S.CLOSED]


@pytest.mark.parametrize(("state", "event"), list(TRANSITIONS))
def test_transition_allowed(state: SessionState, event: Input) -> None:
    assert transition(state, event) is TRANSITIONS[state, event]


FORBIDDEN = [pair for pair in itertools.product(SessionState, Input) if pair not in TRANSITIONS]


def test_forbidden_pairs_are_all_the_others() -> None:
    assert len(FORBIDDEN) + len(TRANSITIONS) == len(SessionState) * len(Input)
    assert len(FORBIDDEN) == 27


@pytest.mark.parametrize(("state", "event"), FORBIDDEN)
def test_transition_forbidden(state: SessionState, event: Input) -> None:
    with pytest.raises(RuntimeError, match=f"no transition from {state.name} on {event.name}"):
        transition(state, event)


# Each entry of the table, driven through the machine's public API.
DRIVERS: dict[tuple[SessionState, Input], Callable[[SessionMachine], object]] = {
    (S.HANDSHAKE, Input.ACCEPT): lambda m: m.accept(T0),
    (S.HANDSHAKE, Input.REJECT): lambda m: m.reject(),
    (S.OPEN, Input.PROBE): lambda m: m.probe(PROBE),
    (S.UPGRADING, Input.UPGRADE): lambda m: m.upgrade(UPGRADE),
    (S.UPGRADING, Input.UPGRADE_FAILED): lambda m: m.upgrade_failed(),
    (S.OPEN, Input.CLOSE): lambda m: m.close(),
    (S.UPGRADING, Input.CLOSE): lambda m: m.close(),
    (S.CLOSING, Input.DRAINED): lambda m: m.drained(),
}


def test_every_entry_has_a_driver() -> None:
    assert set(DRIVERS) == set(TRANSITIONS)


@pytest.mark.parametrize(("state", "event"), list(TRANSITIONS))
def test_every_entry_is_reachable_through_the_machine(state: SessionState, event: Input) -> None:
    m = MAKERS[state]()
    assert state_of(m) is state
    DRIVERS[state, event](m)
    assert state_of(m) is TRANSITIONS[state, event]
    assert m.active is (TRANSITIONS[state, event] in (S.OPEN, S.UPGRADING))


# -- lifecycle -----------------------------------------------------------------------


def test_new_machine() -> None:
    m = machine()
    assert state_of(m) is S.HANDSHAKE
    assert transport_of(m) is Transport.POLLING
    assert not m.active
    assert m.deadline is None
    assert m.on_timer(T0 + 1e9) is None


def test_active_states() -> None:
    assert {state for state, make in MAKERS.items() if make().active} == {S.OPEN, S.UPGRADING}


def test_reject() -> None:
    m = machine()
    m.reject()
    assert state_of(m) is S.CLOSED
    assert m.deadline is None


def test_accept_twice_is_an_error() -> None:
    m = opened()
    with pytest.raises(RuntimeError):
        m.accept(T0)


def test_reject_after_accept_is_an_error() -> None:
    m = opened()
    with pytest.raises(RuntimeError):
        m.reject()
    assert state_of(m) is S.OPEN


def test_close_open_session() -> None:
    m = opened()
    assert m.close() is True
    assert state_of(m) is S.CLOSING
    assert not m.active
    assert m.deadline is None
    assert m.on_timer(T0 + 1e9) is None


def test_close_twice_returns_false() -> None:
    m = opened()
    assert m.close() is True
    assert m.close() is False
    assert state_of(m) is S.CLOSING
    m.drained()
    assert state_of(m) is S.CLOSED
    assert m.close() is False
    assert state_of(m) is S.CLOSED


def test_close_during_handshake_goes_to_closed() -> None:
    m = machine()
    assert m.close() is True
    assert state_of(m) is S.CLOSED
    assert m.close() is False


def test_close_while_upgrading() -> None:
    m = upgrading()
    assert m.close() is True
    assert state_of(m) is S.CLOSING
    with pytest.raises(ProtocolError):
        m.upgrade(UPGRADE)
    assert state_of(m) is S.CLOSING
    assert transport_of(m) is Transport.POLLING


def test_close_clears_a_pending_pong_deadline() -> None:
    m = opened()
    assert m.on_timer(T0 + INTERVAL) == PingDue()
    assert m.deadline == T0 + INTERVAL + TIMEOUT
    m.close()
    assert m.deadline is None
    assert m.on_timer(T0 + INTERVAL + TIMEOUT) is None


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.OPEN, S.UPGRADING, S.CLOSED])
def test_drained_only_moves_a_closing_session(state: SessionState) -> None:
    m = MAKERS[state]()
    m.drained()
    assert state_of(m) is state


# -- heartbeat -----------------------------------------------------------------------


def test_accept_schedules_the_first_ping() -> None:
    m = machine()
    m.accept(T0)
    assert m.deadline == T0 + INTERVAL


def test_no_ping_before_the_deadline() -> None:
    m = opened()
    assert m.on_timer(T0) is None
    assert m.on_timer(T0 + INTERVAL - 0.001) is None
    assert m.deadline == T0 + INTERVAL


def test_ping_due_then_timed_out() -> None:
    m = opened()
    assert m.on_timer(T0 + INTERVAL) == PingDue()
    assert m.deadline == T0 + INTERVAL + TIMEOUT
    # The ping is reported once.
    assert m.on_timer(T0 + INTERVAL) is None
    assert m.on_timer(T0 + INTERVAL + TIMEOUT - 0.001) is None
    assert m.on_timer(T0 + INTERVAL + TIMEOUT) == PingTimedOut()
    # Reported once; nothing is scheduled after it: the caller closes the session.
    assert m.deadline is None
    assert m.on_timer(T0 + 1e9) is None
    assert state_of(m) is S.OPEN


def test_late_timer_counts_the_timeout_from_the_actual_ping() -> None:
    m = opened()
    late = T0 + INTERVAL + 7.0
    assert m.on_timer(late) == PingDue()
    assert m.deadline == late + TIMEOUT
    assert m.on_timer(T0 + INTERVAL + TIMEOUT) is None
    assert m.on_timer(late + TIMEOUT) == PingTimedOut()


def test_pong_schedules_the_next_ping_from_the_pong() -> None:
    m = opened()
    ping_time = T0 + INTERVAL
    assert m.on_timer(ping_time) == PingDue()
    pong_time = ping_time + 5.0
    assert m.receive(PONG, pong_time) is None
    assert m.deadline == pong_time + INTERVAL
    # The timeout is cleared: no PingTimedOut at the old deadline.
    assert m.on_timer(ping_time + TIMEOUT) is None
    assert m.on_timer(pong_time + INTERVAL - 0.001) is None
    assert m.on_timer(pong_time + INTERVAL) == PingDue()
    assert m.deadline == pong_time + INTERVAL + TIMEOUT


def test_duplicate_pong_is_harmless() -> None:
    m = opened()
    assert m.on_timer(T0 + INTERVAL) == PingDue()
    pong_time = T0 + INTERVAL + 1.0
    assert m.receive(PONG, pong_time) is None
    assert m.receive(PONG, pong_time + 3.0) is None
    assert m.deadline == pong_time + INTERVAL
    assert m.on_timer(pong_time + INTERVAL) == PingDue()


def test_unsolicited_pong_does_not_move_the_ping() -> None:
    m = opened()
    assert m.receive(PONG, T0 + 10.0) is None
    assert m.deadline == T0 + INTERVAL


def test_pong_while_upgrading_counts() -> None:
    m = opened()
    assert m.on_timer(T0 + INTERVAL) == PingDue()
    m.probe(PROBE)
    assert m.receive(PONG, T0 + INTERVAL + 2.0) is None
    assert m.deadline == T0 + INTERVAL + 2.0 + INTERVAL


def test_probe_and_upgrade_leave_the_heartbeat_alone() -> None:
    m = opened()
    m.probe(PROBE)
    assert m.deadline == T0 + INTERVAL
    m.upgrade(UPGRADE)
    assert m.deadline == T0 + INTERVAL
    assert m.on_timer(T0 + INTERVAL) == PingDue()


def test_no_heartbeat_before_accept() -> None:
    m = machine()
    assert m.receive(PONG, T0) is None
    assert m.deadline is None
    assert m.on_timer(T0 + 1e9) is None


def test_intervals_are_kept() -> None:
    m = SessionMachine(Transport.WEBSOCKET, ping_interval=0.25, ping_timeout=0.5)
    assert (m.ping_interval, m.ping_timeout) == (0.25, 0.5)
    m.accept(2.0)
    assert m.deadline == 2.25
    assert m.on_timer(2.25) == PingDue()
    assert m.deadline == 2.75


# -- packets from the client -------------------------------------------------------------


@pytest.mark.parametrize("data", ["", "hello", "héllo ☃", "2probe"])
def test_text_message(data: str) -> None:
    m = opened()
    event = m.receive(Packet(PacketType.MESSAGE, data), T0)
    assert event == MessageReceived(data)
    assert isinstance(event, MessageReceived)
    assert type(event.data) is str


@pytest.mark.parametrize("data", [b"", b"\x00\x01", b"hello"])
def test_binary_message(data: bytes) -> None:
    m = opened()
    event = m.receive(Packet(PacketType.MESSAGE, data), T0)
    assert event == MessageReceived(data)
    assert isinstance(event, MessageReceived)
    assert type(event.data) is bytes


def test_message_does_not_touch_the_heartbeat() -> None:
    m = opened()
    m.receive(Packet(PacketType.MESSAGE, "x"), T0 + 10.0)
    assert m.deadline == T0 + INTERVAL


def test_close_packet() -> None:
    m = opened()
    assert m.receive(Packet(PacketType.CLOSE), T0) == ClientClosed()
    # The machine reports it; the caller closes.
    assert state_of(m) is S.OPEN


@pytest.mark.parametrize("data", ["", "probe"])
def test_client_ping_is_an_error(data: str) -> None:
    m = opened()
    with pytest.raises(ProtocolError, match="invalid heartbeat direction") as info:
        m.receive(Packet(PacketType.PING, data), T0)
    assert_bad_request(info.value)


@pytest.mark.parametrize("kind", [PacketType.OPEN, PacketType.UPGRADE, PacketType.NOOP])
def test_other_packets_are_ignored(kind: PacketType) -> None:
    m = opened()
    assert m.receive(Packet(kind, "x"), T0) is None
    assert state_of(m) is S.OPEN
    assert m.deadline == T0 + INTERVAL


def test_packets_are_delivered_while_upgrading() -> None:
    m = upgrading()
    assert m.receive(Packet(PacketType.MESSAGE, "x"), T0) == MessageReceived("x")
    assert m.receive(Packet(PacketType.CLOSE), T0) == ClientClosed()


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.CLOSING, S.CLOSED])
@pytest.mark.parametrize(
    "packet",
    [
        Packet(PacketType.MESSAGE, "x"),
        Packet(PacketType.MESSAGE, b"x"),
        Packet(PacketType.CLOSE),
        Packet(PacketType.PING),
        PROBE,
        PONG,
        UPGRADE,
        Packet(PacketType.NOOP),
        Packet(PacketType.OPEN),
    ],
)
def test_packets_are_ignored_when_not_active(state: SessionState, packet: Packet) -> None:
    m = MAKERS[state]()
    before = m.deadline
    assert m.receive(packet, T0 + 1.0) is None
    assert state_of(m) is state
    assert m.deadline == before


# -- upgrade ------------------------------------------------------------------------


def test_probe_and_upgrade() -> None:
    m = opened()
    assert m.probe(PROBE) == PROBE_ANSWER
    assert PROBE_ANSWER.encode() == "3probe"
    assert state_of(m) is S.UPGRADING
    assert transport_of(m) is Transport.POLLING
    assert m.active
    m.upgrade(UPGRADE)
    assert state_of(m) is S.OPEN
    assert transport_of(m) is Transport.WEBSOCKET


@pytest.mark.parametrize(
    "packet",
    [
        Packet(PacketType.NOOP),
        Packet(PacketType.MESSAGE, "5"),
        Packet(PacketType.MESSAGE, b"5"),
        PROBE,
        PONG,
        Packet(PacketType.CLOSE),
    ],
)
def test_anything_but_upgrade_fails_the_upgrade(packet: Packet) -> None:
    m = upgrading()
    with pytest.raises(ProtocolError) as info:
        m.upgrade(packet)
    assert_bad_request(info.value)
    assert state_of(m) is S.OPEN
    assert transport_of(m) is Transport.POLLING
    # The session can try again.
    assert m.probe(PROBE) == PROBE_ANSWER
    assert state_of(m) is S.UPGRADING


def test_upgrade_failed() -> None:
    m = upgrading()
    m.upgrade_failed()
    assert state_of(m) is S.OPEN
    assert transport_of(m) is Transport.POLLING


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.OPEN, S.CLOSING, S.CLOSED])
def test_upgrade_failed_is_a_no_op_when_not_upgrading(state: SessionState) -> None:
    m = MAKERS[state]()
    m.upgrade_failed()
    assert state_of(m) is state


@pytest.mark.parametrize(
    "packet",
    [
        Packet(PacketType.PING),
        Packet(PacketType.PING, "probe2"),
        Packet(PacketType.PING, "Probe"),
        Packet(PacketType.PONG, "probe"),
        Packet(PacketType.MESSAGE, "probe"),
        Packet(PacketType.MESSAGE, b"probe"),
        UPGRADE,
    ],
)
def test_probe_needs_2probe(packet: Packet) -> None:
    m = opened()
    with pytest.raises(ProtocolError, match="expected 2probe") as info:
        m.probe(packet)
    assert_bad_request(info.value)
    assert state_of(m) is S.OPEN


def test_probe_on_a_websocket_session() -> None:
    m = opened(Transport.WEBSOCKET)
    with pytest.raises(ProtocolError, match="cannot upgrade") as info:
        m.probe(PROBE)
    assert_bad_request(info.value)
    assert state_of(m) is S.OPEN
    assert transport_of(m) is Transport.WEBSOCKET


def test_probe_after_the_upgrade() -> None:
    m = upgrading()
    m.upgrade(UPGRADE)
    with pytest.raises(ProtocolError, match="cannot upgrade"):
        m.probe(PROBE)
    assert state_of(m) is S.OPEN


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.UPGRADING, S.CLOSING, S.CLOSED])
def test_probe_when_not_open(state: SessionState) -> None:
    m = MAKERS[state]()
    with pytest.raises(ProtocolError, match="cannot upgrade") as info:
        m.probe(PROBE)
    assert_bad_request(info.value)
    assert state_of(m) is state


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.OPEN, S.CLOSING, S.CLOSED])
def test_upgrade_without_probe(state: SessionState) -> None:
    m = MAKERS[state]()
    with pytest.raises(ProtocolError, match="no upgrade in progress") as info:
        m.upgrade(UPGRADE)
    assert_bad_request(info.value)
    assert state_of(m) is state
    assert transport_of(m) is Transport.POLLING
