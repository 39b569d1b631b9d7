"""engineio_sc.socketio: a Socket.IO v5 server with python-socketio's API, on the
engine, for trio and asyncio.

Usage::

    from engineio_sc import socketio

    sio = socketio.AsyncServer()

    @sio.event
    async def chat(sid, data):
        await sio.emit("chat", data, room="lobby")

    app = socketio.ASGIApp(sio)   # hypercorn app:app --worker-class trio
"""

from . import exceptions as exceptions
from ._manager import AsyncManager as AsyncManager
from ._namespace import AsyncNamespace as AsyncNamespace
from ._redis import AsyncRedisManager as AsyncRedisManager
from ._server import AsyncServer as AsyncServer
from .asgi import ASGIApp as ASGIApp

__all__ = [
    "ASGIApp",
    "AsyncManager",
    "AsyncNamespace",
    "AsyncRedisManager",
    "AsyncServer",
    "exceptions",
]
