"""Serve an :class:`~engineio_sc.AsyncServer` from a Sanic application.

Usage, as with python-engineio (``eio.attach(app)`` calls :func:`attach`)::

    from sanic import Sanic
    import engineio_sc

    eio = engineio_sc.AsyncServer(async_mode="sanic")
    app = Sanic("echo")
    eio.attach(app)          # or: engineio_sc.sanic.attach(eio, app)
    app.run(single_process=True)

This adapter serves through Sanic's own server. Each Sanic worker process runs its
own Engine.IO server, so with several workers the clients need sticky sessions
(as with python-engineio); ``single_process=True`` or ``workers=1`` avoids that.
Under an ASGI server, serve :class:`engineio_sc.ASGIApp` instead. Sanic is
asyncio only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

try:
    from sanic import Request, Sanic
    from sanic.compat import Header
    from sanic.exceptions import SanicException
    from sanic.http import Http
    from sanic.response import HTTPResponse as SanicResponse
    from websockets.exceptions import ConnectionClosed
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('engineio_sc.sanic needs Sanic: pip install "engineio_sc[sanic]"') from exc

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
from ._http import Headers, HTTPRequest, HTTPResponse, WebSocketClosed, parse_query, read_body

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["attach", "translate_request"]

_log = logging.getLogger("engineio_sc.server")

Handler = Callable[[Request], Coroutine[Any, Any, SanicResponse | None]]


def attach(server: AsyncServer, app: Sanic[Any, Any], engineio_path: str = "engine.io") -> None:
    """Serve ``server`` from ``app`` at ``/<engineio_path>/``.

    Registers one streaming route for GET, POST and OPTIONS (with or without the
    trailing slash), enables Sanic's WebSockets, raises ``WEBSOCKET_MAX_SIZE`` to
    ``max_http_buffer_size`` plus a margin if it is lower (the server checks the
    exact limit itself), and ties the server's life to the worker's listeners:

    * ``before_server_start``: the server's task group is opened in a task of its
      own (Sanic runs every listener in a new task, and an anyio task group must
      be left by the task that entered it; see
      :class:`~engineio_sc._frameworks.ServerHost`), unless the program already
      runs the server;
    * ``before_server_stop`` (Sanic has stopped listening and has not yet closed
      the connections): every session is closed, its client given
      ``close_timeout`` seconds to take what is queued for it, and the task group
      closed, so that no long poll or WebSocket holds up Sanic's shutdown;
    * ``after_server_stop``: the same again, in case the worker stops without
      the ``before_server_stop`` event; it does nothing if the server is closed.

    These are worker listeners, not the ``main_process_*`` ones: the requests are
    served, and so the sessions live, in the worker process.

    Call it before the application starts.
    """
    host = ServerHost(server)
    app.enable_websocket()
    needed = websocket_max_size(server)
    if (app.config.WEBSOCKET_MAX_SIZE or 0) < needed:
        app.config.WEBSOCKET_MAX_SIZE = needed
    route = engineio_route(engineio_path)
    name = "engineio_sc_" + (re.sub(r"\W+", "_", route).strip("_") or "root")
    app.add_route(
        _make_handler(server, host),
        route,
        methods=["GET", "POST", "OPTIONS"],
        stream=True,
        strict_slashes=False,
        name=name,
    )

    async def start(app: Sanic[Any, Any]) -> None:
        await host.start()

    async def stop(app: Sanic[Any, Any]) -> None:
        await host.stop()

    app.register_listener(start, "before_server_start")
    app.register_listener(stop, "before_server_stop")
    app.register_listener(stop, "after_server_stop")


def translate_request(request: Request) -> dict[str, Any]:
    """The python-engineio-compatible environ of a Sanic request.

    ``sanic.request`` holds the request; unlike python-engineio,
    ``REMOTE_ADDR``/``REMOTE_PORT`` hold the client's real address (the peer of
    the connection, not a proxy's header).
    """
    conn_info = request.conn_info
    return wsgi_environ(
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        http_version=request.version,
        headers=request.headers.items(),
        scheme=request.scheme,
        remote=(request.ip, request.port),
        local=address(conn_info.sockname) if conn_info is not None else None,
        software="sanic",
        extra={"sanic.request": request},
    )


def _neutral_request(request: Request) -> HTTPRequest:
    return HTTPRequest(
        method=request.method.upper(),
        query=parse_query(request.query_string),
        headers=join_headers(request.headers.items()),
        environ=partial(translate_request, request),
        scheme="https" if request.scheme in ("https", "wss") else "http",
    )


def _sanic_response(response: HTTPResponse) -> SanicResponse:
    headers = response_headers(response)
    content_type = None
    others = Header()
    for name, value in headers:
        if name.lower() == "content-type":
            content_type = value
        else:
            others.add(name, value)
    return SanicResponse(
        body=response.body, status=response.status, headers=others, content_type=content_type
    )


async def _respond(request: Request, response: HTTPResponse) -> None:
    """Write ``response`` now (the handler then returns ``None``)."""
    http = request.stream if isinstance(request.stream, Http) else None
    if response.close_connection and http is not None:
        http.keep_alive = False  # Sanic says "connection: close", and closes after it
    reply = await request.respond(_sanic_response(response))
    await reply.send(end_stream=True)
    if response.close_connection and http is not None and http.request_body:
        # The rest of the body is not to be read: Sanic would read on, up to its
        # REQUEST_MAX_SIZE, before it closes.
        request.transport.close()


def _make_handler(server: AsyncServer, host: ServerHost) -> Handler:
    async def handle(request: Request) -> SanicResponse | None:
        if host.stopping and not server.running:
            await _respond(request, shutting_down())
            return None
        neutral = _neutral_request(request)
        if is_websocket_upgrade(neutral.headers):
            await _serve_websocket(server, request, neutral)
            return None

        async def http() -> None:
            response = await server.handle_http(neutral, SanicConnection(request))
            await _respond(request, response)

        await server.serve_request(http)
        return None

    # The handler answers every request itself (request.respond) or takes the
    # connection over for a WebSocket: Sanic expects no response from it then.
    handle.is_websocket = True  # type: ignore[attr-defined]
    return handle


async def _serve_websocket(server: AsyncServer, request: Request, neutral: HTTPRequest) -> None:
    refusal = bad_websocket_handshake(neutral.headers)
    if refusal is not None:
        await _respond(request, refusal)
        return
    ws = SanicWebSocket(request)
    try:
        await server.serve_request(partial(server.handle_websocket, neutral, ws))
    except WebSocketClosed:
        _log.info("the client went away during the WebSocket handshake")
    if not ws.answered:
        _log.error("the server neither accepted nor refused a WebSocket request")
        await _respond(request, HTTPResponse(500))


class SanicConnection:
    """A Sanic request (on a streaming route) as an
    :class:`~engineio_sc._http.HTTPConnection`."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._body_read = False

    async def read_body(self, limit: int, discard_for: float) -> bytes:
        """Read the body (see :func:`~engineio_sc._http.read_body`).

        Raises:
            ContentTooLongError: the body is over ``limit`` bytes.
        """
        return await read_body(self._next_part, limit, discard_for)

    async def _next_part(self) -> bytes | None:
        stream: Any = self._request.stream
        if stream is not None:
            part: bytes | None = await stream.read()
            return part
        if self._body_read:
            return None
        self._body_read = True
        return bytes(self._request.body)  # read already: the only part

    async def wait_disconnected(self) -> None:
        """Never returns: Sanic cancels the handler when its client goes away,
        which ends the poll just as well."""
        await anyio.sleep_forever()

    async def farewell(self, response: HTTPResponse) -> None:
        """Nothing: a cancelled handler's response cannot be written (the
        application's shut-down hook closes every session before aiohttp or Sanic
        cancels its requests)."""


class SanicWebSocket:
    """Sanic's WebSocket (``websocket_handshake`` on its protocol) as a
    :class:`~engineio_sc._http.WebSocket`.

    Sanic's handshake takes no extra headers: the ones the server asks to add to
    the ``101`` (the session cookie, when the ``cookie`` option is set) are not
    sent.
    """

    def __init__(self, request: Request) -> None:
        self._request = request
        self._ws: Any = None
        self._closed = False
        self.answered = False

    async def accept(self, headers: Headers) -> None:
        """Complete the handshake (the ``101``).

        Raises:
            WebSocketClosed: the handshake failed.
        """
        self.answered = True
        if headers:
            _log.debug("Sanic's WebSocket handshake cannot add headers: %s left out", headers)
        protocol: Any = self._request.transport.get_protocol()
        try:
            self._ws = await protocol.websocket_handshake(self._request)
        except (SanicException, ConnectionError) as exc:
            self._closed = True
            raise WebSocketClosed("the WebSocket handshake failed") from exc

    async def deny(self, response: HTTPResponse) -> None:
        """Refuse the WebSocket with ``response`` (a close with 1008 once accepted)."""
        if self._ws is not None:
            await self.close(1008)
            return
        self.answered = True
        self._closed = True
        await _respond(self._request, response)

    async def receive(self) -> str | bytes:
        """The next text or binary message.

        Raises:
            WebSocketClosed: the WebSocket is closed.
        """
        if self._ws is None or self._closed:
            raise WebSocketClosed
        try:
            data = await self._ws.recv()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this task is being cancelled
            # Sanic's recv() raises CancelledError when the connection closes.
            self._closed = True
            raise WebSocketClosed("closed while receiving") from None
        except (ConnectionClosed, SanicException, ConnectionError) as exc:
            self._closed = True
            raise WebSocketClosed from exc
        if isinstance(data, str):
            return data
        if isinstance(data, bytes | bytearray | memoryview):
            return bytes(data)
        self._closed = True
        raise WebSocketClosed

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises:
            WebSocketClosed: the WebSocket is closed.
        """
        if self._ws is None or self._closed:
            raise WebSocketClosed
        try:
            await self._ws.send(data)
        except (ConnectionClosed, SanicException, ConnectionError) as exc:
            self._closed = True
            raise WebSocketClosed from exc

    async def close(self, code: int = 1000) -> None:
        """Send the close frame with ``code``; Sanic completes the closing handshake."""
        if self._ws is None or self._closed:
            self._closed = True
            return
        self._closed = True
        with contextlib.suppress(ConnectionClosed, SanicException, ConnectionError):
            await self._ws.close(code)
