"""The ASGI edge: scopes in, neutral requests out, responses and frames back."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from ._environ import asgi_environ
from ._http import (
    ClientGone,
    Headers,
    HTTPRequest,
    HTTPResponse,
    RequestServer,
    WebSocketClosed,
    parse_query,
    read_body,
)

__all__ = [
    "ASGIHTTPConnection",
    "ASGIMessage",
    "ASGIWebSocket",
    "Receive",
    "Scope",
    "Send",
    "request_from_scope",
    "send_response",
]

Scope = dict[str, Any]
ASGIMessage = dict[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]


def request_from_scope(scope: Scope) -> HTTPRequest:
    """The neutral request of an ASGI ``http`` or ``websocket`` scope."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = headers[name] + "," + value if name in headers else value
    return HTTPRequest(  # positional: the keywords cost more than the rest of the call
        scope.get("method", "GET").upper(),
        parse_query(scope.get("query_string", b"").decode("latin-1")),
        headers,
        partial(asgi_environ, scope),
        "https" if scope.get("scheme") in ("https", "wss") else "http",
    )


def _encode_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def send_response(send: Send, response: HTTPResponse) -> None:
    """Write a response on an ASGI ``http`` scope (with a ``Content-Length``)."""
    body = response.body
    headers: list[tuple[bytes, bytes]] = []
    sized = False
    for name, value in response.headers:
        sized = sized or name.lower() == "content-length"
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    if not sized:
        headers.append((b"content-length", str(len(body)).encode()))
    if response.close_connection:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ASGIHTTPConnection:
    """An ASGI ``http`` request as an :class:`~engineio_sc._http.HTTPConnection`."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._disconnected = False
        self._body_read = False
        self._first: ASGIMessage | None = None  # read by read_body's quick look, not yet taken

    async def read_body(self, limit: int, discard_for: float) -> bytes:
        """Read the body (see :func:`~engineio_sc._http.read_body`)."""
        message = await self._receive()
        body = message.get("body", b"")
        if (
            message["type"] == "http.request"
            and not message.get("more_body", False)
            and len(body) <= limit
        ):
            self._body_read = True
            return bytes(body)  # the whole body in one message: what clients send
        self._first = message
        return await read_body(self._next_part, limit, discard_for)

    async def _next_part(self) -> bytes | None:
        if self._body_read:
            return None
        message, self._first = self._first or await self._receive(), None
        if message["type"] == "http.disconnect":
            self._disconnected = True
            raise ClientGone("the client went away during the body")
        self._body_read = not message.get("more_body", False)
        return bytes(message.get("body", b""))

    async def wait_disconnected(self) -> None:
        """Return once the client has gone away."""
        while not self._disconnected:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._disconnected = True

    async def farewell(self, response: HTTPResponse) -> None:
        """Write ``response``, unless the client is gone or the server refuses."""
        if not self._disconnected:
            with contextlib.suppress(Exception):
                await send_response(self._send, response)


class ASGIWebSocket:
    """An ASGI ``websocket`` scope as a :class:`~engineio_sc._http.WebSocket`.

    The ``websocket.connect`` message must already have been received.
    """

    __slots__ = ("_can_deny", "_closed", "_receive", "_send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._closed = False
        self._can_deny = "websocket.http.response" in scope.get("extensions", {})

    async def accept(self, headers: Headers) -> None:
        await self._send({"type": "websocket.accept", "headers": _encode_headers(headers)})

    async def deny(self, response: HTTPResponse) -> None:
        self._closed = True
        if not self._can_deny:
            await self._send({"type": "websocket.close", "code": 1008})
            return
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        await self._send(
            {
                "type": "websocket.http.response.start",
                "status": response.status,
                "headers": _encode_headers(headers),
            }
        )
        await self._send({"type": "websocket.http.response.body", "body": response.body})

    async def receive(self) -> str | bytes:
        if self._closed:
            raise WebSocketClosed
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            if text is not None:
                return str(text)
            return bytes(message.get("bytes") or b"")
        self._closed = True
        raise WebSocketClosed(kind)

    async def send(self, data: str | bytes) -> None:
        if self._closed:
            raise WebSocketClosed
        if isinstance(data, str):
            message: ASGIMessage = {"type": "websocket.send", "text": data}
        else:
            message = {"type": "websocket.send", "bytes": data}
        try:
            await self._send(message)
        except OSError as exc:
            self._closed = True
            raise WebSocketClosed from exc

    async def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            await self._send({"type": "websocket.close", "code": code})


def serve(server: RequestServer, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """Serve an ASGI ``http`` or ``websocket`` request with ``server``
    (an :class:`~engineio_sc.AsyncServer`) inside its task group."""
    if scope["type"] == "websocket":
        return _serve_websocket(server, scope, receive, send)
    return _serve_http(server, scope, receive, send)


async def _serve_websocket(
    server: RequestServer, scope: Scope, receive: Receive, send: Send
) -> None:
    # This frame lasts as long as the session: it keeps no more than it must.
    if (await receive())["type"] != "websocket.connect":
        return
    ws = ASGIWebSocket(scope, receive, send)
    await server.serve_request(partial(server.handle_websocket, request_from_scope(scope), ws))


async def _serve_http(server: RequestServer, scope: Scope, receive: Receive, send: Send) -> None:
    request = request_from_scope(scope)

    async def http() -> None:
        response = await server.handle_http(request, ASGIHTTPConnection(receive, send))
        await send_response(send, response)

    await server.serve_request(http)
