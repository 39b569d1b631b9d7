"""The Sanic adapter: examples/sanic_echo.py in a subprocess, with real clients.

Sanic is asyncio only, so these tests run on asyncio.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from sanic import Sanic

import engineio_sc
import engineio_sc.sanic
from engineio_sc._frameworks import WS_SIZE_MARGIN

from ..servers import free_port
from .scenarios import (
    DEADLINE,
    EngineIOScenarios,
    MountedAtAPath,
    PollProbe,
    check_import_error,
    check_not_imported_by_package,
    check_poll_ends_when_its_client_leaves,
)

pytestmark = pytest.mark.anyio

FRAMEWORK = "sanic_echo"
"""The example under test: the conftest's ``example`` fixture runs it."""


class TestSanic(EngineIOScenarios, MountedAtAPath):
    """The scenarios every framework passes, and those of a framework mounted at
    a path that reads a body as it comes."""


async def test_poll_ends_when_its_client_leaves() -> None:
    """Sanic cancels the request when its client leaves, which ends the poll.

    In-process, the listeners run as Sanic runs them, each in a task of its own:
    before_server_start opens the server, before/after_server_stop close it.
    """
    probe = PollProbe(max_http_buffer_size=5_000_000)
    app = Sanic("engineio_sc_poll_probe")
    engineio_sc.sanic.attach(probe, app)
    assert app.config.WEBSOCKET_MAX_SIZE == 5_000_000 + WS_SIZE_MARGIN  # raised from 1 MiB
    port = free_port()
    # Sanic's AsyncioServer leaves its methods untyped.
    server: Any = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    with anyio.fail_after(DEADLINE):
        await server.startup()
        await server.before_start()
        assert probe.running
        await server.start_serving()
    try:
        elapsed = await check_poll_ends_when_its_client_leaves(probe, port)
        assert elapsed < 1.0
    finally:
        with anyio.fail_after(DEADLINE):
            await server.before_stop()
            assert not probe.running
            closing = server.close()
            if closing is not None:
                await closing
            await server.after_stop()
    assert not probe.running


def test_import_error_names_the_extra() -> None:
    check_import_error("sanic", "sanic")


def test_package_does_not_import_sanic() -> None:
    check_not_imported_by_package("sanic")
