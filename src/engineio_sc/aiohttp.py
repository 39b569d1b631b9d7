"""Serve an :class:`~engineio_sc.AsyncServer` from an ``aiohttp.web.Application``.

Usage, as with python-engineio (``eio.attach(app)`` calls :func:`attach`)::

    from aiohttp import web
    import engineio_sc

    eio = engineio_sc.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    eio.attach(app)          # or: engineio_sc.aiohttp.attach(eio, app)
    web.run_app(app)

The server's task group opens when the application starts up and closes when it
shuts down; see :func:`attach`. aiohttp is asyncio only.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

try:
    from aiohttp import WSMsgType, web
    from multidict import CIMultiDict
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'engineio_sc.aiohttp needs aiohttp: pip install "engineio_sc[aiohttp]"'
    ) from exc

from ._frameworks import (
    ServerHost,
    address,
    bad_websocket_handshake,
    engineio_route,
    is_websocket_upgrade,
    join_headers,
    response_headers,
    shutting_down,
    websocket_max_size,
    wsgi_environ,
)
from ._http import (
    ClientGone,
    Headers,
    HTTPRequest,
    HTTPResponse,
    WebSocketClosed,
    parse_query,
    read_body,
)

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["DISCONNECT_CHECK_INTERVAL", "attach", "translate_request"]

_log = logging.getLogger("engineio_sc.server")

DISCONNECT_CHECK_INTERVAL = 1.0
"""Seconds between two checks, during a long poll, that the client is still there.

aiohttp does not tell a handler that its client went away (unless the
application runs with ``handler_cancellation=True``, which cancels the handler at
once), so a pending poll looks at its connection this often."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def attach(server: AsyncServer, app: web.Application, engineio_path: str = "engine.io") -> None:
    """Serve ``server`` from ``app`` at ``/<engineio_path>/``.

    Registers GET, POST and OPTIONS on ``/engine.io/`` and ``/engine.io``, and
    the server's life in the application's:

    * start-up (``app.cleanup_ctx``): the server's task group is opened in a task
      of its own (see :class:`~engineio_sc._frameworks.ServerHost`), unless the
      program already runs the server (``async with eio:``);
    * shut-down (``app.on_shutdown``, after aiohttp stopped listening and before
      it waits for the requests in progress): every session is closed, its client
      given ``close_timeout`` seconds to take what is queued for it, and the task
      group is closed, so that no long poll or WebSocket keeps aiohttp waiting;
    * clean-up (the end of the ``cleanup_ctx``): waits for the same end, and
      raises what went wrong in the server's task group, if anything did.

    Call it before the application starts (aiohttp freezes its routes then).
    """
    host = ServerHost(server)
    handler = _make_handler(server, host)
    route = engineio_route(engineio_path)
    for path in dict.fromkeys([route, route.rstrip("/") or "/"]):
        for method in ("GET", "POST", "OPTIONS"):
            app.router.add_route(method, path, handler)

    async def run_server(app: web.Application) -> AsyncIterator[None]:
        await host.start()
        try:
            yield
        finally:
            await host.stop()

    async def close_sessions(app: web.Application) -> None:
        await host.stop()

    app.cleanup_ctx.append(run_server)
    app.on_shutdown.append(close_sessions)


def translate_request(request: web.Request) -> dict[str, Any]:
    """The python-engineio-compatible environ of an aiohttp request.

    ``aiohttp.request`` holds the request; unlike python-engineio,
    ``REMOTE_ADDR``/``REMOTE_PORT`` hold the client's real address.
    """
    transport = request.transport
    peer = address(transport.get_extra_info("peername")) if transport else None
    local = address(transport.get_extra_info("sockname")) if transport else None
    version = request.version
    return wsgi_environ(
        method=request.method,
        path=request.path,
        query_string=request.rel_url.raw_query_string,
        http_version=f"{version.major}.{version.minor}",
        headers=request.headers.items(),
        scheme=request.scheme,
        remote=peer or (request.remote or "", 0),
        local=local,
        software="aiohttp",
        extra={"aiohttp.request": request},
    )


def _neutral_request(request: web.Request) -> HTTPRequest:
    return HTTPRequest(
        method=request.method.upper(),
        query=parse_query(request.rel_url.raw_query_string),
        headers=join_headers(request.headers.items()),
        environ=partial(translate_request, request),
        scheme="https" if request.scheme in ("https", "wss") else "http",
    )


async def _respond(request: web.Request, response: HTTPResponse) -> web.Response:
    """Write ``response`` now; the handler returns it (aiohttp then has nothing to do)."""
    reply = web.Response(
        status=response.status,
        body=response.body,
        headers=CIMultiDict(response_headers(response)),
    )
    if response.close_connection:
        reply.force_close()
    try:
        await reply.prepare(request)
        await reply.write_eof()
    except ConnectionError:
        pass  # the client went away; aiohttp logs the request as it does for its own
    if response.close_connection and not request.content.is_eof():
        # The rest of the body is not to be read: aiohttp would read on for up
        # to its lingering_time (10 s by default) before it closes.
        request.protocol.force_close()
    return reply


def _make_handler(server: AsyncServer, host: ServerHost) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if host.stopping and not server.running:
            return await _respond(request, shutting_down())
        neutral = _neutral_request(request)
        if is_websocket_upgrade(neutral.headers):
            return await _serve_websocket(server, host, request, neutral)
        reply: web.Response | None = None

        async def http() -> None:
            nonlocal reply
            response = await server.handle_http(neutral, AiohttpConnection(request))
            reply = await _respond(request, response)

        await server.serve_request(http)
        if reply is None:  # pragma: no cover - serve_request always runs http()
            raise RuntimeError("the server did not answer the request")
        return reply

    return handle


async def _serve_websocket(
    server: AsyncServer, host: ServerHost, request: web.Request, neutral: HTTPRequest
) -> web.StreamResponse:
    refusal = bad_websocket_handshake(neutral.headers)
    if refusal is not None:
        return await _respond(request, refusal)
    ws = AiohttpWebSocket(request, websocket_max_size(server), lambda: host.stopping)
    try:
        await server.serve_request(partial(server.handle_websocket, neutral, ws))
    except WebSocketClosed:
        _log.info("the client went away during the WebSocket handshake")
    if ws.response is None:
        _log.error("the server neither accepted nor refused a WebSocket request")
        return await _respond(request, HTTPResponse(500))
    return ws.response


class AiohttpConnection:
    """An aiohttp request as an :class:`~engineio_sc._http.HTTPConnection`."""

    def __init__(self, request: web.Request) -> None:
        self._request = request

    async def read_body(self, limit: int, discard_for: float) -> bytes:
        """Read the body (see :func:`~engineio_sc._http.read_body`).

        Raises:
            ContentTooLongError: the body is over ``limit`` bytes.
            ClientGone: the client went away before the end of the body.
        """
        return await read_body(self._next_part, limit, discard_for)

    async def _next_part(self) -> bytes | None:
        try:
            part = await self._request.content.readany()
        except ConnectionError as exc:
            raise ClientGone("the client went away during the body") from exc
        return part or None  # b"" at the end

    async def wait_disconnected(self) -> None:
        """Return once the client's connection is closed (checked every
        :data:`DISCONNECT_CHECK_INTERVAL` seconds)."""
        while True:
            transport = self._request.transport
            if transport is None or transport.is_closing():
                return
            await anyio.sleep(DISCONNECT_CHECK_INTERVAL)

    async def farewell(self, response: HTTPResponse) -> None:
        """Nothing: a cancelled handler's response cannot be written (the
        application's shut-down hook closes every session before aiohttp or Sanic
        cancels its requests)."""


class AiohttpWebSocket:
    """``aiohttp.web.WebSocketResponse`` as a :class:`~engineio_sc._http.WebSocket`.

    :attr:`response` is what the request handler returns: the WebSocket once
    accepted, or the HTTP response that refused it.

    ``stopping()`` says whether the application is shutting down: aiohttp then
    ignores what its clients send, so :meth:`close` does not wait for the
    client's answer to the close frame (it would wait aiohttp's whole close
    timeout, 10 seconds, for nothing).
    """

    def __init__(
        self, request: web.Request, max_msg_size: int, stopping: Callable[[], bool]
    ) -> None:
        self._request = request
        self._max_msg_size = max_msg_size
        self._stopping = stopping
        self._ws: web.WebSocketResponse | None = None
        self._closed = False
        self.response: web.StreamResponse | None = None

    async def accept(self, headers: Headers) -> None:
        """Complete the handshake (the ``101``), with ``headers`` added to it.

        Raises:
            WebSocketClosed: the client went away first.
        """
        ws = web.WebSocketResponse(max_msg_size=self._max_msg_size)
        for name, value in headers:
            ws.headers.add(name, value)
        self.response = ws
        try:
            await ws.prepare(self._request)
        except ConnectionError as exc:
            self._closed = True
            raise WebSocketClosed("the client went away during the handshake") from exc
        self._ws = ws

    async def deny(self, response: HTTPResponse) -> None:
        """Refuse the WebSocket with ``response`` (a close with 1008 once accepted)."""
        if self._ws is not None:
            await self.close(1008)
            return
        self._closed = True
        self.response = await _respond(self._request, response)

    async def receive(self) -> str | bytes:
        """The next text or binary message.

        Raises:
            WebSocketClosed: the WebSocket is closed (aiohttp answered the
                client's close, or closed it itself, for a message over
                ``max_msg_size`` for one).
        """
        if self._ws is None or self._closed:
            raise WebSocketClosed
        message = await self._ws.receive()
        if message.type is WSMsgType.TEXT:
            return str(message.data)
        if message.type is WSMsgType.BINARY:
            return bytes(message.data)
        self._closed = True
        raise WebSocketClosed(message.type.name)

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises:
            WebSocketClosed: the WebSocket is closed.
        """
        ws = self._ws
        if ws is None or self._closed or ws.closed:
            raise WebSocketClosed
        try:
            if isinstance(data, str):
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)
        except (ConnectionError, RuntimeError) as exc:
            self._closed = True
            raise WebSocketClosed from exc

    async def close(self, code: int = 1000) -> None:
        """Send the close frame with ``code`` and wait (bounded by aiohttp's close
        timeout) for the client's answer, unless the application is shutting
        down: then close the connection once the frame is written."""
        ws = self._ws
        if ws is None or self._closed:
            self._closed = True
            return
        self._closed = True
        # With a deadline in the past, aiohttp writes the frame (no suspension
        # before that), is cancelled at its first wait and closes the transport.
        with (
            anyio.move_on_after(0 if self._stopping() else math.inf),
            contextlib.suppress(ConnectionError, RuntimeError),
        ):
            await ws.close(code=code)
