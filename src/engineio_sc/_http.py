"""Neutral request, response and WebSocket values shared by every framework adapter.

An adapter (ASGI, aiohttp, ...) turns its framework's request into a
:class:`HTTPRequest`, gives the server (a :class:`RequestServer`) an
:class:`HTTPConnection` or a :class:`WebSocket` to talk through, and writes the
:class:`HTTPResponse` back.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

import anyio

from .exceptions import ContentTooLongError, RequestRefused

__all__ = [
    "DISCARD_MIN",
    "BodyPart",
    "ClientGone",
    "HTTPConnection",
    "HTTPRequest",
    "HTTPResponse",
    "RequestHandle",
    "RequestServer",
    "WebSocket",
    "WebSocketClosed",
    "error_response",
    "json_response",
    "parse_query",
    "read_body",
]

Headers = list[tuple[str, str]]


@dataclass(slots=True)
class HTTPRequest:
    """One Engine.IO request, HTTP or WebSocket.

    Attributes:
        method: the HTTP method, upper case.
        query: the query parameters (first value of each).
        headers: the request headers, names in lower case, repeats joined by ``,``.
        environ: builds the python-engineio-compatible environ, on demand (for
            the handlers that take one, and for the few checks that need the
            client's address).
        scheme: ``http`` or ``https``, as the client reached the server.
    """

    method: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    environ: Callable[[], dict[str, Any]] = field(repr=False)
    scheme: str = "http"


@dataclass(slots=True)
class HTTPResponse:
    """A response for the adapter to write.

    Attributes:
        status: the HTTP status.
        body: the body.
        headers: the headers (the adapter adds ``Content-Length``).
        close_connection: close the connection once the response is written
            (the adapter tells its server so: ``Connection: close`` for an ASGI
            server).
    """

    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)
    close_connection: bool = False


def parse_query(query_string: str) -> dict[str, str]:
    """The first value of each parameter of a query string, as
    :func:`urllib.parse.parse_qsl` reads it (blank values skipped, as the reference
    server treats ``sid=`` as no sid), without its cost for the plain queries
    every Engine.IO client sends."""
    query: dict[str, str] = {}
    quoted = "%" in query_string or "+" in query_string
    for part in query_string.split("&"):
        key, _, value = part.partition("=")
        if quoted:
            key, value = unquote_plus(key), unquote_plus(value)
        if value and key not in query:
            query[key] = value
    return query


def json_response(status: int, value: Any) -> HTTPResponse:
    """A JSON response."""
    return HTTPResponse(
        status,
        json.dumps(value, separators=(",", ":")).encode(),
        [("Content-Type", "application/json")],
    )


def error_response(error: RequestRefused) -> HTTPResponse:
    """The reference server's answer to a refused request (a protocol error, for one).

    ``{"code": N, "message": "..."}`` as JSON, or an empty body for the errors
    that have no code (a conflicting request, for one).
    """
    if error.code is None:
        return HTTPResponse(error.status)
    return json_response(error.status, {"code": int(error.code), "message": error.message})


BodyPart = Callable[[], Awaitable[bytes | None]]
"""Reads the next part of a request body: ``None`` once it is all read. Raises
:class:`ClientGone` if the client goes away before the end of it."""

DISCARD_MIN = 65_536
"""Bytes beyond the limit that :func:`read_body` reads and throws away, at the
least, when a body is over it (however small the limit)."""


async def read_body(next_part: BodyPart, limit: int, discard_for: float) -> bytes:
    """Read a request body with ``next_part``, counting bytes as they arrive
    (``Content-Length`` is not trusted; chunked bodies are counted the same way).

    A body over ``limit`` is not kept, but read on and thrown away before the
    error is raised, so that the client gets the ``413`` that follows: a client
    may write its whole body before it reads anything, and a socket closed with
    unread data in it is reset, which loses the answer. That is bounded, against
    an endless body: at most ``max(limit, DISCARD_MIN)`` bytes beyond the limit,
    and for at most ``discard_for`` seconds. Past either bound the error is
    raised at once, the rest left unread. Either way the server's ``413`` then
    closes the connection (:attr:`HTTPResponse.close_connection`).

    Raises:
        ContentTooLongError: the body is over ``limit`` bytes.
        ClientGone: the client went away before the end of the body (and before
            it was over ``limit``).
    """
    parts: list[bytes] = []
    size = 0
    while (part := await next_part()) is not None:
        size += len(part)
        if size > limit:
            excess = max(limit, DISCARD_MIN) - (size - limit)
            read = await _discard(next_part, excess, discard_for)
            raise ContentTooLongError(
                f"body over {limit} bytes" + ("" if read else " (the rest left unread)")
            )
        parts.append(part)
    return b"".join(parts)


async def _discard(next_part: BodyPart, budget: int, timeout: float) -> bool:
    """Read what is left of a body and drop it, within ``budget`` bytes and
    ``timeout`` seconds: whether nothing is left (read to the end, or the client
    went away)."""
    with anyio.move_on_after(timeout):
        try:
            while budget >= 0:
                part = await next_part()
                if part is None:
                    return True
                budget -= len(part)
        except ClientGone:
            return True
    return False


class HTTPConnection(Protocol):
    """The per-request I/O a polling request needs from its adapter."""

    async def read_body(self, limit: int, discard_for: float) -> bytes:
        """Read the whole request body (as :func:`read_body` does, where the
        adapter has to read it itself).

        Raises:
            ContentTooLongError: the body is longer than ``limit`` bytes.
            ClientGone: the client went away before the end of the body.
        """
        ...

    async def wait_disconnected(self) -> None:
        """Return when the client has gone away."""
        ...

    async def farewell(self, response: HTTPResponse) -> None:
        """Write ``response`` now, if the connection still can: the request was
        cancelled from outside while the server held it (an ASGI server cancels
        its requests when it stops). Called in a shielded scope with a short
        deadline; an adapter that cannot write then returns at once."""
        ...


class ClientGone(Exception):
    """The client went away before the end of its request body: there is no one
    left to answer."""


class WebSocketClosed(Exception):
    """The WebSocket is closed: nothing more can be received or sent."""


class WebSocket(Protocol):
    """A WebSocket connection as the server sees it."""

    async def accept(self, headers: Headers) -> None:
        """Accept the connection (the HTTP ``101``)."""
        ...

    async def deny(self, response: HTTPResponse) -> None:
        """Refuse the connection with an HTTP response, if the server can."""
        ...

    async def receive(self) -> str | bytes:
        """Receive one message.

        Raises:
            WebSocketClosed: the connection is closed.
        """
        ...

    async def send(self, data: str | bytes) -> None:
        """Send one message (text for ``str``, binary for ``bytes``).

        Raises:
            WebSocketClosed: the connection is closed.
        """
        ...

    async def close(self, code: int = 1000) -> None:
        """Close the connection; closing a closed connection does nothing."""
        ...


RequestHandle = Callable[[], Awaitable[None]]
"""One request's whole handling, as an adapter gives it to
:meth:`RequestServer.serve_request`: the server's answer written back, or the
WebSocket served to its end."""


class RequestServer(Protocol):
    """What a framework adapter needs of the server to serve a request
    (:class:`~engineio_sc.AsyncServer` is one)."""

    def serve_request(self, handle: RequestHandle) -> Awaitable[None]:
        """Run ``handle()`` inside the server's task group, opening it if need be."""
        ...

    async def handle_http(self, request: HTTPRequest, conn: HTTPConnection) -> HTTPResponse:
        """Serve one polling request (or a CORS preflight): the response to write."""
        ...

    async def handle_websocket(self, request: HTTPRequest, ws: WebSocket) -> None:
        """Serve one WebSocket request, to the end of the session it opens."""
        ...
