"""An Engine.IO echo server on Tornado: every message goes back to its sender.

Run it from the repository root::

    python -m examples.tornado_echo

``EIO_HOST`` and ``EIO_PORT`` (default ``127.0.0.1:5000``) say where to listen;
``EIO_PING_INTERVAL`` and ``EIO_PING_TIMEOUT`` (seconds) and ``EIO_MAX_PAYLOAD``
(bytes) override the defaults, so the tests can run it with short timings
(``_settings.py`` reads them).

Tornado has no start-up and shut-down hooks to open the server's task group in:
``main()`` runs the application inside ``async with eio:`` and, on SIGINT or
SIGTERM, stops listening, closes the sessions, then the connections.
"""

from __future__ import annotations

import asyncio
import signal

import anyio
import tornado.web

import engineio_sc
from engineio_sc.tornado import get_tornado_handler

from ._settings import address, server_options

eio = engineio_sc.AsyncServer(async_mode="tornado", cors_allowed_origins="*", **server_options())


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


def make_app() -> tornado.web.Application:
    """The Tornado application: Engine.IO at ``/engine.io/``."""
    return tornado.web.Application([(r"/engine.io/", get_tornado_handler(eio))])


async def serve(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then shut down in order."""
    app = make_app()
    async with eio:
        http_server = app.listen(port, address=host)
        print(f"Listening on http://{host}:{port}", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
        http_server.stop()
        await eio.shutdown()
        await http_server.close_all_connections()


def main() -> None:
    """Serve at ``EIO_HOST:EIO_PORT``."""
    host, port = address()
    asyncio.run(serve(host, port))


if __name__ == "__main__":
    main()
