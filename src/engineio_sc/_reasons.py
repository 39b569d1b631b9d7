"""The reasons given to the ``disconnect`` handler (python-engineio's strings)."""

from __future__ import annotations

__all__ = ["DisconnectReason"]


class DisconnectReason:
    """Why a session ended; available as ``AsyncServer.reason``."""

    SERVER_DISCONNECT = "server disconnect"
    """The application called ``disconnect()``, the server shut down, or the
    client sent a payload the server could not accept."""
    CLIENT_DISCONNECT = "client disconnect"
    """The client sent a close packet."""
    PING_TIMEOUT = "ping timeout"
    """The client did not answer a ping within ``ping_timeout``."""
    TRANSPORT_CLOSE = "transport close"
    """The WebSocket was closed, or sent a message over the size limit."""
    TRANSPORT_ERROR = "transport error"
    """The client broke the transport's rules (overlapping polls, a bad frame)."""
