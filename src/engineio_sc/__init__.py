"""engineio_sc: an Engine.IO v4 server built on structured concurrency.

Usage::

    import engineio_sc

    eio = engineio_sc.AsyncServer()

    @eio.on("message")
    async def message(sid, data):
        await eio.send(sid, data)

    app = engineio_sc.ASGIApp(eio)   # hypercorn app:app --worker-class trio
"""

from typing import Any

from . import exceptions as exceptions
from ._reasons import DisconnectReason as DisconnectReason
from ._server import AsyncServer as AsyncServer
from ._statistics import ServerStatistics as ServerStatistics
from ._statistics import SessionStatistics as SessionStatistics
from ._tasks import BackgroundTask as BackgroundTask
from .asgi import ASGIApp as ASGIApp
from .protocol import Packet as Packet
from .protocol import PacketType as PacketType

__version__ = "0.1.0"

__all__ = [
    "ASGIApp",
    "AsyncServer",
    "BackgroundTask",
    "DisconnectReason",
    "Packet",
    "PacketType",
    "ServerStatistics",
    "SessionStatistics",
    "__version__",
    "exceptions",
]


def __getattr__(name: str) -> Any:
    """``engineio_sc.get_tornado_handler``, as python-engineio has it (``None``
    without Tornado); imported on first use so that the package imports no framework."""
    if name == "get_tornado_handler":
        try:
            from .tornado import get_tornado_handler
        except ImportError:
            return None
        return get_tornado_handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
