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
    **_settings.server_options(),
)
_sio_events.register(sio)

app = socketio.ASGIApp(sio)
