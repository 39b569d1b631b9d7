"""The engine's API for a layer above it (Socket.IO): packets sent in a row,
queued without waiting for a broadcast, room in a session's queue, and a
session's transport and state."""

from __future__ import annotations

from types import SimpleNamespace

import anyio
import pytest

from engineio_sc import Packet, PacketType
from engineio_sc.exceptions import QueueFullError

from .asgi_client import polling, served

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


def message(data: str | bytes) -> Packet:
    return Packet(PacketType.MESSAGE, data)


async def test_packets_in_a_row_on_polling() -> None:
    async with served() as (server, client):
        sid, _ = await client.handshake()
        foreign = SimpleNamespace(packet_type=4, data={"a": 1})  # python-engineio's shape
        await server.send_packets(sid, [message("2-event"), message(b"\x01\x02"), foreign])
        response = await client.get(polling(sid))
        assert response.packets == ["42-event", "bAQI=", '4{"a":1}']
        assert server.statistics().messages_out == 3


async def test_packets_in_a_row_on_websocket() -> None:
    async with (
        served() as (server, client),
        client.websocket("EIO=4&transport=websocket") as ws,
    ):
        sid = await ws.opened()
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.send_packets, sid, [message("a"), message("b")])
            tg.start_soon(server.send, sid, "c")
        received = [await ws.receive() for _ in range(3)]
        assert received in (["4a", "4b", "4c"], ["4c", "4a", "4b"])


async def test_packets_queued_without_waiting_only_when_all_fit() -> None:
    async with served(max_queue_size=3) as (server, client):
        sid, _ = await client.handshake()
        assert server.send_packets_nowait(sid, [message("1"), message("2")])
        assert server.session_statistics(sid).room == 1
        with pytest.raises(QueueFullError, match="no room for 2 packets"):
            server.send_packets_nowait(sid, [message("3"), message("4")])
        response = await client.get(polling(sid))
        assert response.packets == ["41", "42"]  # nothing of the refused pair
        assert not server.send_packets_nowait("no-such-sid", [message("x")])


async def test_waiting_for_room_ends_when_the_queue_drains() -> None:
    async with served(max_queue_size=2) as (server, client):
        sid, _ = await client.handshake()
        assert server.send_packets_nowait(sid, [message("1"), message("2")])
        waited = anyio.Event()

        async def wait() -> None:
            await server.wait_for_room(sid, 2)
            waited.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.wait_all_tasks_blocked()
            assert not waited.is_set()
            response = await client.get(polling(sid))
            assert response.packets == ["41", "42"]
        assert server.session_statistics(sid).room == 2
        await server.wait_for_room("no-such-sid")  # returns at once


async def test_waiting_for_room_ends_when_the_session_closes() -> None:
    async with served(max_queue_size=1) as (server, client):
        sid, _ = await client.handshake()
        assert server.send_packets_nowait(sid, [message("1")])
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.wait_for_room, sid)
            await anyio.wait_all_tasks_blocked()
            await server.disconnect(sid)


async def test_session_statistics_tell_transport_and_state() -> None:
    async with served(max_queue_size=4) as (server, client):
        sid, _ = await client.handshake()
        await server.send(sid, "x")
        stats = server.session_statistics(sid)
        assert (stats.sid, stats.transport, stats.state) == (sid, "polling", "open")
        assert (stats.queued, stats.room) == (1, 3)
        async with client.websocket("EIO=4&transport=websocket") as ws:
            ws_sid = await ws.opened()
            assert server.session_statistics(ws_sid).transport == "websocket"
        with pytest.raises(KeyError):
            server.session_statistics("no-such-sid")


async def test_more_packets_than_the_queue_holds_are_refused() -> None:
    async with served(max_queue_size=2) as (server, client):
        sid, _ = await client.handshake()
        with pytest.raises(ValueError, match="more than max_queue_size"):
            await server.send_packets(sid, [message("1"), message("2"), message("3")])
