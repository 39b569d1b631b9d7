"""The example echo server as a subprocess, under each supported ASGI server.

The ``echo_server`` fixture starts ``examples/echo.py`` on a loopback port chosen
by the OS, learns the port from the server's log line, and on teardown checks
that the server exits by itself within :data:`~tests.servers.EXIT_DEADLINE`
seconds of a SIGINT (a hung shutdown is a bug), with status 0 and no traceback
in its log (see :func:`tests.servers.running_server`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from ..servers import BIN_DIR, RunningServer, running_server

START_DEADLINE = 15.0
"""Seconds for the server to log the address it listens on."""

SERVER_ENV = {"EIO_PING_INTERVAL": "0.5", "EIO_PING_TIMEOUT": "0.5"}

SERVERS: dict[str, list[str]] = {
    "hypercorn-trio": [
        "hypercorn",
        "examples.echo:app",
        "--worker-class",
        "trio",
        "--bind",
        "127.0.0.1:0",
    ],
    "hypercorn-asyncio": ["hypercorn", "examples.echo:app", "--bind", "127.0.0.1:0"],
    "uvicorn": ["uvicorn", "examples.echo:app", "--host", "127.0.0.1", "--port", "0"],
}

# hypercorn: "[...] [INFO] Running on http://127.0.0.1:PORT (CTRL + C to quit)"
# uvicorn:   "INFO:     Uvicorn running on http://127.0.0.1:PORT (Press CTRL+C to quit)"
LISTENING = re.compile(r"(?:Running on|Uvicorn running on) http://127\.0\.0\.1:(\d+)\b")


@pytest.fixture(params=list(SERVERS))
def echo_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """``examples.echo:app`` under hypercorn (trio), hypercorn (asyncio) or uvicorn."""
    name = str(request.param)
    executable, *args = SERVERS[name]
    env = {**os.environ, **SERVER_ENV}
    env.pop("EIO_MAX_PAYLOAD", None)
    command = [str(BIN_DIR / executable), *args]
    with running_server(
        name, command, listening=LISTENING, start_deadline=START_DEADLINE, env=env
    ) as server:
        yield server
