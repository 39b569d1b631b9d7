"""An Engine.IO echo server on aiohttp: every message goes back to its sender.

The aiohttp example of python-engineio, with only the import changed::

    python -m examples.aiohttp_echo

``EIO_HOST`` and ``EIO_PORT`` (default ``127.0.0.1:5000``) say where to listen;
``EIO_PING_INTERVAL`` and ``EIO_PING_TIMEOUT`` (seconds) and ``EIO_MAX_PAYLOAD``
(bytes) override the defaults, so the tests can run it with short timings
(``_settings.py`` reads them).
"""

from __future__ import annotations

from aiohttp import web

import engineio_sc as engineio

from ._settings import address, server_options

eio = engineio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", **server_options())


@eio.on("connect")
async def connect(sid: str, environ: dict[str, object]) -> None:
    """Log who connected, from where."""
    peer = f"{environ['REMOTE_ADDR']}:{environ['REMOTE_PORT']}"
    print(f"Client {sid} connected from {peer}", flush=True)


@eio.on("message")
async def message(sid: str, data: str | bytes) -> None:
    """Send the message back to its sender."""
    await eio.send(sid, data)


@eio.on("disconnect")
async def disconnect(sid: str, reason: str) -> None:
    """Log who left, and why."""
    print(f"Client {sid} disconnected ({reason})", flush=True)


app = web.Application()
eio.attach(app)


def main() -> None:
    """Serve the application until SIGINT or SIGTERM."""
    host, port = address()
    web.run_app(app, host=host, port=port)


if __name__ == "__main__":
    main()
