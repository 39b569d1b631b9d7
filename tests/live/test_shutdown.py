"""The server always stops: SIGTERM or SIGINT to a real server process with
open sessions, with and without an ASGI lifespan reaching the engine.

Each run opens a polling session with a held ``GET`` and a WebSocket session,
signals the server, then checks that the process exits within
``close_timeout + 2`` seconds, that the held poll is answered with the close
packet and the WebSocket closed normally, and that nothing was logged as an
error.

uvicorn runs its application in-process and tells it of the signal through
the handler the server chains onto uvicorn's; Hypercorn's workers hear of no
signal (the parent process takes it), so the engine learns of the shutdown when
Hypercorn cancels its requests at ``graceful_timeout``, and answers the held
poll then.
"""

from __future__ import annotations

import os
import re
import signal
import time

import anyio
import httpx
import pytest

from ..asgi_client import open_sid
from ..servers import BIN_DIR, RunningServer, application_log, running_server
from . import wsclient

pytestmark = pytest.mark.anyio

CLOSE_TIMEOUT = 2.0
EXIT_WITHIN = CLOSE_TIMEOUT + 2

SERVERS = {
    "uvicorn": ["uvicorn", "--host", "127.0.0.1", "--port", "0", "--log-level", "info"],
    "hypercorn-trio": ["hypercorn", "--worker-class", "trio", "--bind", "127.0.0.1:0"],
    "hypercorn-asyncio": ["hypercorn", "--worker-class", "asyncio", "--bind", "127.0.0.1:0"],
}
LISTENING = re.compile(r"(?:Running on|Uvicorn running on) http://127\.0\.0\.1:(\d+)\b")

CASES = [
    ("uvicorn", "engineio_app", signal.SIGTERM),
    ("uvicorn", "socketio_app", signal.SIGTERM),
    ("uvicorn", "socketio_app", signal.SIGINT),
    ("hypercorn-trio", "engineio_app", signal.SIGTERM),
    ("hypercorn-trio", "socketio_app", signal.SIGINT),
    ("hypercorn-asyncio", "engineio_app", signal.SIGINT),
    ("hypercorn-asyncio", "socketio_app", signal.SIGTERM),
]


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.mark.parametrize(
    ("server", "app", "signum"), CASES, ids=[f"{s}-{a}-{g.name}" for s, a, g in CASES]
)
async def test_a_signal_stops_the_server_and_closes_every_session(
    server: str, app: str, signum: signal.Signals
) -> None:
    executable, *args = SERVERS[server]
    command = [str(BIN_DIR / executable), f"tests.live.shutdown_app:{app}", *args]
    env = {**os.environ, "EIO_CLOSE_TIMEOUT": str(CLOSE_TIMEOUT)}
    with running_server(server, command, listening=LISTENING, start_deadline=15, env=env) as proc:
        with anyio.fail_after(EXIT_WITHIN + 5):
            poll_body, ws_close, elapsed = await _signal_with_open_sessions(proc, signum)
        status = await anyio.to_thread.run_sync(proc.wait_exit)
        log = application_log(proc.log.text)
        assert elapsed <= EXIT_WITHIN, f"exited {elapsed:.2f} s after the signal; log:\n{log}"
        assert status in (0, -signum), f"exit status {status}; log:\n{log}"  # uvicorn: -SIGTERM
        assert poll_body == "1", f"the held poll got {poll_body!r}; log:\n{log}"
        assert ws_close == 1000, f"the WebSocket closed with {ws_close}; log:\n{log}"
        assert "Traceback" not in log, log
        assert "ERROR" not in log, log


async def _signal_with_open_sessions(
    proc: RunningServer, signum: signal.Signals
) -> tuple[str, int | None, float]:
    """Open a polling session with a held GET and a WebSocket session, signal the
    server: what the held poll got, the WebSocket's close code, and the seconds
    from the signal to the process's exit."""
    url = f"{proc.url}/engine.io/"
    async with httpx.AsyncClient(timeout=EXIT_WITHIN + 5) as http:
        opened = await http.get(url, params={"EIO": "4", "transport": "polling"})
        sid = open_sid(opened.text)
        poll_body = ""

        async def held_poll() -> None:
            nonlocal poll_body
            try:
                query = {"EIO": "4", "transport": "polling", "sid": sid}
                answer = await http.get(url, params=query)
            except httpx.HTTPError as exc:
                poll_body = f"{type(exc).__name__}: {exc}"
            else:
                poll_body = answer.text if answer.status_code == 200 else str(answer.status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(held_poll)
            ws_url = f"{proc.ws_url}/engine.io/?EIO=4&transport=websocket"
            async with wsclient.connect(ws_url) as ws:
                assert str(await ws.receive()).startswith("0")  # its open packet
                started = time.monotonic()
                proc.signal(signum)
                assert await ws.receive() is None
                ws_close = ws.close_code
        await anyio.to_thread.run_sync(proc.process.wait, EXIT_WITHIN + 5)
        return poll_body, ws_close, time.monotonic() - started
