"""The sessions of one server, by sid: whether new ones are taken, the limit on
them, and the counts of those that ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._statistics import ServerStatistics
from .protocol import SessionState, Transport

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["SessionRegistry"]

_UNROUTABLE = (SessionState.HANDSHAKE, SessionState.CLOSED)


class SessionRegistry:
    """The live sessions of one server.

    Args:
        max_sessions: how many may exist at once; ``None`` for no limit.

    Attributes:
        accepting: whether new sessions are taken (the server's task group is open
            and not shutting down; set by its lifecycle).
        get: the session of a sid, if it is live (the dict's own lookup, with no
            call of ours around it: it runs for every message sent).
    """

    __slots__ = (
        "_closed",
        "_max",
        "_messages_in",
        "_messages_out",
        "_sessions",
        "accepting",
        "get",
    )

    def __init__(self, max_sessions: int | None) -> None:
        self._sessions: dict[str, Session] = {}
        self.get: Callable[[str], Session | None] = self._sessions.get
        self._max = max_sessions
        self.accepting = False
        self._closed = 0
        self._messages_in = 0
        self._messages_out = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[Session]:
        """Every live session, as a list of its own."""
        return list(self._sessions.values())

    def transport_of(self, sid: str) -> Transport | None:
        """The transport of a session that requests may reach; ``None`` for an
        unknown sid, or a session not yet accepted or gone."""
        session = self._sessions.get(sid)
        if session is None or session.machine.state in _UNROUTABLE:
            return None
        return session.transport

    def refusal(self) -> str | None:
        """Why a new session cannot be taken now, or ``None`` if it can."""
        if not self.accepting:
            return "Server shutting down"
        if self._max is not None and len(self._sessions) >= self._max:
            return "Too many sessions"
        return None

    def add(self, session: Session) -> None:
        """Register a new session under its sid."""
        self._sessions[session.sid] = session

    def remove(self, session: Session) -> None:
        """Forget an ended session, counting it if it was accepted."""
        if self._sessions.get(session.sid) is not session:
            return
        del self._sessions[session.sid]
        if session.machine.accepted:
            self._closed += 1
            self._messages_in += session.messages_in
            self._messages_out += session.messages_out

    def statistics(self, *, running: bool) -> ServerStatistics:
        """Queue depths and counts, for the server and each live session."""
        sessions = tuple(s.statistics() for s in self._sessions.values())
        return ServerStatistics(
            running=running,
            sessions_opened=self._closed + len(sessions),
            sessions_closed=self._closed,
            queued=sum(s.queued for s in sessions),
            max_queued=max((s.queued for s in sessions), default=0),
            messages_in=self._messages_in + sum(s.messages_in for s in sessions),
            messages_out=self._messages_out + sum(s.messages_out for s in sessions),
            sessions=sessions,
        )
