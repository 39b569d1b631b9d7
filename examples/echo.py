"""An Engine.IO echo server: every message goes back to its sender, text or binary.

Run it from the repository root::

    hypercorn examples.echo:app --worker-class trio --bind 127.0.0.1:3000

``EIO_PING_INTERVAL`` and ``EIO_PING_TIMEOUT`` (seconds) and ``EIO_MAX_PAYLOAD``
(bytes) override the defaults, so the tests can run it with short timings.
"""

from __future__ import annotations

import os

import engineio_sc

eio = engineio_sc.AsyncServer(
    ping_interval=float(os.environ.get("EIO_PING_INTERVAL", "25")),
    ping_timeout=float(os.environ.get("EIO_PING_TIMEOUT", "20")),
    max_http_buffer_size=int(os.environ.get("EIO_MAX_PAYLOAD", "1000000")),
    cors_allowed_origins="*",
)


@eio.on("message")
async def message(sid: str, data: str | bytes) -> None:
    """Send the message back to its sender."""
    await eio.send(sid, data)


app = engineio_sc.ASGIApp(eio)
