"""Socket.IO on python-socketio, with engineio_sc as its engine. The events are those
of ``_sio_events.py`` (``echo`` acknowledged, ``join`` the room ``all``, ``fanout``
broadcast to it).

python-socketio takes engineio_sc through its ``_engineio_server_class()`` hook, and
the server is served by engineio_sc's ASGI application on ``/socket.io/``, whose
lifespan runs the engine. Serve with ``uvicorn sio_sc:app`` or ``hypercorn sio_sc:app``
(asyncio worker; python-socketio does not run on trio), with ``benchmarks/apps`` on
``PYTHONPATH``.
"""

from __future__ import annotations

import _settings
import _sio_events
import socketio

import engineio_sc

_settings.tune_gc()


class AsyncServer(socketio.AsyncServer):
    """python-socketio's server on engineio_sc."""

    def _engineio_server_class(self) -> type[engineio_sc.AsyncServer]:
        return engineio_sc.AsyncServer


sio = AsyncServer(
    async_mode="asgi",
    **_settings.server_options(),
)
_sio_events.register(sio)

app = engineio_sc.ASGIApp(sio.eio, engineio_path="socket.io")
