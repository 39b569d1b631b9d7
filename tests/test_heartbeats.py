"""The server's one clock for every heartbeat (:class:`Heartbeats`): on trio's
virtual clock and on asyncio."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest

import engineio_sc
from engineio_sc._heartbeats import TICK, Heartbeats

from .asgi_client import ASGIClient

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


class FakeSession:
    """What the clock sees of a session: a deadline, and a record of its wake-ups."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.woken: list[float] = []

    def deadline_passed(self) -> None:
        self.woken.append(anyio.current_time())


@asynccontextmanager
async def running(heartbeats: Heartbeats) -> AsyncIterator[None]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeats.run)
        await anyio.lowlevel.checkpoint()
        yield
        tg.cancel_scope.cancel()


def slack(anyio_backend: Any) -> float:
    """How late a wake-up may come: the clock's tick, plus the event loop's own
    lateness in real time (asyncio)."""
    return TICK + (1e-9 if isinstance(anyio_backend, tuple) else 0.05)


async def test_wakes_each_session_at_its_deadline_never_early(anyio_backend: Any) -> None:
    heartbeats = Heartbeats()
    start = anyio.current_time()
    sessions = [FakeSession(start + delay) for delay in (0.3, 0.1, 0.2, 0.1)]
    async with running(heartbeats):
        for session in sessions:
            heartbeats.timer(session).schedule()
        await anyio.sleep(0.5)
    for session in sessions:
        assert session.deadline is not None
        assert len(session.woken) == 1
        assert session.deadline <= session.woken[0] <= session.deadline + slack(anyio_backend)


async def test_a_deadline_moved_later_does_not_wake_at_the_old_one(anyio_backend: Any) -> None:
    heartbeats = Heartbeats()
    start = anyio.current_time()
    session = FakeSession(start + 0.1)
    async with running(heartbeats):
        timer = heartbeats.timer(session)
        timer.schedule()
        session.deadline = start + 0.3  # a pong came: the next ping is later
        timer.schedule()
        await anyio.sleep(0.5)
    assert len(session.woken) == 1
    assert start + 0.3 <= session.woken[0] <= start + 0.3 + slack(anyio_backend)
    assert len(heartbeats) == 0


async def test_an_earlier_deadline_wakes_the_waiting_clock(anyio_backend: Any) -> None:
    heartbeats = Heartbeats()
    start = anyio.current_time()
    late, soon = FakeSession(start + 10), FakeSession(None)
    async with running(heartbeats):
        heartbeats.timer(late).schedule()
        await anyio.sleep(0.05)  # the clock waits for the late one
        soon.deadline = anyio.current_time() + 0.1
        heartbeats.timer(soon).schedule()
        await anyio.sleep(0.2)
    assert soon.deadline is not None
    assert soon.deadline <= soon.woken[0] <= soon.deadline + slack(anyio_backend)
    assert late.woken == []


async def test_no_deadline_is_never_woken() -> None:
    heartbeats = Heartbeats()
    session = FakeSession(None)
    async with running(heartbeats):
        heartbeats.timer(session).schedule()
        await anyio.sleep(1)
    assert session.woken == []
    assert len(heartbeats) == 0


async def test_a_cancelled_timer_neither_wakes_nor_keeps_its_session() -> None:
    heartbeats = Heartbeats()
    session = FakeSession(anyio.current_time() + 0.1)
    woken = session.woken
    gone = weakref.ref(session)
    async with running(heartbeats):
        timer = heartbeats.timer(session)
        timer.schedule()
        timer.cancel()
        del session
        gc.collect()
        assert gone() is None  # the heap holds the timer, not the session
        assert len(heartbeats) == 1
        await anyio.sleep(0.2)
    assert woken == []
    assert len(heartbeats) == 0


async def test_many_websocket_sessions_are_each_pinged_on_time(anyio_backend: Any) -> None:
    """200 sessions opened one after another: each one's pings come one interval
    after it opened, then after each of its pongs; a silent one is closed at its
    pong's deadline. One task keeps every deadline."""
    ping, timeout = 0.5, 0.25
    server = engineio_sc.AsyncServer(ping_interval=ping, ping_timeout=timeout)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    late: list[float] = []
    answered = 0

    async def session(index: int, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        nonlocal answered
        async with client.websocket("EIO=4&transport=websocket") as ws:
            await ws.opened()
            task_status.started()
            since = anyio.current_time()
            for _ in range(3):
                assert await ws.receive() == "2"
                now = anyio.current_time()
                late.append(now - since - ping)
                since = now
                await ws.send("3")
                answered += 1
            if index % 50 == 0:  # silent from now on: closed at the pong's deadline
                assert await ws.receive() == "2"
                pinged = anyio.current_time()
                assert await ws.receive() is None
                late.append(anyio.current_time() - pinged - timeout)

    with anyio.fail_after(60):
        async with server, anyio.create_task_group() as tg:
            for index in range(200):
                await tg.start(session, index)
                await anyio.sleep(0.001)
    assert answered == 600
    assert len(late) == 604
    assert min(late) >= -1e-9  # never early
    assert max(late) <= slack(anyio_backend) + (0 if isinstance(anyio_backend, tuple) else 0.1)


async def test_the_clock_ends_with_the_server() -> None:
    before = len(anyio.get_running_tasks())
    server = engineio_sc.AsyncServer(ping_interval=0.5, ping_timeout=0.25)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    with anyio.fail_after(10):
        async with server:
            async with client.websocket("EIO=4&transport=websocket") as ws:
                await ws.opened()
                assert await ws.receive() == "2"
            assert len(anyio.get_running_tasks()) > before
    assert not server.running
    assert len(anyio.get_running_tasks()) == before
