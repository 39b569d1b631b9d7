"""The applications that ``test_shutdown.py`` serves in a subprocess.

- ``engineio_app``: :class:`engineio_sc.ASGIApp`, so the ASGI lifespan opens the
  server;
- ``socketio_app``: python-socketio's own ``ASGIApp`` around a python-socketio
  server on engineio_sc, which answers the lifespan itself: no lifespan reaches
  the engine, whose first request opens it.

``EIO_CLOSE_TIMEOUT`` (seconds) sets ``close_timeout``; pings are a minute
apart, so that nothing but the shutdown answers a held poll.
"""

from __future__ import annotations

import os
from typing import Any

import socketio

import engineio_sc

OPTIONS: dict[str, Any] = {
    "ping_interval": 60,
    "ping_timeout": 60,
    "close_timeout": float(os.environ.get("EIO_CLOSE_TIMEOUT", "2")),
}

eio = engineio_sc.AsyncServer(**OPTIONS)
engineio_app = engineio_sc.ASGIApp(eio)


class SocketIOServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio on engineio_sc."""

    def _engineio_server_class(self) -> type[engineio_sc.AsyncServer]:
        return engineio_sc.AsyncServer


sio = SocketIOServer(async_mode="asgi", **OPTIONS)
socketio_app = socketio.ASGIApp(sio, socketio_path="engine.io")
