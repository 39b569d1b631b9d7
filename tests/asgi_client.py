"""An in-process ASGI client: requests and WebSockets without sockets.

It drives an ASGI application the way Hypercorn does (one task per request,
``receive``/``send`` callables), so server logic can be tested on virtual time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

import engineio_sc
from engineio_sc._session import Session
from engineio_sc.protocol import SEPARATOR

ASGIApp = Any
Message = dict[str, Any]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def packets(self) -> list[str]:
        return self.text.split(SEPARATOR)


def polling(sid: str) -> str:
    """The query string of a polling request of session ``sid``."""
    return f"EIO=4&transport=polling&sid={sid}"


def open_info(packet: str) -> dict[str, Any]:
    """The JSON of an open packet (``0{"sid": ...}``); fails unless it is one."""
    assert packet.startswith("0"), packet
    info: dict[str, Any] = json.loads(packet[1:])
    return info


def open_sid(packet: str) -> str:
    """The sid of an open packet."""
    return str(open_info(packet)["sid"])


Peer = tuple[str, int] | None
"""The scope's ``client``: ``(host, port)``, or ``None`` (a Unix socket)."""

DEFAULT_PEER: Peer = ("127.0.0.9", 50000)


def _scope(
    kind: str,
    method: str,
    query: str,
    headers: list[tuple[str, str]],
    secure: bool = False,
    peer: Peer = DEFAULT_PEER,
) -> Message:
    path, _, qs = query.partition("?")
    scheme = "http" if kind == "http" else "ws"
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme + "s" if secure else scheme,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": qs.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": peer,
        "server": ("127.0.0.1", 8000),
        "extensions": {"websocket.http.response": {}} if kind == "websocket" else {},
    }


@dataclass
class HTTPExchange:
    """One request in flight; ``disconnect()`` makes the client go away."""

    gone: anyio.Event = field(default_factory=anyio.Event)
    body_sent: anyio.Event | None = None
    """When set, the last part of the body waits for this event."""
    received: int = 0
    """Bytes of the body the application has received."""
    leave_after: int | None = None
    """When set, the client goes away after this many parts of the body."""
    parts_received: int = 0
    """Parts of the body the application has received."""

    def disconnect(self) -> None:
        self.gone.set()


class ASGIClient:
    """Requests against an ASGI app.

    With ``host`` set, each application call runs in that task group and a
    request returns as soon as its response is complete, as with a real server
    (an application may go on running after its response). ``peer`` is the
    client address of the requests' scopes; a test may change it at any time.
    """

    def __init__(
        self, app: ASGIApp, path: str = "/engine.io/", host: anyio.abc.TaskGroup | None = None
    ) -> None:
        self.app = app
        self.path = path
        self.host = host
        self.peer: Peer = DEFAULT_PEER

    async def request(
        self,
        method: str,
        query: str,
        body: bytes | str = b"",
        *,
        headers: list[tuple[str, str]] | None = None,
        exchange: HTTPExchange | None = None,
        chunks: int = 1,
        path: str | None = None,
        secure: bool = False,
    ) -> Response:
        data = body.encode() if isinstance(body, str) else body
        exchange = exchange or HTTPExchange()
        target = (self.path if path is None else path) + "?" + query
        scope = _scope("http", method, target, headers or [], secure, self.peer)
        size = max(1, -(-len(data) // chunks)) if data else 1
        parts = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        start: Message = {}
        body_parts: list[bytes] = []
        done = anyio.Event()

        async def receive() -> Message:
            if exchange.parts_received == exchange.leave_after:
                exchange.disconnect()
            elif parts:
                if len(parts) == 1 and exchange.body_sent is not None:
                    await exchange.body_sent.wait()
                part = parts.pop(0)
                exchange.received += len(part)
                exchange.parts_received += 1
                return {"type": "http.request", "body": part, "more_body": bool(parts)}
            await exchange.gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body_parts.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        if self.host is None:
            await self.app(scope, receive, send)
        else:
            self.host.start_soon(self.app, scope, receive, send)
            await done.wait()
        exchange.disconnect()
        headers_out = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        return Response(int(start.get("status", 0)), headers_out, b"".join(body_parts))

    async def get(self, query: str, **kwargs: Any) -> Response:
        return await self.request("GET", query, **kwargs)

    async def post(self, query: str, body: bytes | str, **kwargs: Any) -> Response:
        return await self.request("POST", query, body, **kwargs)

    async def handshake(self, query: str = "EIO=4&transport=polling") -> tuple[str, dict[str, Any]]:
        response = await self.get(query)
        assert response.status == 200, response.body
        info = open_info(response.packets[0])
        return str(info["sid"]), info

    @asynccontextmanager
    async def websocket(
        self, query: str, headers: list[tuple[str, str]] | None = None, *, gone: bool = False
    ) -> AsyncIterator[FakeWebSocket]:
        """A WebSocket to the app; with ``gone``, the client leaves as soon as it is
        accepted, so that every message the server sends fails."""
        scope = _scope("websocket", "GET", self.path + "?" + query, headers or [], peer=self.peer)
        ws = FakeWebSocket(scope, gone=gone)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run, self.app)
            try:
                yield ws
            finally:
                await ws.close()


class FakeWebSocket:
    """The client end of an in-process WebSocket."""

    def __init__(self, scope: Message, *, gone: bool = False) -> None:
        self.scope = scope
        self.gone = gone
        self.failure: Exception | None = None  # what the server's next receive raises
        self.to_server: tuple[MemoryObjectSendStream[Message], MemoryObjectReceiveStream[Message]]
        self.to_server = anyio.create_memory_object_stream[Message](100)
        self.to_client: tuple[MemoryObjectSendStream[Message], MemoryObjectReceiveStream[Message]]
        self.to_client = anyio.create_memory_object_stream[Message](100)
        self.finished = anyio.Event()
        self.close_code: int | None = None
        self.accepted = False
        self.accept_headers: dict[str, str] = {}
        self.denied: tuple[int, bytes] | None = None
        self.to_server[0].send_nowait({"type": "websocket.connect"})

    async def run(self, app: ASGIApp) -> None:
        async def receive() -> Message:
            try:
                message = await self.to_server[1].receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):  # gone, or the request ended
                return {"type": "websocket.disconnect", "code": 1006}
            if self.failure is not None:
                raise self.failure
            return message

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                self.accepted = True
                self.accept_headers = {
                    k.decode().lower(): v.decode() for k, v in message.get("headers", [])
                }
            elif kind == "websocket.http.response.start":
                self.denied = (message["status"], b"")
            elif kind == "websocket.http.response.body":
                assert self.denied is not None
                self.denied = (self.denied[0], message.get("body", b""))
            elif kind == "websocket.close":
                self.close_code = message.get("code", 1000)
            elif self.gone:
                raise OSError("the client is gone")  # as uvicorn's ClientDisconnected
            try:
                await self.to_client[0].send(message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                raise OSError("the request has ended") from None  # as uvicorn's

        try:
            await app(self.scope, receive, send)
        finally:
            self.to_client[0].close()
            self.to_server[1].close()
            self.finished.set()

    async def send(self, data: str | bytes) -> None:
        key = "text" if isinstance(data, str) else "bytes"
        await self.to_server[0].send({"type": "websocket.receive", key: data})

    async def opened(self) -> str:
        """The sid of the session, from the open packet the server sends first."""
        packet = await self.receive()
        assert isinstance(packet, str), packet
        return open_sid(packet)

    async def receive(self) -> str | bytes | None:
        """The next message the server sent, or ``None`` once it closed."""
        while True:
            try:
                message = await self.to_client[1].receive()
            except anyio.EndOfStream:
                return None
            kind = message["type"]
            if kind == "websocket.send":
                text = message.get("text")
                return text if text is not None else bytes(message["bytes"])
            if kind in ("websocket.close", "websocket.http.response.body"):
                return None

    async def close(self) -> None:
        """The client goes away (the server sees ``websocket.disconnect``)."""
        self.to_server[0].close()
        try:
            await self.finished.wait()
        finally:
            self.to_client[1].close()


@asynccontextmanager
async def served(
    *, fail_after: float = 60, **options: Any
) -> AsyncIterator[tuple[engineio_sc.AsyncServer, ASGIClient]]:
    """An ``AsyncServer(**options)``, running, and a client of its ASGI app; the
    whole ``async with`` body must be done within ``fail_after`` seconds. Unless
    ``options`` say otherwise, the server pings once a minute (out of the way of
    most tests) and waits 0.2 s for its sessions to close when it stops."""
    server = engineio_sc.AsyncServer(**{"ping_interval": 60, "close_timeout": 0.2, **options})
    with anyio.fail_after(fail_after):
        async with server:
            yield server, ASGIClient(engineio_sc.ASGIApp(server))


class Pending:
    """A request in flight; its response once the ``async with pending()`` is done."""

    def __init__(self) -> None:
        self.result: Response | None = None

    @property
    def response(self) -> Response:
        assert self.result is not None, "the request has not finished"
        return self.result


@asynccontextmanager
async def pending(
    request: Callable[[], Awaitable[Response]], *, until: Callable[[], bool] | None = None
) -> AsyncIterator[Pending]:
    """Starts ``request`` and runs the body once every task waits (the request
    is pending), or with ``until``, as soon as ``until()`` holds (on asyncio,
    waiting for every task to wait takes steps of 100 ms); leaving waits for the
    request to finish."""
    in_flight = Pending()

    async def run() -> None:
        in_flight.result = await request()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        if until is None:
            await anyio.wait_all_tasks_blocked()
        else:
            for _ in range(1000):  # scheduler turns, not time
                if until():
                    break
                await anyio.lowlevel.checkpoint()
            assert until(), "the request did not get there"
        yield in_flight


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[list[str]]:
    """Runs the lifespan's start-up, the block, then its shut-down (unless the
    start-up failed); the replies of the application."""
    replies: list[str] = []
    to_app = anyio.create_memory_object_stream[dict[str, Any]](5)
    from_app = anyio.create_memory_object_stream[dict[str, Any]](5)
    async with to_app[0], to_app[1], from_app[0], from_app[1], anyio.create_task_group() as tg:
        tg.start_soon(app, {"type": "lifespan"}, to_app[1].receive, from_app[0].send)
        await to_app[0].send({"type": "lifespan.startup"})
        replies.append((await from_app[1].receive())["type"])
        yield replies
        if not replies[0].endswith("failed"):
            await to_app[0].send({"type": "lifespan.shutdown"})
            replies.append((await from_app[1].receive())["type"])


def session_ids(server: engineio_sc.AsyncServer) -> set[str]:
    """The sids of the server's live sessions, from its statistics."""
    return {figures.sid for figures in server.statistics().sessions}


def live_sessions(server: engineio_sc.AsyncServer) -> dict[str, Session]:
    """The server's live sessions by sid, for the tests that look inside them."""
    return {session.sid: session for session in server._registry.sessions()}
