"""Real servers on loopback ports: Hypercorn (trio and asyncio workers) and uvicorn."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import hypercorn.asyncio
import hypercorn.trio
import pytest
import trio
import uvicorn
from hypercorn.config import Config

SERVERS = [("hypercorn", "trio"), ("hypercorn", "asyncio"), ("uvicorn", "asyncio")]

Serve = Callable[[Any], AbstractAsyncContextManager[str]]


@pytest.fixture(params=SERVERS, ids=["hypercorn-trio", "hypercorn-asyncio", "uvicorn-asyncio"])
def server_kind(request: pytest.FixtureRequest) -> tuple[str, str]:
    name, backend = request.param
    return name, backend


@pytest.fixture
def anyio_backend(server_kind: tuple[str, str]) -> str:
    return server_kind[1]


def listening_socket() -> socket.socket:
    """A TCP socket listening on a free loopback port."""
    # With the protocol named, asyncio's transports turn Nagle's algorithm off on
    # the accepted connections (it checks the protocol of the socket); with the
    # default 0, uvicorn on asyncio's own loop answers keep-alive requests ~40 ms late.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def hypercorn_config(sock: socket.socket) -> Config:
    """Hypercorn's configuration for serving on ``sock`` (Hypercorn then owns and
    closes it), with no access log."""
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.graceful_timeout = 2
    config.accesslog = None
    return config


def task_count() -> int:
    """How many tasks the running trio program has, for checking that it leaves
    none behind."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return count(root)


@asynccontextmanager
async def _hypercorn(app: Any, backend: str, sock: socket.socket) -> AsyncIterator[None]:
    config = hypercorn_config(sock)
    stop = anyio.Event()
    serve = hypercorn.trio.serve if backend == "trio" else hypercorn.asyncio.serve
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: serve(app, config, shutdown_trigger=stop.wait))
        try:
            yield
        finally:
            stop.set()


@asynccontextmanager
async def _uvicorn(app: Any, sock: socket.socket) -> AsyncIterator[None]:
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        try:
            yield
        finally:
            server.should_exit = True


@pytest.fixture
def serve(server_kind: tuple[str, str]) -> Serve:
    """``async with serve(app) as url:`` runs ``app`` on a real server on loopback."""

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[str]:
        sock = listening_socket()
        port = sock.getsockname()[1]
        with anyio.fail_after(30), sock:
            name, backend = server_kind
            server = _hypercorn(app, backend, sock) if name == "hypercorn" else _uvicorn(app, sock)
            async with server:
                yield f"http://127.0.0.1:{port}"

    return run
