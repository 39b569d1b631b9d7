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


# -- a layer's tasks in a session's group ---------------------------------------------------


async def test_a_session_task_runs_until_the_session_winds_down() -> None:
    events: list[tuple[str, float]] = []
    cancelled = anyio.Event()

    async def task() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            events.append(("cancelled", anyio.current_time() - start))
            cancelled.set()

    async with served(close_timeout=0.5) as (server, client):
        server.on("disconnect", lambda sid, reason: events.append((reason, 0)))
        sid, _ = await client.handshake()
        start = anyio.current_time()
        assert server.start_session_task(sid, task)
        await anyio.wait_all_tasks_blocked()
        assert events == []  # it runs on, outside any request
        await server.send(sid, "undelivered")
        await server.disconnect(sid)  # the queue is not taken: the wind-down lasts close_timeout
        await cancelled.wait()
        assert server.running  # the server goes on
        assert not server.start_session_task(sid, task)
    assert [reason for reason, _ in events] == ["server disconnect", "cancelled"]
    assert 0.5 <= events[1][1] < 0.6


async def test_a_session_task_that_ends_leaves_the_session_be() -> None:
    done = anyio.Event()

    async def task() -> None:
        await anyio.sleep(0.2)
        done.set()

    async with served() as (server, client):
        sid, _ = await client.handshake()
        assert server.start_session_task(sid, task)
        await done.wait()
        await anyio.wait_all_tasks_blocked()
        assert server.session_statistics(sid).state == "open"


async def test_a_session_task_failing_is_logged_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fail() -> None:
        await anyio.lowlevel.checkpoint()
        raise RuntimeError("boom")

    async with (
        served() as (server, client),
        client.websocket("EIO=4&transport=websocket") as ws,
    ):
        server.on("message", server.send)
        sid = await ws.opened()
        assert server.start_session_task(sid, fail)
        await anyio.wait_all_tasks_blocked()
        assert f"{sid}: a session task failed" in caplog.text
        assert "RuntimeError: boom" in caplog.text
        await ws.send("4still here")
        assert await ws.receive() == "4still here"


async def test_session_tasks_of_a_websocket_session_end_with_it() -> None:
    cancelled = anyio.Event()

    async def task() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with served() as (server, client):
        async with client.websocket("EIO=4&transport=websocket") as ws:
            sid = await ws.opened()
            assert server.start_session_task(sid, task)
            await anyio.wait_all_tasks_blocked()
            assert not cancelled.is_set()
        await cancelled.wait()  # the client went: so did the task
        assert server.running


async def test_no_session_task_for_an_unknown_sid() -> None:
    ran: list[int] = []

    async def task() -> None:
        ran.append(1)

    async with served() as (server, _):
        assert server.start_session_task("no-such-sid", task) is False
        await anyio.wait_all_tasks_blocked()
    assert ran == []
