"""Serve an :class:`~engineio_sc.AsyncServer` from a Tornado application.

As with python-engineio, :func:`get_tornado_handler` returns a request handler
to mount at the Engine.IO path; the program runs the server's task group around
the application's life::

    import asyncio
    import signal

    import anyio
    import tornado.web

    import engineio_sc
    from engineio_sc.tornado import get_tornado_handler

    eio = engineio_sc.AsyncServer(async_mode="tornado")

    async def main() -> None:
        app = tornado.web.Application([(r"/engine.io/", get_tornado_handler(eio))])
        async with eio:                                  # the server's task group
            http_server = app.listen(5000)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
            http_server.stop()                           # no new connections
            await eio.shutdown()                         # close the sessions
            await http_server.close_all_connections()

    asyncio.run(main())

Tornado is asyncio only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

try:
    import tornado.iostream
    import tornado.web
    import tornado.websocket
    from tornado.http1connection import HTTP1Connection
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'engineio_sc.tornado needs Tornado: pip install "engineio_sc[tornado]"'
    ) from exc

from ._frameworks import (
    address,
    bad_websocket_handshake,
    is_websocket_upgrade,
    join_headers,
    response_headers,
    websocket_max_size,
    wsgi_environ,
)
from ._http import Headers, HTTPRequest, HTTPResponse, WebSocketClosed, parse_query
from .exceptions import ContentTooLongError

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["EngineIOHandler", "get_tornado_handler", "translate_request"]

_log = logging.getLogger("engineio_sc.server")

RECEIVE_BUFFER = 16
"""WebSocket messages held for the server before Tornado stops reading more."""


def get_tornado_handler(server: AsyncServer) -> type[EngineIOHandler]:
    """A request handler class serving ``server``, to mount at ``r"/engine.io/"``.

    The server's task group is not opened by Tornado: run the application inside
    ``async with server:`` (see the module's documentation). A request that
    arrives while it is not open hosts the task group itself until the server
    shuts down, as with :class:`~engineio_sc.ASGIApp` without lifespan events.
    """

    class Handler(EngineIOHandler):
        engineio_server = server

    return Handler


def translate_request(handler: tornado.web.RequestHandler) -> dict[str, Any]:
    """The python-engineio-compatible environ of a Tornado request.

    ``tornado.handler`` holds the handler; unlike python-engineio,
    ``REMOTE_ADDR``/``REMOTE_PORT`` hold the client's address (Tornado's
    ``remote_ip``, which honours ``X-Real-Ip``/``X-Forwarded-For`` only when the
    server runs with ``xheaders=True``).
    """
    request = handler.request
    connection: Any = request.connection
    peer = address(getattr(getattr(connection, "context", None), "address", None))
    local = None
    with contextlib.suppress(AttributeError, OSError):
        local = address(connection.stream.socket.getsockname())
    return wsgi_environ(
        method=request.method or "GET",
        path=request.path,
        query_string=request.query,
        http_version=request.version.partition("/")[2] or "1.1",
        headers=request.headers.get_all(),
        scheme=request.protocol,
        remote=(request.remote_ip or "", peer[1] if peer else 0),
        local=local,
        software="tornado",
        extra={"tornado.handler": handler},
    )


async def _write(handler: tornado.web.RequestHandler, response: HTTPResponse) -> None:
    """Write ``response``, and close the connection once it is sent if the
    response says so (Tornado has nothing to read of it: it reads the whole
    request body before the handler runs)."""
    if handler._finished:
        return
    handler.set_status(response.status)
    handler.clear_header("Content-Type")
    for name, value in response_headers(response):
        handler.add_header(name, value)
    closing: HTTP1Connection | None = None
    connection = handler.request.connection
    if response.close_connection and isinstance(connection, HTTP1Connection):
        closing = connection
        handler.set_header("Connection", "close")
    if response.body:
        handler.write(response.body)
    with contextlib.suppress(tornado.iostream.StreamClosedError):  # the client went away
        await handler.finish()
    if closing is not None:
        closing.close()


@tornado.web.stream_request_body
class EngineIOHandler(tornado.websocket.WebSocketHandler):
    """Engine.IO requests, polling and WebSocket, for :attr:`engineio_server`.

    Mount the subclass :func:`get_tornado_handler` returns. It reads request
    bodies as they arrive (counting them against ``max_http_buffer_size``), leaves
    origin checks to the server's ``cors_allowed_origins`` (Tornado's own
    cross-origin and XSRF checks would refuse the clients of other origins that
    the server allows), never answers a poll with ``304 Not Modified`` (no
    ETag), and offers per-message compression on WebSockets, as python-engineio
    does.
    """

    engineio_server: AsyncServer

    def initialize(self) -> None:
        """Set up the per-request state."""
        self._chunks: list[bytes] = []
        self._size = 0
        self._gone = asyncio.Event()  # Tornado is asyncio only
        self._ws: TornadoWebSocket | None = None

    # -- Tornado's hooks -------------------------------------------------------

    def data_received(self, chunk: bytes) -> None:
        """Keep the body, up to ``max_http_buffer_size`` (and count all of it)."""
        self._size += len(chunk)
        if self._size <= self.engineio_server.max_http_buffer_size:
            self._chunks.append(chunk)

    async def get(self, *args: str, **kwargs: str) -> None:
        """A poll or a handshake, or a WebSocket."""
        request = self._neutral_request()
        if is_websocket_upgrade(request.headers):
            await self._serve_websocket(request, args, kwargs)
        else:
            await self._serve_http(request)

    async def post(self, *args: str, **kwargs: str) -> None:
        """Packets from the client."""
        await self._serve_http(self._neutral_request())

    async def options(self, *args: str, **kwargs: str) -> None:
        """A CORS preflight."""
        await self._serve_http(self._neutral_request())

    def open(self, *args: str, **kwargs: str) -> None:
        """The WebSocket handshake is done."""
        if self._ws is not None:
            self._ws.opened()

    async def on_message(self, message: str | bytes) -> None:
        """Hand a WebSocket message to the server (Tornado waits before it reads
        the next one while :data:`RECEIVE_BUFFER` messages are waiting)."""
        if self._ws is not None:
            await self._ws.received(message)

    def on_connection_close(self) -> None:
        """The client went away: end a body still being read, as Tornado does for
        ``stream_request_body`` handlers (``WebSocketHandler`` skips that), then
        clean up as ``WebSocketHandler`` does (which calls :meth:`on_close`)."""
        tornado.web.RequestHandler.on_connection_close(self)
        super().on_connection_close()

    def on_close(self) -> None:
        """The client went away, or the WebSocket is closed."""
        self._gone.set()
        if self._ws is not None:
            self._ws.connection_closed()

    def check_origin(self, origin: str) -> bool:
        """Allow every origin here: the server checks ``cors_allowed_origins``."""
        return True

    def check_trusted_origin(self, origin: str) -> bool:
        """Allow every origin here: the server checks ``cors_allowed_origins``."""
        return True

    def check_xsrf_cookie(self) -> None:
        """No XSRF token: Engine.IO clients cannot send one."""

    def compute_etag(self) -> str | None:
        """No ETag: a poll must never be answered with ``304 Not Modified``."""
        return None

    def get_compression_options(self) -> dict[str, Any] | None:
        """Offer per-message compression (as python-engineio does)."""
        return {}

    @property
    def max_message_size(self) -> int:
        """Tornado's WebSocket message limit: ``max_http_buffer_size`` plus a
        margin (the server checks the exact limit itself, closing with 1009)."""
        return websocket_max_size(self.engineio_server)

    # -- serving ----------------------------------------------------------------

    def _neutral_request(self) -> HTTPRequest:
        request = self.request
        return HTTPRequest(
            method=(request.method or "GET").upper(),
            query=parse_query(request.query),
            headers=join_headers(request.headers.get_all()),
            environ=partial(translate_request, self),
            scheme="https" if request.protocol == "https" else "http",
        )

    async def read_body(self, limit: int, discard_for: float) -> bytes:
        """The body Tornado has read (see :class:`~engineio_sc._http.HTTPConnection`).

        Tornado reads the whole body before the handler runs (within its own
        ``max_body_size`` and ``body_timeout``), so nothing is left to throw away.

        Raises:
            ContentTooLongError: the body is over ``limit`` bytes.
        """
        if self._size > limit or self._size > self.engineio_server.max_http_buffer_size:
            raise ContentTooLongError(f"body over {limit} bytes")
        return b"".join(self._chunks)

    async def wait_disconnected(self) -> None:
        """Return once the client has gone away."""
        await self._gone.wait()

    async def farewell(self, response: HTTPResponse) -> None:
        """Nothing: Tornado cancels no handler (see :class:`~engineio_sc._http.HTTPConnection`)."""

    async def _serve_http(self, request: HTTPRequest) -> None:
        server = self.engineio_server

        async def http() -> None:
            await _write(self, await server.handle_http(request, self))

        await server.serve_request(http)

    async def _serve_websocket(
        self, request: HTTPRequest, args: tuple[str, ...], kwargs: dict[str, str]
    ) -> None:
        refusal = bad_websocket_handshake(request.headers)
        if refusal is not None:
            await _write(self, refusal)
            return
        server = self.engineio_server
        ws = self._ws = TornadoWebSocket(self)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.handshake, args, kwargs)
            try:
                await server.serve_request(partial(server.handle_websocket, request, ws))
            except WebSocketClosed:
                _log.info("the client went away during the WebSocket handshake")
            finally:
                await ws.close()
                if not ws.accepting:
                    tg.cancel_scope.cancel()
        if not ws.answered:
            _log.error("the server neither accepted nor refused a WebSocket request")
            await _write(self, HTTPResponse(500))


class TornadoWebSocket:
    """A :class:`EngineIOHandler` upgraded to WebSocket, as a
    :class:`~engineio_sc._http.WebSocket`.

    Tornado's ``WebSocketHandler.get`` does the handshake and then reads frames
    until the connection closes; it runs in a task (:meth:`handshake`) that
    waits for :meth:`accept`, beside the task serving the session.
    """

    def __init__(self, handler: EngineIOHandler) -> None:
        self._handler = handler
        self._accept = anyio.Event()
        self._settled = anyio.Event()  # open, or the handshake failed
        self._to_server, self._inbox = anyio.create_memory_object_stream[str | bytes](
            RECEIVE_BUFFER
        )
        self._open = False
        self._closed = False
        self.answered = False

    @property
    def accepting(self) -> bool:
        """Whether :meth:`accept` was called (the handshake task is running)."""
        return self._accept.is_set()

    async def handshake(self, args: tuple[str, ...], kwargs: dict[str, str]) -> None:
        """Once accepted, run Tornado's handshake and frame loop."""
        await self._accept.wait()
        try:
            await tornado.websocket.WebSocketHandler.get(self._handler, *args, **kwargs)
        finally:
            self._settled.set()
            self._to_server.close()

    def opened(self) -> None:
        """Tornado completed the handshake."""
        self._open = True
        self._settled.set()

    async def received(self, message: str | bytes) -> None:
        """A message from the client, for :meth:`receive`."""
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._to_server.send(message)  # unless the server is done with it

    def connection_closed(self) -> None:
        """No more messages will come."""
        self._to_server.close()

    async def accept(self, headers: Headers) -> None:
        """Complete the handshake (the ``101``), with ``headers`` added to it.

        Raises:
            WebSocketClosed: the handshake failed (the client went away).
        """
        self.answered = True
        for name, value in headers:
            self._handler.add_header(name, value)
        self._accept.set()
        await self._settled.wait()
        if not self._open:
            self._closed = True
            raise WebSocketClosed("the WebSocket handshake failed")

    async def deny(self, response: HTTPResponse) -> None:
        """Refuse the WebSocket with ``response`` (a close with 1008 once accepted)."""
        if self._accept.is_set():
            await self.close(1008)
            return
        self.answered = True
        self._closed = True
        await _write(self._handler, response)

    async def receive(self) -> str | bytes:
        """The next text or binary message.

        Raises:
            WebSocketClosed: the WebSocket is closed.
        """
        if self._closed or not self._open:
            raise WebSocketClosed
        try:
            return await self._inbox.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._closed = True
            raise WebSocketClosed from None

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises:
            WebSocketClosed: the WebSocket is closed.
        """
        if self._closed or not self._open:
            raise WebSocketClosed
        try:
            await self._handler.write_message(data, binary=isinstance(data, bytes))
        except tornado.websocket.WebSocketClosedError as exc:
            self._closed = True
            raise WebSocketClosed from exc

    async def close(self, code: int = 1000) -> None:
        """Start the closing handshake with ``code``; Tornado completes it (or
        drops the connection after 5 seconds without an answer)."""
        if self._closed:
            self._inbox.close()
            return
        self._closed = True
        self._inbox.close()
        if self._open:
            self._handler.close(code)
