"""The ASGI application of a Socket.IO server."""

from __future__ import annotations

from typing import Any

from ..asgi import ASGIApp as EngineASGIApp
from ..asgi import ASGIApplication, Hook
from ._server import AsyncServer

__all__ = ["ASGIApp"]


class ASGIApp(EngineASGIApp):
    """Serve a Socket.IO server at ``/socket.io/``, as python-socketio's
    ``ASGIApp``: other paths go to ``other_asgi_app`` or ``static_files``, and
    the ASGI lifespan runs the server (with ``on_startup`` and ``on_shutdown``).

    ``hypercorn app:app --worker-class trio`` or ``uvicorn app:app``.
    """

    def __init__(
        self,
        socketio_server: AsyncServer,
        other_asgi_app: ASGIApplication | None = None,
        static_files: dict[str, Any] | None = None,
        socketio_path: str | None = "socket.io",
        on_startup: Hook | None = None,
        on_shutdown: Hook | None = None,
    ) -> None:
        super().__init__(
            socketio_server.eio,
            other_asgi_app=other_asgi_app,
            static_files=static_files,
            engineio_path=socketio_path,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
        )
        self.socketio_server = socketio_server
