"""Two servers in one process, on trio and on asyncio, each with an
:class:`~engineio_sc.socketio.AsyncRedisManager` on a real Redis, and raw clients of
their ASGI apps: emits and ``call()`` cross from one to the other, and the
listener (with every task of coredis) ends with its server. A server whose Redis
is unreachable serves its own clients, reports it once, and stops at once."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from itertools import count

import anyio
import pytest
import sniffio

from engineio_sc import socketio

from ..live.conftest import task_count
from ..servers import free_port
from ..socketio.test_wire import Raw, raw, serving
from .conftest import RedisServer, needs_redis

pytestmark = [pytest.mark.anyio, needs_redis]

DEADLINE = 10.0
PROBE_WAIT = 0.2
"""Seconds a probe waits to be delivered before the next is sent (the other
server may not be subscribed yet)."""


def running_tasks() -> int:
    if sniffio.current_async_library() == "trio":
        return task_count()
    return len(asyncio.all_tasks())


def make_server(url: str) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        client_manager=socketio.AsyncRedisManager(url), ping_interval=3600, close_timeout=0.2
    )
    sio.on("whoami", lambda sid: sid)
    return sio


@asynccontextmanager
async def client_of(sio: socketio.AsyncServer) -> AsyncIterator[tuple[Raw, str]]:
    """A raw WebSocket client of ``sio``, in ``'/'``, and its sid."""
    async with serving(sio, fail_after=DEADLINE) as client, raw(client) as ws:
        yield ws, await ws.connect()


async def received_probe(sio: socketio.AsyncServer, ws: Raw) -> list[str | bytes | None]:
    """Emit probes from ``sio`` to everyone until ``ws`` (of another server) gets
    the last one sent; what else it got meanwhile (earlier probes left out)."""
    others: list[str | bytes | None] = []
    for n in count():
        await sio.emit("probe", n)
        with anyio.move_on_after(PROBE_WAIT):
            while (message := await ws.receive()) != f'42["probe",{n}]':
                if not (isinstance(message, str) and message.startswith('42["probe",')):
                    others.append(message)
            return others
    raise AssertionError("unreachable")


async def test_emits_and_calls_cross_servers(redis_server: RedisServer) -> None:
    before = running_tasks()
    one, two = make_server(redis_server.url), make_server(redis_server.url)
    with anyio.fail_after(DEADLINE):
        async with serving(one, fail_after=DEADLINE), client_of(two) as (ws, sid):
            assert await received_probe(one, ws) == []
            await one.emit("bytes", (b"\x00\xff", {"n": 1}), to=sid)
            assert await ws.receive() == '451-["bytes",{"_placeholder":true,"num":0},{"n":1}]'
            assert await ws.receive() == b"\x00\xff"
            async with anyio.create_task_group() as tg:
                answer: list[object] = []

                async def ask() -> None:
                    answer.append(await one.call("question", 21, to=sid, timeout=DEADLINE))

                tg.start_soon(ask)
                question = await ws.receive()
                assert isinstance(question, str)
                match = re.fullmatch(r'42(\d+)\["question",21\]', question)
                assert match, question
                await ws.send(f"43{match[1]}[42]")
            assert answer == [42]
            await one.disconnect(sid)
            assert await ws.receive() == "41"
    assert running_tasks() == before


@pytest.fixture
def failed_connections() -> Iterator[None]:
    """coredis (6.9) leaves the memory streams of a connection that could not
    connect unclosed, and Python warns of each when it collects them (a
    ``ResourceWarning``, ignored by default): the test that fails connections
    ignores them (its mark), and they are collected before it ends."""
    yield
    gc.collect()


@pytest.mark.usefixtures("failed_connections")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_an_unreachable_redis_is_reported_once_and_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="engineio_sc.socketio.redis")
    before = running_tasks()
    sio = make_server(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with anyio.fail_after(DEADLINE):
        async with client_of(sio) as (ws, sid):
            for n in range(5):
                await sio.emit("local", n)
                assert await ws.receive() == f'42["local",{n}]'
            await ws.send('421["whoami"]')
            assert await ws.receive() == f'431["{sid}"]'
    assert running_tasks() == before
    reports = [record for record in caplog.records if record.name == "engineio_sc.socketio.redis"]
    assert [record.levelname for record in reports] == ["WARNING"], caplog.text
    assert "is unreachable" in reports[0].getMessage()


async def test_a_frozen_redis_holds_an_emit_up_a_second_at_most(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops answering (SIGSTOP): the first emit gives up after the
    ``stream_timeout`` of a second, the next ones do not wait at all, and once it
    answers again emits cross servers again; one warning, one INFO line."""
    caplog.set_level(logging.INFO, logger="engineio_sc.socketio.redis")
    one, two = make_server(redis_server.url), make_server(redis_server.url)
    with anyio.fail_after(DEADLINE * 2):
        async with serving(one, fail_after=DEADLINE * 2), client_of(two) as (ws, _):
            assert await received_probe(one, ws) == []
            redis_server.pause()
            try:
                waits = []
                for n in range(3):
                    started = anyio.current_time()
                    await one.emit("frozen", n)
                    waits.append(anyio.current_time() - started)
            finally:
                redis_server.resume()
            assert 0.9 < waits[0] < 1.5, waits
            assert max(waits[1:]) < 0.1, waits
            late = await received_probe(one, ws)
            # the first reached Redis before it froze (and came once); the others were dropped
            assert set(late) <= {'42["frozen",0]'}, late
    reports = [record for record in caplog.records if record.name == "engineio_sc.socketio.redis"]
    assert [record.levelname for record in reports] == ["WARNING", "INFO"], caplog.text
