"""python-socketio's ``AsyncClient`` as the live suites use it."""

from __future__ import annotations

from typing import Any

import aiohttp
import socketio
from aiohttp.connector import Connection


class WholeResponse(aiohttp.ClientResponse):
    """A response whose body is read before its request returns (but a 101's).

    python-engineio's client never reads the body of its POSTs, and closes its
    HTTP session right after the last one: a body that comes in a TCP segment of
    its own, after the headers (uvicorn writes them apart), would be left unread
    and its connection unreleased, which aiohttp reports as a ResourceWarning.
    """

    async def start(self, connection: Connection) -> WholeResponse:
        await super().start(connection)
        if self.status != 101:
            await self.read()
        return self


def new_client(*, reconnection: bool = False, local_address: str | None = None) -> Any:
    """An ``AsyncClient`` that leaves SIGINT alone, reads every response whole
    (:class:`WholeResponse`) and keeps cookies as a browser does, those of an IP
    address too, for the length of an Engine.IO connection.

    Args:
        reconnection: whether it reconnects, and then at once (0.1 s, then up
            to 0.5 s between attempts), not as slowly as by default.
        local_address: the address its connections come from (the system's
            choice by default).
    """
    delays = {"reconnection_delay": 0.1, "reconnection_delay_max": 0.5} if reconnection else {}
    local_addr = None if local_address is None else (local_address, 0)

    def http_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=local_addr),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            response_class=WholeResponse,
        )

    return socketio.AsyncClient(
        reconnection=reconnection,
        randomization_factor=0,
        handle_sigint=False,
        http_session=http_session,
        **delays,
    )


async def send_disconnect(sio: Any, namespace: str) -> None:
    """Send a ``DISCONNECT`` packet for ``namespace`` (the client has no API to
    leave one namespace and keep the others)."""
    await sio._send_packet(sio.packet_class(socketio.packet.DISCONNECT, namespace=namespace))


async def disconnect(sio: Any) -> None:
    """``AsyncClient.disconnect()``, once its ``DISCONNECT`` packets are out.

    The client queues the packets, then closes a WebSocket without waiting for
    its queue, so the server would see the transport close first (with
    python-engineio's server too) and give ``'transport close'``.
    """
    for namespace in sio.namespaces:
        await send_disconnect(sio, namespace)
    await sio.eio.queue.join()
    await sio.eio.disconnect()
