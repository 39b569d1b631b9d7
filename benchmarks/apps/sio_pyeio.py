"""Socket.IO on python-socketio with its own engine, python-engineio: the reference
point of ``sio_sc.py`` and ``sio_native.py``. The events are those of ``_sio_events.py``
(``echo`` acknowledged, ``join`` the room ``all``, ``fanout`` broadcast to it).

Serve with ``uvicorn sio_pyeio:app`` or ``hypercorn sio_pyeio:app`` (asyncio worker;
python-socketio does not run on trio), with ``benchmarks/apps`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import _settings
import _sio_events
import socketio

_settings.tune_gc()

sio = socketio.AsyncServer(
    async_mode="asgi",
    ping_interval=_settings.ping_interval(),
    ping_timeout=_settings.ping_timeout(),
    max_http_buffer_size=_settings.max_payload(),
    cors_allowed_origins="*",
)
_sio_events.register(sio)

app = socketio.ASGIApp(sio)
