"""What the aiohttp, Sanic and Tornado adapters share.

Each adapter turns its framework's request into an :class:`~engineio_sc._http.HTTPRequest`
with the helpers here, and aiohttp and Sanic run the server's task group in a
:class:`ServerHost`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol

from ._http import HTTPResponse, RequestServer, error_response
from .exceptions import ErrorCode, RequestRefused

__all__ = [
    "WS_SIZE_MARGIN",
    "HostedServer",
    "ServerHost",
    "bad_websocket_handshake",
    "engineio_route",
    "is_websocket_upgrade",
    "join_headers",
    "shutting_down",
    "websocket_max_size",
    "wsgi_environ",
]

_log = logging.getLogger("engineio_sc.server")

WS_SIZE_MARGIN = 1024
"""Bytes the framework's own WebSocket message limit allows above
``max_http_buffer_size``: the server checks the exact limit itself (closing with
1009), the framework's limit only stops what is far over it."""

_SCHEMES = {"ws": "http", "wss": "https"}


def engineio_route(engineio_path: str) -> str:
    """``'engine.io'`` (or ``'/engine.io/'``) as the route ``/engine.io/``."""
    return "/" + engineio_path.strip("/") + "/"


def join_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names in lower case, the values of a repeated header joined by ``,``."""
    headers: dict[str, str] = {}
    for raw_name, value in items:
        name = raw_name.lower()
        headers[name] = headers[name] + "," + value if name in headers else value
    return headers


def is_websocket_upgrade(headers: Mapping[str, str]) -> bool:
    """Whether the request asks for a WebSocket (``Upgrade: websocket``)."""
    return headers.get("upgrade", "").strip().lower() == "websocket"


def bad_websocket_handshake(headers: Mapping[str, str]) -> HTTPResponse | None:
    """The 400 for a WebSocket request that no framework could accept, else ``None``.

    Checked before the server sees the request, so that the server only ever
    accepts WebSockets that the framework can open.
    """
    connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    problem = None
    if "upgrade" not in connection:
        problem = 'the "Connection" header must include "Upgrade"'
    elif not headers.get("sec-websocket-key", "").strip():
        problem = 'the "Sec-WebSocket-Key" header is missing'
    elif headers.get("sec-websocket-version", "").strip() != "13":
        problem = 'the "Sec-WebSocket-Version" header must be 13'
    if problem is None:
        return None
    return HTTPResponse(
        400,
        f"Bad WebSocket handshake: {problem}".encode(),
        [("Content-Type", "text/plain; charset=UTF-8"), ("Sec-WebSocket-Version", "13")],
    )


def shutting_down() -> HTTPResponse:
    """The answer to a request that arrives once the server has shut down."""
    return error_response(
        RequestRefused(ErrorCode.BAD_REQUEST, status=503, message="Server shutting down")
    )


class HostedServer(RequestServer, Protocol):
    """What an adapter that runs the server's task group needs of the server
    (:class:`~engineio_sc.AsyncServer` is one)."""

    @property
    def running(self) -> bool:
        """Whether the server's task group is open."""
        ...

    @property
    def max_http_buffer_size(self) -> int:
        """The largest body or message accepted, in bytes."""
        ...

    async def shutdown(self) -> None:
        """Close every session and return when nothing of the server runs."""
        ...

    async def __aenter__(self) -> object: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


def websocket_max_size(server: HostedServer) -> int:
    """The message size limit to give the framework's WebSocket implementation."""
    return int(server.max_http_buffer_size) + WS_SIZE_MARGIN


def response_headers(response: HTTPResponse) -> list[tuple[str, str]]:
    """The response's headers without ``Content-Length`` (the framework sets it)."""
    return [(name, value) for name, value in response.headers if name.lower() != "content-length"]


def wsgi_environ(
    *,
    method: str,
    path: str,
    query_string: str,
    http_version: str,
    headers: Iterable[tuple[str, str]],
    scheme: str,
    remote: tuple[str, int] | None,
    local: tuple[str, int] | None,
    software: str,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """A python-engineio-compatible environ.

    Unlike python-engineio, ``REMOTE_ADDR``/``REMOTE_PORT`` hold the real client
    address, ``SERVER_NAME``/``SERVER_PORT`` the real local address and
    ``wsgi.url_scheme`` the real scheme of the connection.
    """
    remote_host, remote_port = remote or ("", 0)
    local_host, local_port = local or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query_string,
        "RAW_URI": path + ("?" + query_string if query_string else ""),
        "SERVER_PROTOCOL": "HTTP/" + http_version,
        "SERVER_SOFTWARE": software,
        "SERVER_NAME": local_host,
        "SERVER_PORT": str(local_port or ""),
        "REMOTE_ADDR": remote_host,
        "REMOTE_PORT": str(remote_port or ""),
        "wsgi.url_scheme": _SCHEMES.get(scheme, scheme),
        "wsgi.version": (1, 0),
        "wsgi.async": True,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, value in headers:
        name = raw_name.upper().replace("-", "_")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[name] = value
            continue
        key = "HTTP_" + name
        environ[key] = environ[key] + "," + value if key in environ else value
    environ.update(extra)
    return environ


def address(value: object) -> tuple[str, int] | None:
    """``(host, port)`` from a socket address (``peername``, ``sockname``), if it is one."""
    if isinstance(value, tuple | list) and len(value) >= 2:
        host, port = value[0], value[1]
        if isinstance(host, str) and isinstance(port, int):
            return host, port
    return None


class ServerHost:
    """Runs ``async with server:`` in one task of its own, from start() to stop().

    Frameworks call their start-up and shut-down hooks from tasks of their own
    choosing: Sanic runs each listener in a new task, and an aiohttp application
    whose runner is set up and cleaned up by different tasks (as test fixtures do)
    runs its ``cleanup_ctx`` halves in different tasks. An anyio task group must
    be entered and left by one task, so the server's group lives in a dedicated
    task instead, whose whole life is bracketed by the hooks: :meth:`start` returns
    once the group is open (or raises why it could not open), and :meth:`stop`
    shuts the server down and returns once the task is over (or raises what
    ended it).

    When the program already runs the server (``async with eio:`` around the
    application), :meth:`start` does nothing and :meth:`stop` only shuts the
    server down, so that its sessions end before the framework waits for its
    requests to finish.
    """

    def __init__(self, server: HostedServer) -> None:
        self.server = server
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._started = False
        self._stopping = False

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called: the server is not to be reopened."""
        return self._stopping

    async def start(self) -> None:
        """Open the server's task group in the host task, unless it is open already.

        Raises:
            RuntimeError: the host task is running already.
            BaseException: whatever stopped the server from starting.
        """
        if self._task is not None:
            raise RuntimeError("the server host is running already")
        self._started = self._stopping = False
        if self.server.running:
            return
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        self._stop = asyncio.Event()
        task = loop.create_task(self._host(started, self._stop), name="engineio_sc server")
        self._task = task
        task.add_done_callback(self._ended)
        await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            self._task = None
            task.result()  # the reason it ended (a clean end here is a bug)
            raise RuntimeError("the server ended while starting")

    async def _host(self, started: asyncio.Future[None], stop: asyncio.Event) -> None:
        async with self.server:
            self._started = True
            started.set_result(None)
            await stop.wait()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping or not self._started:
            return  # start() or stop() reports how it ended
        error = task.exception()
        if error is not None:
            _log.error("the server's task group ended unexpectedly", exc_info=error)

    async def stop(self) -> None:
        """Shut the server down and wait until nothing of it is left running.

        Calling it again shuts the server down again, which does nothing.

        Raises:
            BaseException: what ended the host task, if it failed.
        """
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            await self.server.shutdown()
            return
        assert self._stop is not None
        self._stop.set()
        await task
