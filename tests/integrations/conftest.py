"""The framework examples (aiohttp, Sanic, Tornado) as subprocesses.

:func:`running_example` starts ``python -m examples.<name>`` on a free loopback
port, waits (with a deadline) until the port accepts connections, and on the way
out sends SIGINT and checks that the example exits by itself within
:data:`~tests.servers.EXIT_DEADLINE` seconds, with status 0 and no traceback in
its output (see :func:`tests.servers.running_server`).

Each ``test_<framework>.py`` names its example in ``FRAMEWORK``: the fixtures
below start that one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest

from ..servers import RunningServer, free_port, running_server

START_DEADLINE = 20.0
"""Seconds for an example to accept connections."""

PING_INTERVAL = 0.5
PING_TIMEOUT = 0.5
MAX_PAYLOAD = 10_000

EXAMPLE_ENV = {
    "EIO_HOST": "127.0.0.1",
    "EIO_PING_INTERVAL": str(PING_INTERVAL),
    "EIO_PING_TIMEOUT": str(PING_TIMEOUT),
    "EIO_MAX_PAYLOAD": str(MAX_PAYLOAD),
    "PYTHONUNBUFFERED": "1",
}


def running_example(name: str, **env: str) -> AbstractContextManager[RunningServer]:
    """``python -m examples.<name>`` on a free loopback port, stopped with SIGINT
    on the way out (failing the test unless it exits cleanly and in time).

    ``env`` overrides :data:`EXAMPLE_ENV`.
    """
    port = free_port()
    return running_server(
        name,
        [sys.executable, "-m", f"examples.{name}"],
        port=port,
        start_deadline=START_DEADLINE,
        env={**os.environ, **EXAMPLE_ENV, **env, "EIO_PORT": str(port)},
    )


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp and Sanic run on asyncio only, and Tornado does here."""
    return "asyncio"


@pytest.fixture(scope="module")
def framework(request: pytest.FixtureRequest) -> str:
    """The module's example: its ``FRAMEWORK``, e.g. ``aiohttp_echo``."""
    return str(request.module.FRAMEWORK)


@pytest.fixture(scope="module")
def example(framework: str) -> Iterator[RunningServer]:
    """The module's example, shared by its tests."""
    with running_example(framework) as server:
        yield server
