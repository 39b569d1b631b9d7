"""Socket.IO echo with acknowledgements on python-socketio, with engineio_sc as its engine.

Every ``echo`` event is acknowledged with its own data. python-socketio takes
engineio_sc through its ``_engineio_server_class()`` hook, and the server is
served by engineio_sc's ASGI application on ``/socket.io/``, whose lifespan
runs the engine. Serve with ``uvicorn sio_sc_echo:app``, with ``benchmarks/apps``
on ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any

import _settings
import socketio

import engineio_sc

_settings.tune_gc()


class AsyncServer(socketio.AsyncServer):
    """python-socketio's server on engineio_sc."""

    def _engineio_server_class(self) -> type[engineio_sc.AsyncServer]:
        return engineio_sc.AsyncServer


sio = AsyncServer(
    async_mode="asgi",
    ping_interval=_settings.ping_interval(),
    ping_timeout=_settings.ping_timeout(),
    max_http_buffer_size=_settings.max_payload(),
    cors_allowed_origins="*",
)


async def echo(sid: str, data: Any) -> Any:
    """The acknowledgement: the data itself."""
    return data


sio.on("echo", echo)

app = engineio_sc.ASGIApp(sio.eio, engineio_path="socket.io")
