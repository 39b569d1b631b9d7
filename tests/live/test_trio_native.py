"""A trio program that runs the server, Hypercorn and the clients in one nursery tree."""

from __future__ import annotations

import httpx
import pytest
import trio
from hypercorn.trio import serve
from trio_websocket import open_websocket_url

import engineio_sc

from ..asgi_client import open_sid, session_ids
from .conftest import hypercorn_config, listening_socket, task_count


@pytest.mark.trio
async def test_trio_program_serves_and_shuts_down_cleanly() -> None:
    baseline = task_count()
    eio = engineio_sc.AsyncServer(ping_interval=0.5, ping_timeout=0.5, close_timeout=0.5)
    closed: list[str] = []

    @eio.on("message")
    async def message(sid: str, data: str | bytes) -> None:
        await eio.send(sid, data)

    @eio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        closed.append(reason)

    sock = listening_socket()
    port = sock.getsockname()[1]
    config = hypercorn_config(sock)
    stop = trio.Event()
    url = f"127.0.0.1:{port}/engine.io/?EIO=4"
    with trio.fail_after(20):
        async with eio, trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: serve(engineio_sc.ASGIApp(eio), config, shutdown_trigger=stop.wait)
            )
            async with open_websocket_url(f"ws://{url}&transport=websocket") as ws:
                await ws.get_message()
                await ws.send_message("4trio")
                assert await ws.get_message() == "4trio"
                await ws.send_message(b"\x00\x01")
                assert await ws.get_message() == b"\x00\x01"
            async with httpx.AsyncClient() as http:
                handshake = await http.get(f"http://{url}&transport=polling")
                assert handshake.status_code == 200
                sid = open_sid(handshake.text)
                task = eio.start_background_task(trio.sleep_forever)
                await eio.send(sid, "queued before shutdown")
                async with trio.open_nursery() as inner:
                    inner.start_soon(eio.shutdown)
                    poll = await http.get(f"http://{url}&transport=polling&sid={sid}")
                    assert poll.text == "4queued before shutdown\x1e1"
            assert task.cancelled()
            assert not eio.running
            assert session_ids(eio) == set()
            stop.set()
    assert sorted(closed) == ["server disconnect", "transport close"]
    assert task_count() == baseline
