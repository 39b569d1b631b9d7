"""What ``AsyncServer.statistics()`` reports."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServerStatistics", "SessionStatistics"]


@dataclass(frozen=True, slots=True)
class SessionStatistics:
    """One session's figures.

    Attributes:
        sid: the session's id.
        transport: ``'polling'`` or ``'websocket'``.
        state: the session's state: ``'open'``, ``'upgrading'`` (a WebSocket
            probes), ``'closing'`` (what is queued still goes out), ``'closed'``
            (see :class:`~engineio_sc.protocol.SessionState`).
        queued: packets waiting to be sent to the client.
        room: how many more packets its queue takes now (``max_queue_size`` less
            ``queued``).
        unhandled: received messages waiting for the ``message`` handler.
        messages_in: messages received from the client.
        messages_out: messages queued for the client.
    """

    sid: str
    transport: str
    state: str
    queued: int
    room: int
    unhandled: int
    messages_in: int
    messages_out: int


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """The server's figures, with every session's.

    Attributes:
        sessions_opened: sessions accepted since the server started.
        sessions_closed: sessions ended since the server started.
        queued: packets waiting for clients, over all sessions.
        max_queued: the fullest session's queue.
        sessions: each live session's figures.
    """

    running: bool
    sessions_opened: int
    sessions_closed: int
    queued: int
    max_queued: int
    messages_in: int
    messages_out: int
    sessions: tuple[SessionStatistics, ...]
