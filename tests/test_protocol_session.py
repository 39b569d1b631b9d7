"""The session state table and the per-session protocol machine of the sans-IO core."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sc.exceptions import ProtocolError
from engineio_sc.protocol import (
    POLL_RELEASE_DELAY,
    TRANSITIONS,
    ClientClosed,
    Input,
    MessageReceived,
    Packet,
    PacketType,
    PingDue,
    PingTimedOut,
    PollReleased,
    PollVerdict,
    SessionMachine,
    SessionState,
    Transport,
    transition,
)

from .helpers import assert_bad_request

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


def joining() -> SessionMachine:
    m = opened()
    m.join()
    return m


def upgrading(now: float = T0) -> SessionMachine:
    m = joining()
    m.probe(PROBE, now)
    return m


def upgraded() -> SessionMachine:
    m = upgrading()
    m.upgrade(UPGRADE)
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
    S.JOINING: joining,
    S.UPGRADING: upgrading,
    S.CLOSING: closing,
    S.CLOSED: closed,
}


ACTIVE = {S.OPEN, S.JOINING, S.UPGRADING}
"""The states in which a session takes packets: open, and while it upgrades."""


def state_of(m: SessionMachine) -> SessionState:
    """The state, read through a call (so that mypy does not narrow it between moves)."""
    return m.state


def transport_of(m: SessionMachine) -> Transport:
    return m.transport


def verdict_of(m: SessionMachine) -> PollVerdict | None:
    return m.poll_verdict


# -- the transition table -----------------------------------------------------------


def test_transition_table_is_the_designed_one() -> None:
    assert {
        (S.HANDSHAKE, Input.ACCEPT): S.OPEN,
        (S.HANDSHAKE, Input.REJECT): S.CLOSED,
        (S.OPEN, Input.JOIN): S.JOINING,
        (S.JOINING, Input.PROBE): S.UPGRADING,
        (S.JOINING, Input.UPGRADE_FAILED): S.OPEN,
        (S.UPGRADING, Input.UPGRADE): S.OPEN,
        (S.UPGRADING, Input.UPGRADE_FAILED): S.OPEN,
        (S.OPEN, Input.CLOSE): S.CLOSING,
        (S.JOINING, Input.CLOSE): S.CLOSING,
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
    assert len(FORBIDDEN) == 37


@pytest.mark.parametrize(("state", "event"), FORBIDDEN)
def test_transition_forbidden(state: SessionState, event: Input) -> None:
    with pytest.raises(RuntimeError, match=f"no transition from {state.name} on {event.name}"):
        transition(state, event)


# Each entry of the table, driven through the machine's public API.
DRIVERS: dict[tuple[SessionState, Input], Callable[[SessionMachine], object]] = {
    (S.HANDSHAKE, Input.ACCEPT): lambda m: m.accept(T0),
    (S.HANDSHAKE, Input.REJECT): lambda m: m.close(),
    (S.OPEN, Input.JOIN): lambda m: m.join(),
    (S.JOINING, Input.PROBE): lambda m: m.probe(PROBE, T0),
    (S.JOINING, Input.UPGRADE_FAILED): lambda m: m.upgrade_failed(),
    (S.UPGRADING, Input.UPGRADE): lambda m: m.upgrade(UPGRADE),
    (S.UPGRADING, Input.UPGRADE_FAILED): lambda m: m.upgrade_failed(),
    (S.OPEN, Input.CLOSE): lambda m: m.close(),
    (S.JOINING, Input.CLOSE): lambda m: m.close(),
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
    assert m.active is (TRANSITIONS[state, event] in ACTIVE)


# -- lifecycle -----------------------------------------------------------------------


def test_new_machine() -> None:
    m = machine()
    assert state_of(m) is S.HANDSHAKE
    assert transport_of(m) is Transport.POLLING
    assert not m.active
    assert m.deadline is None
    assert m.on_timer(T0 + 1e9) is None


def test_active_states() -> None:
    assert {state for state, make in MAKERS.items() if make().active} == ACTIVE


def test_closing_before_the_connect_handler_accepts_is_a_rejection() -> None:
    m = machine()
    assert m.close()
    assert state_of(m) is S.CLOSED
    assert m.closed
    assert not m.accepted
    assert m.deadline is None


def test_accept_twice_is_an_error() -> None:
    m = opened()
    with pytest.raises(RuntimeError):
        m.accept(T0)


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


@pytest.mark.parametrize("state", [S.JOINING, S.UPGRADING])
def test_close_while_upgrading(state: SessionState) -> None:
    m = MAKERS[state]()
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


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.OPEN, S.JOINING, S.UPGRADING, S.CLOSED])
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
    m.join()
    m.probe(PROBE, T0 + INTERVAL + 1.0)
    assert m.receive(PONG, T0 + INTERVAL + 2.0) is None
    assert m.deadline == T0 + INTERVAL + 2.0 + INTERVAL


def test_probe_and_upgrade_leave_the_heartbeat_alone() -> None:
    m = opened()
    m.join()
    assert m.deadline == T0 + INTERVAL
    m.probe(PROBE, T0 + 1.0)
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


@pytest.mark.parametrize("state", [S.JOINING, S.UPGRADING])
def test_packets_are_delivered_while_upgrading(state: SessionState) -> None:
    m = MAKERS[state]()
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
    m.join()
    assert state_of(m) is S.JOINING
    assert m.active
    assert m.probe(PROBE, T0) == PROBE_ANSWER
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
    m.join()
    assert m.probe(PROBE, T0) == PROBE_ANSWER
    assert state_of(m) is S.UPGRADING


@pytest.mark.parametrize("state", [S.JOINING, S.UPGRADING])
def test_upgrade_failed(state: SessionState) -> None:
    m = MAKERS[state]()
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
    m = joining()
    with pytest.raises(ProtocolError, match="expected 2probe") as info:
        m.probe(packet, T0)
    assert_bad_request(info.value)
    # The upgrade has failed: the session stays on polling and can try again.
    assert state_of(m) is S.OPEN
    assert transport_of(m) is Transport.POLLING
    m.join()
    assert state_of(m) is S.JOINING


def test_join_on_a_websocket_session() -> None:
    m = opened(Transport.WEBSOCKET)
    with pytest.raises(ProtocolError, match="cannot upgrade") as info:
        m.join()
    assert_bad_request(info.value)
    assert state_of(m) is S.OPEN
    assert transport_of(m) is Transport.WEBSOCKET


def test_join_after_the_upgrade() -> None:
    m = upgraded()
    with pytest.raises(ProtocolError, match="cannot upgrade"):
        m.join()
    assert state_of(m) is S.OPEN


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.JOINING, S.UPGRADING, S.CLOSING, S.CLOSED])
def test_join_when_not_open(state: SessionState) -> None:
    """A second WebSocket while an upgrade is in progress is refused, and the
    upgrade in progress goes on."""
    m = MAKERS[state]()
    with pytest.raises(ProtocolError, match="cannot upgrade") as info:
        m.join()
    assert_bad_request(info.value)
    assert state_of(m) is state


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.OPEN, S.UPGRADING, S.CLOSING, S.CLOSED])
def test_probe_without_a_joining_websocket(state: SessionState) -> None:
    m = MAKERS[state]()
    with pytest.raises(ProtocolError, match="no WebSocket is joining") as info:
        m.probe(PROBE, T0)
    assert_bad_request(info.value)
    assert state_of(m) is state


@pytest.mark.parametrize("state", [S.HANDSHAKE, S.OPEN, S.JOINING, S.CLOSING, S.CLOSED])
def test_upgrade_without_probe(state: SessionState) -> None:
    m = MAKERS[state]()
    with pytest.raises(ProtocolError, match="no upgrade in progress") as info:
        m.upgrade(UPGRADE)
    assert_bad_request(info.value)
    assert state_of(m) is state
    assert transport_of(m) is Transport.POLLING


# -- polls and the upgrade -------------------------------------------------------------

DELAY = POLL_RELEASE_DELAY


def test_an_ordinary_poll() -> None:
    m = opened()
    assert m.ordinary_poll
    assert m.poll(T0) is PollVerdict.SERVE
    assert verdict_of(m) is PollVerdict.SERVE
    assert not m.ordinary_poll  # one at a time
    assert m.deadline == T0 + INTERVAL
    m.poll_done()
    assert verdict_of(m) is None
    assert m.ordinary_poll


@pytest.mark.parametrize("state", [S.OPEN, S.JOINING, S.UPGRADING])
def test_a_second_poll_is_a_conflict(state: SessionState) -> None:
    """Two GETs at once are a client's error, the first one ordinary or waiting."""
    m = MAKERS[state]()
    first = m.poll(T0)
    with pytest.raises(ProtocolError, match="overlapping GET requests") as info:
        m.poll(T0)
    assert (info.value.code, info.value.status) == (None, 400)
    assert verdict_of(m) is first
    # The caller closes the session, which answers the first GET as a poll.
    m.close()
    assert verdict_of(m) is PollVerdict.SERVE


@pytest.mark.parametrize("state", [S.JOINING, S.UPGRADING])
def test_no_ordinary_poll_while_upgrading(state: SessionState) -> None:
    assert not MAKERS[state]().ordinary_poll


def test_no_ordinary_poll_once_upgraded() -> None:
    m = upgraded()
    assert not m.ordinary_poll
    assert m.poll(T0) is PollVerdict.MISMATCH


def test_poll_before_the_probe_then_upgrade() -> None:
    """The GET comes before the probe is processed: it waits, then is refused."""
    m = joining()
    assert m.poll(T0) is PollVerdict.WAIT
    assert m.deadline == T0 + INTERVAL  # no release before the probe
    assert m.on_timer(T0 + 5.0) is None
    assert verdict_of(m) is PollVerdict.WAIT
    m.probe(PROBE, T0 + 5.0)
    assert verdict_of(m) is PollVerdict.WAIT
    assert m.deadline == T0 + 5.0 + DELAY
    m.upgrade(UPGRADE)
    assert verdict_of(m) is PollVerdict.MISMATCH
    assert m.deadline == T0 + INTERVAL
    assert m.on_timer(T0 + 5.0 + DELAY) is None
    assert verdict_of(m) is PollVerdict.MISMATCH
    m.poll_done()
    assert m.poll(T0 + 6.0) is PollVerdict.MISMATCH


def test_poll_after_the_probe_then_upgrade() -> None:
    """The GET comes after the probe is answered and before ``5``: it waits, then
    is refused."""
    m = upgrading(T0)
    assert m.poll(T0 + 0.05) is PollVerdict.WAIT
    assert m.deadline == T0 + 0.05 + DELAY
    assert m.on_timer(T0 + 0.05 + DELAY - 0.001) is None
    m.upgrade(UPGRADE)
    assert verdict_of(m) is PollVerdict.MISMATCH
    assert m.deadline == T0 + INTERVAL


def test_a_poll_waiting_since_the_join_is_released_after_the_probe() -> None:
    m = joining()
    m.poll(T0)
    m.probe(PROBE, T0 + 3.0)
    assert m.on_timer(T0 + 3.0 + DELAY - 0.001) is None
    assert m.on_timer(T0 + 3.0 + DELAY) == PollReleased()
    assert verdict_of(m) is PollVerdict.NOOP
    assert m.deadline == T0 + INTERVAL
    assert m.on_timer(T0 + 3.0 + DELAY) is None  # reported once
    # A late 5 completes the upgrade; the released GET stays released.
    m.upgrade(UPGRADE)
    assert verdict_of(m) is PollVerdict.NOOP
    assert transport_of(m) is Transport.WEBSOCKET


def test_a_poll_after_the_probe_waits_its_own_delay() -> None:
    m = upgrading(T0)
    assert m.poll(T0 + 7.0) is PollVerdict.WAIT
    assert m.deadline == T0 + 7.0 + DELAY
    assert m.on_timer(T0 + 7.0 + DELAY) == PollReleased()
    assert verdict_of(m) is PollVerdict.NOOP


def test_a_poll_held_before_the_upgrade_is_released_by_the_probe() -> None:
    m = opened()
    assert m.poll(T0) is PollVerdict.SERVE
    m.join()
    assert verdict_of(m) is PollVerdict.SERVE  # packets still flow to it
    m.probe(PROBE, T0 + 1.0)
    assert verdict_of(m) is PollVerdict.NOOP
    assert m.deadline == T0 + INTERVAL  # at once: no release deadline
    m.upgrade(UPGRADE)
    assert verdict_of(m) is PollVerdict.NOOP


def test_a_held_poll_stays_ordinary_when_the_upgrade_fails_before_the_probe() -> None:
    m = opened()
    m.poll(T0)
    m.join()
    m.upgrade_failed()
    assert verdict_of(m) is PollVerdict.SERVE


FAILURES: dict[str, Callable[[SessionMachine], object]] = {
    "WebSocket gone": lambda m: m.upgrade_failed(),
    "wrong frame": lambda m: m.probe(UPGRADE, T0) if m.state is S.JOINING else m.upgrade(PROBE),
}


@pytest.mark.parametrize("state", [S.JOINING, S.UPGRADING])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_upgrade_makes_the_waiting_poll_ordinary(
    state: SessionState, failure: str
) -> None:
    m = MAKERS[state]()
    assert m.poll(T0) is PollVerdict.WAIT
    with contextlib.suppress(ProtocolError):
        FAILURES[failure](m)
    assert state_of(m) is S.OPEN
    assert transport_of(m) is Transport.POLLING
    assert verdict_of(m) is PollVerdict.SERVE
    assert m.deadline == T0 + INTERVAL
    assert m.on_timer(T0 + DELAY) is None


@pytest.mark.parametrize("state", [S.JOINING, S.UPGRADING])
def test_closing_makes_the_waiting_poll_ordinary(state: SessionState) -> None:
    m = MAKERS[state]()
    m.poll(T0)
    m.close()
    assert verdict_of(m) is PollVerdict.SERVE
    assert m.deadline is None


def test_a_poll_that_ends_takes_its_release_deadline_with_it() -> None:
    m = upgrading()
    m.poll(T0)
    m.poll_done()  # its client left
    assert m.deadline == T0 + INTERVAL
    assert m.on_timer(T0 + DELAY) is None
    assert m.poll(T0 + 1.0) is PollVerdict.WAIT
    assert m.deadline == T0 + 1.0 + DELAY


def test_a_release_and_a_ping_due_together_come_one_per_call() -> None:
    m = opened()
    m.join()
    m.probe(PROBE, T0 + INTERVAL - DELAY)
    m.poll(T0 + INTERVAL - DELAY)
    assert m.deadline == T0 + INTERVAL
    assert m.on_timer(T0 + INTERVAL) == PollReleased()
    assert m.deadline == T0 + INTERVAL
    assert m.on_timer(T0 + INTERVAL) == PingDue()
    assert m.deadline == T0 + INTERVAL + TIMEOUT


def test_a_release_before_a_pong_deadline() -> None:
    m = opened()
    assert m.on_timer(T0 + INTERVAL) == PingDue()
    m.join()
    m.poll(T0 + INTERVAL)
    m.probe(PROBE, T0 + INTERVAL + 1.0)
    assert m.deadline == T0 + INTERVAL + 1.0 + DELAY
    assert m.on_timer(T0 + INTERVAL + 1.0 + DELAY) == PollReleased()
    assert m.deadline == T0 + INTERVAL + TIMEOUT


OPERATIONS: dict[str, Callable[[SessionMachine, float], object]] = {
    "join": lambda m, now: m.join(),
    "probe": lambda m, now: m.probe(PROBE, now),
    "bad probe": lambda m, now: m.probe(PONG, now),
    "upgrade": lambda m, now: m.upgrade(UPGRADE),
    "bad upgrade": lambda m, now: m.upgrade(PONG),
    "upgrade failed": lambda m, now: m.upgrade_failed(),
    "poll": lambda m, now: m.poll(now),
    "poll done": lambda m, now: m.poll_done(),
    "pong": lambda m, now: m.receive(PONG, now),
    "timer": lambda m, now: m.on_timer(now),
    "close": lambda m, now: m.close(),
    "drained": lambda m, now: m.drained(),
}


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(OPERATIONS)), st.floats(0, 0.3)), max_size=40))
def test_any_sequence_keeps_polls_and_states_consistent(steps: list[tuple[str, float]]) -> None:
    """Whatever the order of upgrades, polls and timers: the machine raises only
    protocol errors, and a waiting GET always has an outcome to come."""
    m = opened()
    now = T0
    for name, elapsed in steps:
        now += elapsed
        with contextlib.suppress(ProtocolError):
            OPERATIONS[name](m, now)
        state, verdict = state_of(m), verdict_of(m)
        assert m.active is (state in ACTIVE)
        if verdict is PollVerdict.WAIT:
            assert state in (S.JOINING, S.UPGRADING)
            if state is S.UPGRADING:  # released within the delay, if 5 does not come
                assert m.deadline is not None
                assert m.deadline <= now + DELAY
        if verdict is PollVerdict.MISMATCH:
            assert transport_of(m) is Transport.WEBSOCKET
        if state in (S.JOINING, S.UPGRADING):
            assert transport_of(m) is Transport.POLLING
