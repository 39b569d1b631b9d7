"""The Tornado adapter: examples/tornado_echo.py in a subprocess, with real clients.

Tornado is asyncio only here, so these tests run on asyncio.
"""

from __future__ import annotations

import anyio
import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web

from engineio_sc.tornado import get_tornado_handler

from ..servers import RunningServer
from .scenarios import (
    DEADLINE,
    EngineIOScenarios,
    PollProbe,
    check_import_error,
    check_not_imported_by_package,
    check_poll_ends_when_its_client_leaves,
    http_client,
)

pytestmark = pytest.mark.anyio

FRAMEWORK = "tornado_echo"
"""The example under test: the conftest's ``example`` fixture runs it."""


class TestTornado(EngineIOScenarios):
    """The scenarios every framework passes."""


async def test_only_the_mounted_path(example: RunningServer) -> None:
    """The handler serves where it is mounted (``/engine.io/``) and nowhere else."""
    with anyio.fail_after(DEADLINE):
        async with http_client(example) as http:
            response = await http.get("/engine.io", params={"EIO": "4", "transport": "polling"})
            assert response.status_code == 404


async def test_poll_ends_when_its_client_leaves() -> None:
    """Tornado tells the handler (on_close) when its client leaves."""
    probe = PollProbe()
    app = tornado.web.Application([(r"/engine.io/", get_tornado_handler(probe))])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    try:
        async with probe:
            elapsed = await check_poll_ends_when_its_client_leaves(probe, port)
        assert elapsed < 1.0
    finally:
        server.stop()
        with anyio.fail_after(DEADLINE):
            await server.close_all_connections()


def test_import_error_names_the_extra() -> None:
    check_import_error("tornado", "tornado")


def test_package_does_not_import_tornado() -> None:
    check_not_imported_by_package("tornado")
