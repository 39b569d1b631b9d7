"""Socket.IO on engineio_sc's own server, ``engineio_sc.socketio.AsyncServer``, which
keeps python-socketio's API. The events are those of ``_sio_events.py`` (``echo``
acknowledged, ``join`` the room ``all``, ``fanout`` broadcast to it).

Serve with ``hypercorn sio_native:app --worker-class trio`` (or ``asyncio``) or
``uvicorn sio_native:app``, with ``benchmarks/apps`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import _settings
import _sio_events

from engineio_sc import socketio

_settings.tune_gc()

sio = socketio.AsyncServer(
    **_settings.server_options(),
)
_sio_events.register(sio)

app = socketio.ASGIApp(sio)
