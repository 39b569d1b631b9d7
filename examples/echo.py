"""An Engine.IO echo server: every message goes back to its sender, text or binary.

Run it from the repository root::

    hypercorn examples.echo:app --worker-class trio --bind 127.0.0.1:3000

``EIO_PING_INTERVAL`` and ``EIO_PING_TIMEOUT`` (seconds) and ``EIO_MAX_PAYLOAD``
(bytes) override the defaults, so the tests can run it with short timings
(``_settings.py`` reads them).
"""

from __future__ import annotations

import engineio_sc

from ._settings import server_options

eio = engineio_sc.AsyncServer(cors_allowed_origins="*", **server_options())


@eio.on("message")
async def message(sid: str, data: str | bytes) -> None:
    """Send the message back to its sender."""
    await eio.send(sid, data)


app = engineio_sc.ASGIApp(eio)
