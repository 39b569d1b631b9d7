"""Engine.IO echo on python-engineio (``async_mode='asgi'``): the reference point.

Serve with ``hypercorn pyeio_echo:app`` (asyncio worker; python-engineio does not
run on trio) or ``uvicorn pyeio_echo:app``, with ``benchmarks/apps`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import _settings
import engineio

_settings.tune_gc()

eio = engineio.AsyncServer(
    async_mode="asgi",
    **_settings.server_options(),
)


async def message(sid: str, data: str | bytes) -> None:
    """Send the message back to its sender."""
    await eio.send(sid, data)


eio.on("message", message)  # called, not a decorator: python-engineio has no type hints


app = engineio.ASGIApp(eio)
