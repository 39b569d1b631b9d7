"""Neutral request, response and WebSocket values shared by every framework adapter.

An adapter (ASGI, aiohttp, ...) turns its framework's request into a
:class:`HTTPRequest`, gives the server an :class:`HTTPConnection` or a
:class:`WebSocket` to talk through, and writes the :class:`HTTPResponse` back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from .exceptions import ProtocolError

__all__ = [
    "HTTPConnection",
    "HTTPRequest",
    "HTTPResponse",
    "WebSocket",
    "WebSocketClosed",
    "error_response",
    "json_response",
    "parse_query",
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
    """A response for the adapter to write."""

    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)


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


def error_response(error: ProtocolError) -> HTTPResponse:
    """The reference server's answer to a protocol error.

    ``{"code": N, "message": "..."}`` as JSON, or an empty body for the errors
    that have no code (a conflicting request, for one).
    """
    if error.code is None:
        return HTTPResponse(error.status)
    return json_response(error.status, {"code": int(error.code), "message": error.message})


class HTTPConnection(Protocol):
    """The per-request I/O a polling request needs from its adapter."""

    async def read_body(self, limit: int) -> bytes:
        """Read the whole request body.

        Raises:
            ContentTooLongError: the body is longer than ``limit`` bytes.
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
