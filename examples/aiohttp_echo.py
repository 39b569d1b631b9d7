"""An Engine.IO echo server on aiohttp: every message goes back to its sender.

The aiohttp example of python-engineio, with only the import changed::

    python -m examples.aiohttp_echo

``EIO_HOST`` and ``EIO_PORT`` (default ``127.0.0.1:5000``) say where to listen;
``EIO_PING_INTERVAL`` and ``EIO_PING_TIMEOUT`` (seconds) and ``EIO_MAX_PAYLOAD``
(bytes) override the defaults, so the tests can run it with short timings.
"""

from __future__ import annotations

import os

from aiohttp import web

import engineio_sc as engineio

eio = engineio.AsyncServer(
    async_mode="aiohttp",
    ping_interval=float(os.environ.get("EIO_PING_INTERVAL", "25")),
    ping_timeout=float(os.environ.get("EIO_PING_TIMEOUT", "20")),
    max_http_buffer_size=int(os.environ.get("EIO_MAX_PAYLOAD", "1000000")),
    cors_allowed_origins="*",
)


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
    host = os.environ.get("EIO_HOST", "127.0.0.1")
    port = int(os.environ.get("EIO_PORT", "5000"))
    web.run_app(app, host=host, port=port)


if __name__ == "__main__":
    main()
