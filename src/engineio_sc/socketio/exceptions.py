"""The Socket.IO layer's exceptions, with python-socketio's names."""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "ConnectionError",
    "ConnectionRefusedError",
    "SocketIOError",
    "TimeoutError",
]


class SocketIOError(Exception):
    """The base of the Socket.IO layer's exceptions."""


class ConnectionError(SocketIOError):
    """A connection could not be made."""


class ConnectionRefusedError(ConnectionError):
    """Raise it in a connect handler to refuse the client.

    Its arguments go to the client in the ``CONNECT_ERROR`` packet: none gives
    ``{"message": "Connection rejected by server"}``, one its ``str()`` as the
    message, a second one goes in ``"data"``, and more go there as a list.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if not args:
            self.error_args: dict[str, Any] = {"message": "Connection rejected by server"}
        elif len(args) == 1:
            self.error_args = {"message": str(args[0])}
        else:
            data = args[1] if len(args) == 2 else list(args[1:])
            self.error_args = {"message": str(args[0]), "data": data}


class TimeoutError(SocketIOError, builtins.TimeoutError):
    """A :meth:`~engineio_sc.socketio.AsyncServer.call` got no answer in time, or
    its client went away first."""
