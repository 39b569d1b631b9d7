"""The aiohttp adapter: examples/aiohttp_echo.py in a subprocess, with real clients.

aiohttp is asyncio only, so these tests run on asyncio.
"""

from __future__ import annotations

import anyio
import pytest
from aiohttp import web

import engineio_sc
import engineio_sc.aiohttp

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

FRAMEWORK = "aiohttp_echo"
"""The example under test: the conftest's ``example`` fixture runs it."""


class TestAiohttp(EngineIOScenarios, MountedAtAPath):
    """The scenarios every framework passes, and those of a framework mounted at
    a path that reads a body as it comes."""


async def test_startup_and_cleanup_in_different_tasks() -> None:
    """The server's task group opens at start-up and closes at clean-up even when
    they run in different tasks (as test fixtures run them)."""
    eio = engineio_sc.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    eio.attach(app)
    runner = web.AppRunner(app)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.setup)
        assert eio.running
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.cleanup)
        assert not eio.running


async def test_program_owned_server() -> None:
    """With ``async with eio:`` around the application, start-up leaves the
    server to the program and shut-down only closes it (its sessions end before
    aiohttp waits for requests); the program's ``async with`` then ends cleanly."""
    eio = engineio_sc.AsyncServer()
    app = web.Application()
    engineio_sc.aiohttp.attach(eio, app, engineio_path="/custom/")
    assert {resource.canonical for resource in app.router.resources()} == {"/custom/", "/custom"}
    runner = web.AppRunner(app)
    with anyio.fail_after(DEADLINE):
        async with eio:
            await runner.setup()
            assert eio.running
            await runner.cleanup()
            assert not eio.running
        assert not eio.running


def test_import_error_names_the_extra() -> None:
    check_import_error("aiohttp", "aiohttp")


def test_package_does_not_import_aiohttp() -> None:
    check_not_imported_by_package("aiohttp")


async def test_poll_ends_when_its_client_leaves() -> None:
    """aiohttp does not tell a handler that its client left: the adapter looks
    at the connection every DISCONNECT_CHECK_INTERVAL seconds."""
    probe = PollProbe()
    app = web.Application()
    engineio_sc.aiohttp.attach(probe, app)
    runner = web.AppRunner(app)
    with anyio.fail_after(DEADLINE):
        await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        with anyio.fail_after(DEADLINE):
            await site.start()
        port = runner.addresses[0][1]
        elapsed = await check_poll_ends_when_its_client_leaves(probe, port)
        assert elapsed < engineio_sc.aiohttp.DISCONNECT_CHECK_INTERVAL + 0.5
    finally:
        with anyio.fail_after(DEADLINE):
            await runner.cleanup()
    assert not probe.running
