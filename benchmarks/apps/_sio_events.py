"""The Socket.IO events of the benchmark apps, on any server with python-socketio's API.

- ``echo``: acknowledged with its own data (the ``sio-echo`` scenario).
- ``join``: the sender enters the room ``all``, then it is acknowledged (the clients of
  ``sio-fanout``, once connected).
- ``fanout``: its data is broadcast to the room ``all`` as a ``tick`` event (the emitter of
  ``sio-fanout``; the emitter is in no room).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

ROOM = "all"


class SocketIOServer(Protocol):
    """What the events use of python-socketio's ``AsyncServer``."""

    def on(self, event: str, handler: Callable[..., Any]) -> Any:
        """Register ``handler`` for ``event``."""

    async def emit(self, event: str, data: Any = None, *, room: str | None = None) -> None:
        """Send ``event`` with ``data`` to every client in ``room``."""

    async def enter_room(self, sid: str, room: str) -> None:
        """Put the client ``sid`` in ``room``."""


def register(sio: SocketIOServer) -> None:
    """Handle ``echo``, ``join`` and ``fanout`` on ``sio``."""

    async def echo(sid: str, data: Any) -> Any:
        """The acknowledgement: the data itself."""
        return data

    async def join(sid: str) -> bool:
        """Enter the room of the broadcasts; the acknowledgement says it is done."""
        await sio.enter_room(sid, ROOM)
        return True

    async def fanout(sid: str, data: Any) -> None:
        """Broadcast ``data`` to the room as a ``tick``."""
        await sio.emit("tick", data, room=ROOM)

    for handler in (echo, join, fanout):
        sio.on(handler.__name__, handler)
