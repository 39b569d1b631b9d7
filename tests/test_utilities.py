"""The utility methods of ``AsyncServer``: queues, events, ids, modes, attach."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import engineio_sc
from engineio_sc import exceptions

from .asgi_client import ASGIClient

pytestmark = pytest.mark.anyio


async def test_queue() -> None:
    eio = engineio_sc.AsyncServer()
    queue = eio.create_queue()
    with pytest.raises(eio.get_queue_empty_exception()):
        queue.get_nowait()
    assert issubclass(eio.get_queue_empty_exception(), exceptions.EngineIOError)
    await queue.put(1)
    queue.put_nowait(2)
    assert (queue.qsize(), queue.empty(), queue.full()) == (2, False, False)
    assert [await queue.get(), queue.get_nowait()] == [1, 2]
    queue.task_done()
    queue.task_done()
    with pytest.raises(ValueError, match="task_done"):
        queue.task_done()
    with anyio.fail_after(1):
        await queue.join()


async def test_bounded_queue_waits_and_wakes() -> None:
    queue = engineio_sc.AsyncServer().create_queue(1)
    await queue.put("a")
    assert queue.full()
    with pytest.raises(anyio.WouldBlock):
        queue.put_nowait("b")
    got: list[Any] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(queue.put, "b")
        await anyio.wait_all_tasks_blocked()
        got.append(await queue.get())
        got.append(await queue.get())
    assert got == ["a", "b"]
    async with anyio.create_task_group() as tg:

        async def getter() -> None:
            got.append(await queue.get())

        tg.start_soon(getter)
        await anyio.wait_all_tasks_blocked()
        queue.put_nowait("c")
    assert got[-1] == "c"


async def test_cancelled_get_loses_nothing() -> None:
    queue = engineio_sc.AsyncServer().create_queue()
    with anyio.move_on_after(0.01):
        await queue.get()
    queue.put_nowait("kept")
    assert await queue.get() == "kept"


async def test_event() -> None:
    event = engineio_sc.AsyncServer().create_event()
    assert not event.is_set()
    event.set()
    assert await event.wait() is True
    event.clear()
    assert not event.is_set()
    async with anyio.create_task_group() as tg:
        tg.start_soon(event.wait)
        await anyio.wait_all_tasks_blocked()
        event.set()


async def test_generate_id_can_be_overridden() -> None:
    class Numbered(engineio_sc.AsyncServer):
        count = 0

        def generate_id(self) -> str:
            Numbered.count += 1
            return f"sid-{Numbered.count}"

    server = Numbered(close_timeout=0.2)
    async with server:
        sid, _ = await ASGIClient(engineio_sc.ASGIApp(server)).handshake()
    assert sid == "sid-1"
    default = engineio_sc.AsyncServer().generate_id()
    assert len(default) == 20
    assert default != engineio_sc.AsyncServer().generate_id()


def test_modes_and_attach() -> None:
    eio = engineio_sc.AsyncServer()
    assert eio.is_asyncio_based() is True
    assert eio.async_modes() == ["aiohttp", "sanic", "tornado", "asgi"]
    assert eio.async_mode == "asgi"
    with pytest.raises(ValueError, match="ASGIApp"):
        eio.attach(object())


def test_missing_framework_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tornado" else real(name, *a)
    )
    with pytest.raises(ValueError, match=r'pip install "engineio_sc\[tornado\]"'):
        engineio_sc.AsyncServer(async_mode="tornado")


async def test_handle_request_is_the_asgi_entry_point() -> None:
    server = engineio_sc.AsyncServer(close_timeout=0.2)
    async with server:
        response = await ASGIClient(server.handle_request).get("EIO=4&transport=polling")
    assert response.status == 200


def test_exception_tree() -> None:
    for name in (
        "ContentTooLongError",
        "UnknownPacketError",
        "QueueEmpty",
        "SocketIsClosedError",
        "ConnectionError",
        "ProtocolError",
    ):
        assert issubclass(getattr(exceptions, name), exceptions.EngineIOError)
