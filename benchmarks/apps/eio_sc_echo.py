"""Engine.IO echo on engineio_sc: every message goes back to its sender.

Serve with ``hypercorn eio_sc_echo:app --worker-class trio`` (or ``asyncio``) or
``uvicorn eio_sc_echo:app``, with ``benchmarks/apps`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import _settings

import engineio_sc

_settings.tune_gc()

eio = engineio_sc.AsyncServer(
    **_settings.server_options(),
)


@eio.on("message")
async def message(sid: str, data: str | bytes) -> None:
    """Send the message back to its sender."""
    await eio.send(sid, data)


app = engineio_sc.ASGIApp(eio)
