"""One session's protocol machine: packets and clock readings in, events out.

The machine never reads a clock: every call that depends on time takes ``now``
(any monotonic clock, in seconds), and :attr:`SessionMachine.deadline` says when the
caller must next call :meth:`SessionMachine.on_timer`.

It also decides what each polling ``GET`` gets (a :class:`PollVerdict`), since that
depends on the upgrade:

- with no upgrade in progress, a ``GET`` is an ordinary poll: what is queued, or
  the next packets;
- a ``GET`` that arrives while an upgrade is in progress (from the moment its
  WebSocket is taken, before the ``101``) waits for the upgrade's outcome: it is
  refused with 400 code 3 if the session upgrades, and becomes an ordinary poll if
  the upgrade fails;
- so that a client that keeps polling while it probes is never stuck (a client
  sends ``5`` only once its last ``GET`` is answered), answering the probe
  releases a ``GET`` held since before the upgrade with a noop, and a waiting
  ``GET`` is released with a noop once it has waited :data:`POLL_RELEASE_DELAY`
  past the probe's answer (and past its own arrival), unless ``5`` came first;
- one ``GET`` at a time: a ``GET`` while another is pending, ordinary or waiting,
  is a conflict. The caller refuses it and closes the session, which answers the
  first ``GET`` as a closed session's poll. The same for ``POST``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..exceptions import ErrorCode, ProtocolError
from ._packets import Packet, PacketType
from ._state import Input, SessionState, Transport, transition

__all__ = [
    "POLL_RELEASE_DELAY",
    "ClientClosed",
    "MessageReceived",
    "PingDue",
    "PingTimedOut",
    "PollReleased",
    "PollVerdict",
    "SessionEvent",
    "SessionMachine",
]

POLL_RELEASE_DELAY = 0.05
"""Seconds a ``GET`` that arrived during an upgrade waits, once the probe is
answered, before it is released with a noop. A client that races its own upgrade
sends ``5`` right behind ``2probe``, so ``5`` is there long before; the official
client sends ``5`` only once this ``GET`` is answered, so every upgrade whose
``GET`` lands after its WebSocket pays this much (the reference server releases
polls from a 100 ms loop: about 50 ms on average)."""


class PollVerdict(enum.Enum):
    """What the pending polling ``GET`` is to get."""

    SERVE = "serve"
    """An ordinary poll: what is queued, or the next packets when they come."""
    WAIT = "wait"
    """Nothing yet: it waits for the outcome of the upgrade in progress."""
    NOOP = "noop"
    """A noop packet, now: the upgrade takes over from polling."""
    MISMATCH = "mismatch"
    """A 400 with code 3 (transport mismatch): the session is on its WebSocket."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """The client sent a message."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class ClientClosed:
    """The client sent a close packet."""


@dataclass(frozen=True, slots=True)
class PingDue:
    """A ping must be sent now."""


@dataclass(frozen=True, slots=True)
class PingTimedOut:
    """The client did not answer the last ping in time."""


@dataclass(frozen=True, slots=True)
class PollReleased:
    """The ``GET`` waiting on the upgrade is to be answered now (with a noop)."""


SessionEvent = MessageReceived | ClientClosed | PingDue | PingTimedOut | PollReleased

PROBE = "probe"
_UPGRADE = (SessionState.JOINING, SessionState.UPGRADING)
_ACTIVE = (SessionState.OPEN, *_UPGRADE)
_CLOSED = (SessionState.CLOSING, SessionState.CLOSED)


class SessionMachine:
    """The protocol state of one Engine.IO session.

    Args:
        transport: the transport of the handshake.
        ping_interval: seconds between a pong (or the acceptance) and the next ping.
        ping_timeout: seconds the client has to answer a ping.

    Attributes:
        state: where the session is in its life.
        active: whether the session is open (or upgrading) and so takes packets.
        closed: whether the session is closing or closed: it takes nothing more.
        accepted: whether the connect handler accepted it (it stays so once closed).
        poll_verdict: what the pending polling ``GET`` is to get, or ``None`` when
            no ``GET`` is pending (see :meth:`poll`).
    """

    __slots__ = (
        "_ping_at",
        "_pong_deadline",
        "_posting",
        "_release_at",
        "accepted",
        "active",
        "closed",
        "ping_interval",
        "ping_timeout",
        "poll_verdict",
        "state",
        "transport",
    )

    def __init__(self, transport: Transport, *, ping_interval: float, ping_timeout: float) -> None:
        self.transport = transport
        self.state = SessionState.HANDSHAKE
        self.active = False
        self.closed = False
        self.accepted = False
        self._posting = False
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._ping_at: float | None = None
        self._pong_deadline: float | None = None
        self._release_at: float | None = None  # when the waiting GET gets a noop
        self.poll_verdict: PollVerdict | None = None

    def _move(self, event: Input) -> None:
        self.state = state = transition(self.state, event)
        self.active = state in _ACTIVE
        self.closed = state in _CLOSED

    # -- lifecycle -------------------------------------------------------------

    def accept(self, now: float) -> None:
        """The connect handler accepted the session: start the heartbeat."""
        self._move(Input.ACCEPT)
        self.accepted = True
        self._ping_at = now + self.ping_interval

    def close(self) -> bool:
        """Start closing. Returns ``False`` if the session was already closing."""
        if self.closed:
            return False
        if self.state is SessionState.HANDSHAKE:
            self._move(Input.REJECT)
        else:
            self._move(Input.CLOSE)
        self._ping_at = self._pong_deadline = self._release_at = None
        if self.poll_verdict is PollVerdict.WAIT:
            self.poll_verdict = PollVerdict.SERVE  # answered as a closing session's poll
        return True

    def drained(self) -> None:
        """Everything that was to be delivered is delivered (or given up)."""
        if self.state is SessionState.CLOSING:
            self._move(Input.DRAINED)

    # -- upgrade ---------------------------------------------------------------

    def join(self) -> None:
        """Take a new WebSocket for an upgrade (before accepting it): the upgrade
        is in progress from now until :meth:`upgrade` or :meth:`upgrade_failed`.

        Raises:
            ProtocolError: the session cannot upgrade now: it is not open on
                polling, or another upgrade is in progress.
        """
        if self.state is not SessionState.OPEN or self.transport is not Transport.POLLING:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="session cannot upgrade now")
        self._move(Input.JOIN)

    def probe(self, packet: Packet, now: float) -> Packet:
        """Answer the probe, the first packet on the joining WebSocket: ``2probe``
        gives ``3probe``. A ``GET`` held since before the upgrade is now to get a
        noop; a waiting one, a noop :data:`POLL_RELEASE_DELAY` from ``now``.

        Raises:
            ProtocolError: no WebSocket is joining, or the packet is not ``2probe``
                (the upgrade has failed).
        """
        if self.state is not SessionState.JOINING:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="no WebSocket is joining")
        if packet != Packet(PacketType.PING, PROBE):
            self._fail_upgrade()
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="expected 2probe")
        self._move(Input.PROBE)
        if self.poll_verdict is PollVerdict.SERVE:
            self.poll_verdict = PollVerdict.NOOP
        elif self.poll_verdict is PollVerdict.WAIT:
            self._release_at = now + POLL_RELEASE_DELAY
        return Packet(PacketType.PONG, PROBE)

    def upgrade(self, packet: Packet) -> None:
        """Complete the upgrade on the ``5`` packet: a waiting ``GET`` is now to be
        refused.

        Raises:
            ProtocolError: the probe is not answered, or the packet is not ``5``
                (the upgrade has failed).
        """
        if self.state is not SessionState.UPGRADING:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="no upgrade in progress")
        if packet.type is not PacketType.UPGRADE:
            self._fail_upgrade()
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="expected the upgrade packet")
        self._move(Input.UPGRADE)
        self.transport = Transport.WEBSOCKET
        self._release_at = None
        if self.poll_verdict is PollVerdict.WAIT:
            self.poll_verdict = PollVerdict.MISMATCH

    def upgrade_failed(self) -> None:
        """The joining WebSocket went away or timed out: stay on polling."""
        if self.state in _UPGRADE:
            self._fail_upgrade()

    def _fail_upgrade(self) -> None:
        """A waiting ``GET`` becomes an ordinary poll."""
        self._move(Input.UPGRADE_FAILED)
        self._release_at = None
        if self.poll_verdict is PollVerdict.WAIT:
            self.poll_verdict = PollVerdict.SERVE

    # -- polling ---------------------------------------------------------------

    @property
    def ordinary_poll(self) -> bool:
        """Whether a ``GET`` arriving now is an ordinary poll with no other pending:
        one the caller may answer from the queue at once, without :meth:`poll`."""
        return (
            self.poll_verdict is None
            and self.transport is Transport.POLLING
            and self.state not in _UPGRADE
        )

    def poll(self, now: float) -> PollVerdict:
        """A polling ``GET`` arrives; it is pending until :meth:`poll_done`.

        Returns what it is to get, which :attr:`poll_verdict` keeps: later calls
        (the probe, the upgrade's outcome, :meth:`on_timer`, :meth:`close`) may
        change it. The caller answers once it is no longer ``WAIT``.

        Raises:
            ProtocolError: another ``GET`` is pending, ordinary or waiting (the
                caller refuses this one and closes the session).
        """
        if self.poll_verdict is not None:
            raise ProtocolError(None, detail="overlapping GET requests")
        if self.transport is not Transport.POLLING:
            verdict = PollVerdict.MISMATCH
        elif self.state is SessionState.JOINING:
            verdict = PollVerdict.WAIT
        elif self.state is SessionState.UPGRADING:
            verdict = PollVerdict.WAIT
            self._release_at = now + POLL_RELEASE_DELAY
        else:
            verdict = PollVerdict.SERVE
        self.poll_verdict = verdict
        return verdict

    def poll_done(self) -> None:
        """The pending ``GET`` is answered, or its client left."""
        self.poll_verdict = None
        self._release_at = None

    def post(self) -> None:
        """A ``POST`` arrives; it is in progress until :meth:`post_done`.

        Raises:
            ProtocolError: another ``POST`` is in progress (the caller refuses this
                one and closes the session).
        """
        if self._posting:
            raise ProtocolError(None, detail="overlapping POST requests")
        self._posting = True

    def post_done(self) -> None:
        """The ``POST`` in progress is over."""
        self._posting = False

    # -- packets and heartbeat -------------------------------------------------

    def text_message(self, frame: str) -> str | None:
        """The message in a text frame, when it is one and the session takes it:
        the common case, without decoding a packet. ``None`` otherwise: then
        the frame goes through :func:`decode_text` and :meth:`receive`."""
        if frame[:1] == "4" and self.active:
            return frame[1:]
        return None

    def receive(self, packet: Packet, now: float) -> SessionEvent | None:
        """Take one packet from the client.

        Returns the event for the application, or ``None`` when there is none
        (a pong, or a packet that arrives while the session is not open).

        Raises:
            ProtocolError: a ping from the client (v4 pings go the other way).
        """
        if not self.active:
            return None
        kind = packet.type
        if kind is PacketType.MESSAGE:
            return MessageReceived(packet.data)
        if kind is PacketType.PONG:
            if self._pong_deadline is not None:
                self._pong_deadline = None
                self._ping_at = now + self.ping_interval
            return None
        if kind is PacketType.CLOSE:
            return ClientClosed()
        if kind is PacketType.PING:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="invalid heartbeat direction")
        return None

    @property
    def deadline(self) -> float | None:
        """When :meth:`on_timer` must next be called, or ``None`` for never."""
        beat = self._pong_deadline if self._pong_deadline is not None else self._ping_at
        release = self._release_at
        if release is None or (beat is not None and beat < release):
            return beat
        return release

    def on_timer(self, now: float) -> SessionEvent | None:
        """Advance the timers to ``now``: the waiting ``GET`` released, a ping due, a
        ping timed out, or nothing. One event per call: while :attr:`deadline` has
        passed, another is due."""
        if self._release_at is not None and now >= self._release_at:
            self._release_at = None
            self.poll_verdict = PollVerdict.NOOP
            return PollReleased()
        if self._pong_deadline is not None:
            if now >= self._pong_deadline:
                self._pong_deadline = None
                return PingTimedOut()
            return None
        if self._ping_at is not None and now >= self._ping_at:
            self._ping_at = None
            self._pong_deadline = now + self.ping_timeout
            return PingDue()
        return None
