"""A minimal WebSocket client on anyio and wsproto, so the same test runs on trio and asyncio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)


class Rejected(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


class WebSocketClient:
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.close_code: int | None = None
        self._text: list[str] = []
        self._bytes: list[bytes] = []
        self._events: list[object] = []

    async def _flush(self, data: bytes) -> None:
        if data:
            await self.stream.send(data)

    async def _next_event(self) -> object:
        while not self._events:
            try:
                data = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.ws.receive_data(None)
            else:
                self.ws.receive_data(data)
            self._events.extend(self.ws.events())
            if not self._events and self.ws.state.name == "CLOSED":
                return CloseConnection(code=1006)
        return self._events.pop(0)

    async def handshake(self, host: str, target: str) -> None:
        await self._flush(self.ws.send(Request(host=host, target=target)))
        event = await self._next_event()
        if isinstance(event, AcceptConnection):
            return
        if isinstance(event, RejectConnection):
            body = b""
            while event.has_body if isinstance(event, RejectConnection) else True:
                data = await self._next_event()
                if not isinstance(data, RejectData):
                    break
                body += data.data
                if data.body_finished:
                    break
            raise Rejected(event.status_code, body)
        raise AssertionError(f"unexpected handshake event {event!r}")

    async def send(self, data: str | bytes) -> None:
        event = TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data)
        await self._flush(self.ws.send(event))

    async def receive(self) -> str | bytes | None:
        """The next message, or ``None`` once the server closed the connection."""
        text: list[str] = []
        binary: list[bytes] = []
        while True:
            event = await self._next_event()
            if isinstance(event, TextMessage):
                text.append(event.data)
                if event.message_finished:
                    return "".join(text)
            elif isinstance(event, BytesMessage):
                binary.append(bytes(event.data))
                if event.message_finished:
                    return b"".join(binary)
            elif isinstance(event, Ping):
                await self._flush(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                if self.ws.state.name == "REMOTE_CLOSING":
                    await self._flush(self.ws.send(event.response()))
                return None

    async def close(self, code: int = 1000) -> None:
        if self.ws.state.name == "OPEN":
            await self._flush(self.ws.send(CloseConnection(code=code)))
        await self.stream.aclose()


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[WebSocketClient]:
    """``ws://host:port/path?query``."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    stream = await anyio.connect_tcp(host, int(port))
    client = WebSocketClient(stream)
    try:
        await client.handshake(hostport, "/" + path)
        yield client
    finally:
        await client.close()
