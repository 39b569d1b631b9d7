"""One session's protocol machine: packets and clock readings in, events out.

The machine never reads a clock: every call that depends on time takes ``now``
(any monotonic clock, in seconds), and :attr:`SessionMachine.deadline` says when the
caller must next call :meth:`SessionMachine.on_timer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ErrorCode, ProtocolError
from ._packets import Packet, PacketType
from ._state import Input, SessionState, Transport, transition

__all__ = [
    "ClientClosed",
    "Event",
    "MessageReceived",
    "PingDue",
    "PingTimedOut",
    "SessionMachine",
]


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


Event = MessageReceived | ClientClosed | PingDue | PingTimedOut

PROBE = "probe"
_ACTIVE = (SessionState.OPEN, SessionState.UPGRADING)


class SessionMachine:
    """The protocol state of one Engine.IO session.

    Args:
        transport: the transport of the handshake.
        ping_interval: seconds between a pong (or the acceptance) and the next ping.
        ping_timeout: seconds the client has to answer a ping.

    Attributes:
        state: where the session is in its life.
        active: whether the session is open (or upgrading) and so takes packets.
    """

    __slots__ = (
        "_ping_at",
        "_pong_deadline",
        "active",
        "ping_interval",
        "ping_timeout",
        "state",
        "transport",
    )

    def __init__(self, transport: Transport, *, ping_interval: float, ping_timeout: float) -> None:
        self.transport = transport
        self.state = SessionState.HANDSHAKE
        self.active = False
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._ping_at: float | None = None
        self._pong_deadline: float | None = None

    def _move(self, event: Input) -> None:
        self.state = transition(self.state, event)
        self.active = self.state in _ACTIVE

    # -- lifecycle -------------------------------------------------------------

    def accept(self, now: float) -> None:
        """The connect handler accepted the session: start the heartbeat."""
        self._move(Input.ACCEPT)
        self._ping_at = now + self.ping_interval

    def reject(self) -> None:
        """The connect handler refused the session."""
        self._move(Input.REJECT)

    def close(self) -> bool:
        """Start closing. Returns ``False`` if the session was already closing."""
        if self.state in (SessionState.CLOSING, SessionState.CLOSED):
            return False
        if self.state is SessionState.HANDSHAKE:
            self._move(Input.REJECT)
        else:
            self._move(Input.CLOSE)
        self._ping_at = self._pong_deadline = None
        return True

    def drained(self) -> None:
        """Everything that was to be delivered is delivered (or given up)."""
        if self.state is SessionState.CLOSING:
            self._move(Input.DRAINED)

    # -- upgrade ---------------------------------------------------------------

    def probe(self, packet: Packet) -> Packet:
        """Answer the probe on a new WebSocket: ``2probe`` gives ``3probe``.

        Raises:
            ProtocolError: the packet is not ``2probe`` or the session cannot upgrade.
        """
        if packet != Packet(PacketType.PING, PROBE):
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="expected 2probe")
        if self.state is not SessionState.OPEN or self.transport is not Transport.POLLING:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="session cannot upgrade now")
        self._move(Input.PROBE)
        return Packet(PacketType.PONG, PROBE)

    def upgrade(self, packet: Packet) -> None:
        """Complete the upgrade on the ``5`` packet.

        Raises:
            ProtocolError: the packet is not ``5``; the upgrade has failed.
        """
        if self.state is not SessionState.UPGRADING:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="no upgrade in progress")
        if packet.type is not PacketType.UPGRADE:
            self._move(Input.UPGRADE_FAILED)
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="expected the upgrade packet")
        self._move(Input.UPGRADE)
        self.transport = Transport.WEBSOCKET

    def upgrade_failed(self) -> None:
        """The probe WebSocket went away or timed out: stay on polling."""
        if self.state is SessionState.UPGRADING:
            self._move(Input.UPGRADE_FAILED)

    # -- packets and heartbeat -------------------------------------------------

    def receive(self, packet: Packet, now: float) -> Event | None:
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
        if self._pong_deadline is not None:
            return self._pong_deadline
        return self._ping_at

    def on_timer(self, now: float) -> Event | None:
        """Advance the heartbeat to ``now``: a ping due, a ping timed out, or nothing."""
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
