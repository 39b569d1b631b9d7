"""Socket.IO echo with acknowledgements on python-socketio with its own engine,
python-engineio: the reference point of ``sio_sc_echo.py``.

Serve with ``uvicorn sio_pyeio_echo:app``, with ``benchmarks/apps`` on ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any

import _settings
import socketio

_settings.tune_gc()

sio = socketio.AsyncServer(
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

app = socketio.ASGIApp(sio)
