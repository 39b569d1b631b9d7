"""The application's handlers (``connect``, ``message``, ``disconnect``) and how
each is called: sync or async, its errors logged, never raised into the server."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from types import CoroutineType
from typing import Any, Literal

from ._tasks import call_handler
from .exceptions import SocketIsClosedError

__all__ = ["EVENTS", "EventName", "Handler", "Handlers"]

Handler = Callable[..., Any]
EventName = Literal["connect", "message", "disconnect"]
EVENTS = ("connect", "message", "disconnect")


def _takes_reason(handler: Handler) -> bool:
    try:
        inspect.signature(handler).bind("sid", "reason")
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): assume the current form
        return True
    return True


class Handlers:
    """One server's handlers.

    Attributes:
        table: the handler of each event name (python-engineio's ``handlers``).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.table: dict[str, Handler] = {}
        self._log = logger
        self._disconnect_takes_reason = True

    def register(self, event: str, handler: Handler) -> None:
        """Make ``handler`` the one of ``event``.

        Raises:
            ValueError: ``event`` is not one of the three.
        """
        if event not in EVENTS:
            raise ValueError("Invalid event")
        if event == "disconnect":
            self._disconnect_takes_reason = _takes_reason(handler)
        self.table[event] = handler

    @property
    def has_connect(self) -> bool:
        """Whether a connect handler is registered (it needs an environ)."""
        return "connect" in self.table

    async def connect(self, sid: str, environ: dict[str, Any]) -> Any:
        """Run the connect handler; ``None`` accepts, anything else is the 401 body."""
        handler = self.table.get("connect")
        if handler is None:
            return None
        try:
            result = await call_handler(handler, sid, environ)
        except Exception:
            self._log.exception("connect handler error")
            return "Unauthorized"
        if result is None or result is True:
            return None
        return result or "Unauthorized"

    async def message(self, sid: str, data: str | bytes) -> None:
        """Run the message handler."""
        handler = self.table.get("message")
        if handler is None:
            return
        try:
            result = handler(sid, data)  # call_handler, inlined: this runs per message
            if type(result) is CoroutineType or inspect.isawaitable(result):
                await result
        except SocketIsClosedError as exc:  # queue_full='disconnect' dropped the client
            self._log.info("message handler of %s: %s", sid, exc)
        except Exception:
            self._log.exception("message handler error")

    async def disconnect(self, sid: str, reason: str) -> None:
        """Run the disconnect handler, as ``(sid, reason)`` or ``(sid)``."""
        handler = self.table.get("disconnect")
        if handler is None:
            return
        args = (sid, reason) if self._disconnect_takes_reason else (sid,)
        try:
            await call_handler(handler, *args)
        except Exception:
            self._log.exception("disconnect handler error")
