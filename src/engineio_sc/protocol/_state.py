"""The session state: one enum and one transition table.

A session is created by a handshake, opened when the connect handler accepts it,
may upgrade from polling to WebSocket, and closes once. An upgrade is in progress
from the moment a WebSocket is taken for it (``JOINING``) through the probe
(``UPGRADING``) until its outcome, which brings the session back to ``OPEN``: on
the WebSocket if it upgraded, still on polling if it failed. Every change of state goes
through :func:`transition`, so an impossible move is an error, not a silent flag.
"""

from __future__ import annotations

import enum

__all__ = ["TRANSITIONS", "Input", "SessionState", "Transport", "transition"]


class Transport(enum.StrEnum):
    """The transports of Engine.IO v4."""

    POLLING = "polling"
    WEBSOCKET = "websocket"


class SessionState(enum.Enum):
    """Where a session is in its life."""

    # Members are singletons compared by identity: hashed by it too, not by a
    # Python-level hash of the name (the transition table is looked up per move).
    __hash__ = object.__hash__

    HANDSHAKE = "handshake"
    """Created: the open packet is ready and the connect handler is deciding."""
    OPEN = "open"
    """Accepted: packets flow on the current transport, pings are sent."""
    JOINING = "joining"
    """A new WebSocket is taken for an upgrade; its probe is not answered yet."""
    UPGRADING = "upgrading"
    """The new WebSocket's probe is answered; the client has yet to send ``5``."""
    CLOSING = "closing"
    """Closed by one side; what is still queued is being delivered."""
    CLOSED = "closed"
    """Gone: its sid is unknown from now on."""


class Input(enum.Enum):
    """What moves a session from one state to another."""

    __hash__ = object.__hash__  # as SessionState's

    ACCEPT = "accept"
    REJECT = "reject"
    JOIN = "join"
    PROBE = "probe"
    UPGRADE = "upgrade"
    UPGRADE_FAILED = "upgrade failed"
    CLOSE = "close"
    DRAINED = "drained"


TRANSITIONS: dict[tuple[SessionState, Input], SessionState] = {
    (SessionState.HANDSHAKE, Input.ACCEPT): SessionState.OPEN,
    (SessionState.HANDSHAKE, Input.REJECT): SessionState.CLOSED,
    (SessionState.OPEN, Input.JOIN): SessionState.JOINING,
    (SessionState.JOINING, Input.PROBE): SessionState.UPGRADING,
    (SessionState.JOINING, Input.UPGRADE_FAILED): SessionState.OPEN,
    (SessionState.UPGRADING, Input.UPGRADE): SessionState.OPEN,
    (SessionState.UPGRADING, Input.UPGRADE_FAILED): SessionState.OPEN,
    (SessionState.OPEN, Input.CLOSE): SessionState.CLOSING,
    (SessionState.JOINING, Input.CLOSE): SessionState.CLOSING,
    (SessionState.UPGRADING, Input.CLOSE): SessionState.CLOSING,
    (SessionState.CLOSING, Input.DRAINED): SessionState.CLOSED,
}
"""Every allowed move: (state, input) -> next state."""


def transition(state: SessionState, event: Input) -> SessionState:
    """Return the state that ``event`` leads to from ``state``.

    Raises:
        RuntimeError: the table has no such move.
    """
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise RuntimeError(f"no transition from {state.name} on {event.name}") from None
