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


def new_client() -> Any:
    """An ``AsyncClient`` that does not reconnect, leaves SIGINT alone and reads
    every response whole (:class:`WholeResponse`)."""
    return socketio.AsyncClient(
        reconnection=False,
        handle_sigint=False,
        http_session=lambda: aiohttp.ClientSession(response_class=WholeResponse),
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
