"""The server's task group: who hosts it, and how a stop signal shuts it down.

In process, on trio's virtual clock and on asyncio. The real servers are in
``tests/live/test_shutdown.py``.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

import anyio
import pytest

import engineio_sc

from .asgi_client import ASGIClient, lifespan, pending, polling

pytestmark = pytest.mark.anyio


@contextmanager
def asgi_server_handler() -> Iterator[list[int]]:
    """SIGTERM handled as an ASGI server handles it (a Python handler that
    records it), for the length of the block; the signals it got."""
    received: list[int] = []

    def handler(number: int, frame: FrameType | None) -> None:
        received.append(number)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_the_first_request_ends_while_a_task_of_its_own_hosts_the_server() -> None:
    server = engineio_sc.AsyncServer(close_timeout=0.2)
    client = ASGIClient(engineio_sc.ASGIApp(server))  # each call awaits the app to its end
    assert not server.running
    sid, _ = await client.handshake()  # returned: no request holds the group
    assert server.running
    assert (await client.post(polling(sid), "4hi")).text == "ok"
    with anyio.fail_after(5):
        await server.shutdown()
    assert not server.running
    late = await client.get("EIO=4&transport=polling")
    assert (late.status, late.json()["message"]) == (503, "Server shutting down")


@asynccontextmanager
async def hosted(how: str, server: engineio_sc.AsyncServer) -> AsyncIterator[ASGIClient]:
    """A client of ``server``, opened by the ASGI lifespan or by its first request."""
    app = engineio_sc.ASGIApp(server)
    async with anyio.create_task_group() as tg:
        client = ASGIClient(app, host=tg)
        if how == "lifespan":
            async with lifespan(app):
                yield client
        else:
            yield client


@pytest.mark.parametrize("how", ["lifespan", "first request"])
async def test_a_stop_signal_closes_every_session_before_the_asgi_server_hears_it(
    how: str,
) -> None:
    server = engineio_sc.AsyncServer(ping_interval=60, close_timeout=0.5)
    disconnected: list[str] = []
    server.on("disconnect", lambda sid, reason: disconnected.append(reason))
    with anyio.fail_after(5), asgi_server_handler() as received:
        async with hosted(how, server) as client:
            sid, _ = await client.handshake()
            async with pending(lambda: client.get(polling(sid))) as poll:
                signal.raise_signal(signal.SIGTERM)
            assert poll.response.packets == ["1"]  # the held poll gets the close packet
            assert received == [signal.SIGTERM]  # and the ASGI server its signal
            await anyio.wait_all_tasks_blocked()
            assert not server.running
            assert disconnected == ["server disconnect"]
            refused = await client.get("EIO=4&transport=polling")
            assert refused.status == 503
        assert signal.getsignal(signal.SIGTERM) is not None
    assert not server.running


async def test_the_chained_handler_is_removed_when_the_server_stops() -> None:
    server = engineio_sc.AsyncServer(close_timeout=0.2)
    with asgi_server_handler():
        installed = signal.getsignal(signal.SIGTERM)
        async with hosted("lifespan", server) as client:
            await client.handshake()
            assert signal.getsignal(signal.SIGTERM) is not installed  # chained
        assert signal.getsignal(signal.SIGTERM) is installed


async def test_a_signal_left_to_its_default_or_ignored_is_not_taken_over() -> None:
    previous: dict[signal.Signals, Any] = {}
    for signum, disposition in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.SIG_IGN)):
        previous[signum] = signal.signal(signum, disposition)
    try:
        server = engineio_sc.AsyncServer(close_timeout=0.2)
        async with hosted("lifespan", server) as client:
            await client.handshake()
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def test_a_program_that_runs_the_server_itself_keeps_its_signals() -> None:
    """``async with eio:`` in a program of one's own: the program decides what
    a signal does (see the trio how-to), the server chains nothing."""
    server = engineio_sc.AsyncServer(close_timeout=0.2)
    with asgi_server_handler():
        installed = signal.getsignal(signal.SIGTERM)
        async with server, hosted("lifespan", server) as client:
            await client.handshake()
            assert signal.getsignal(signal.SIGTERM) is installed
