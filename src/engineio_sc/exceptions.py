"""The exceptions of engineio_sc.

The names of python-engineio are kept, so that ``except`` clauses written for it
still work::

    EngineIOError
     ├── ContentTooLongError     a body or frame is larger than max_http_buffer_size
     ├── UnknownPacketError      a packet type the receiver does not accept
     ├── QueueEmpty              a queue had nothing to give
     ├── QueueFullError          a session's queue is full (with queue_full='raise')
     ├── SocketIsClosedError     the session is closed (sending to it, for one)
     ├── ConnectionError         a connection failed or was lost
     └── RequestRefused          the server refuses a request; carries the HTTP status,
          │                      the Engine.IO error code and a message for the I/O layer
          └── ProtocolError      a client broke the protocol

``RequestRefused`` itself is a refusal by the server's choice, of a request that
keeps to the protocol: the server is shutting down or has ``max_sessions``
sessions (503), ``allow_request`` said no (403), the origin is not allowed (400).
``ProtocolError`` is raised by the sans-IO core (:mod:`engineio_sc.protocol`) and
the session for a request that breaks the protocol. The I/O layer turns either
into the reference server's ``{"code": N, "message": "..."}`` response or a
closed session; neither reaches application code.
"""

from __future__ import annotations

import enum

__all__ = [
    "ConnectionError",
    "ContentTooLongError",
    "EngineIOError",
    "ErrorCode",
    "ProtocolError",
    "QueueEmpty",
    "QueueFullError",
    "RequestRefused",
    "SocketIsClosedError",
    "UnknownPacketError",
]


class EngineIOError(Exception):
    """Base class of every error this library raises."""


class ContentTooLongError(EngineIOError):
    """A request body or WebSocket frame is larger than ``max_http_buffer_size``."""


class UnknownPacketError(EngineIOError):
    """A packet of a type that the receiving side does not accept."""


class QueueEmpty(EngineIOError):
    """A queue had nothing to give."""


class QueueFullError(EngineIOError):
    """A session's outbound queue is full and the server's ``queue_full`` is ``'raise'``."""


class SocketIsClosedError(EngineIOError):
    """The session is closed: nothing can be sent to it any more."""


class ConnectionError(EngineIOError):
    """A connection failed or was lost."""


class ErrorCode(enum.IntEnum):
    """The error codes of the reference Engine.IO server."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


_MESSAGES = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class RequestRefused(EngineIOError):
    """The server refuses a request, and says why with an HTTP status, an
    Engine.IO error code and a message.

    Attributes:
        code: the Engine.IO error code sent in the JSON error body, or ``None`` for
            the errors the reference server answers with an empty body.
        status: the HTTP status the I/O layer answers with.
        message: the ``message`` field of the JSON body.
        detail: a longer explanation for the log line.
    """

    def __init__(
        self,
        code: ErrorCode | None,
        *,
        status: int = 400,
        message: str | None = None,
        detail: str = "",
    ) -> None:
        self.code = code
        self.status = status
        self.message = (
            message if message is not None else (_MESSAGES[code] if code is not None else "")
        )
        self.detail = detail
        super().__init__(detail or self.message)


class ProtocolError(RequestRefused):
    """A client broke the protocol: the request is refused (``400`` unless told
    otherwise), and the session closed where the violation calls for it."""
