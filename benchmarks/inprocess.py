"""In-process benchmark: one application's own cost per operation, with no server or network.

The application is called as an ASGI server would call it, from the same process,
so what is measured is the application (and this small harness) alone: no
sockets, no HTTP or WebSocket parsing, no load generator sharing the cores. From
the repository root::

    python benchmarks/inprocess.py ws-echo eio_sc                    # µs per echoed message
    python benchmarks/inprocess.py poll-echo pyeio --ops 5000
    python benchmarks/inprocess.py sessions eio_sc --backend trio
    python benchmarks/inprocess.py tasks eio_sc                      # µs per background task
    python benchmarks/inprocess.py ws-echo eio_sc --instructions     # under valgrind

Scenarios: ``ws-echo`` (one WebSocket session, a 100-character message in and its
echo out), ``poll-echo`` (one polling session, a ``POST`` of a message then
``GET`` requests until its echo comes back), ``sessions`` (a WebSocket session
opened, its open packet read, and closed by the client), ``tasks`` (a task started
with the Engine.IO server's ``start_background_task``, given a done callback and
awaited, as python-socketio does for each event it receives; ``eio_sc`` and
``pyeio`` only), ``ping`` (100 WebSocket sessions pinged by the server as often as it may, every
ping answered at once: the heartbeat's cost per ping-pong cycle; ``eio_sc`` and
``pyeio`` only), ``sio-echo`` (a Socket.IO event and its acknowledgement over
WebSocket; the Socket.IO apps only: ``sio_native``, python-socketio on engineio_sc
``sio_sc``, and on python-engineio ``sio_pyeio``). Applications are those of
``benchmarks/apps``; python-engineio and python-socketio run on asyncio only.

Wall-clock figures move with the machine. ``--instructions`` runs the same
scenario twice under ``valgrind --tool=callgrind``, with ``--ops`` operations and
with none (and ``PYTHONHASHSEED=0``: the order of sets and dicts of strings is then
the same on every run), and prints the difference per operation: the same count on
every run of the same code, whatever else the machine is doing, so it tells a
change of a few percent from noise. Compare counts taken on one machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import trio

APPS_DIR = Path(__file__).resolve().parent / "apps"
APPS = {
    "eio_sc": "eio_sc_echo",
    "pyeio": "pyeio_echo",
    "bare": "bare_echo",
    "sio_native": "sio_native",
    "sio_sc": "sio_sc",
    "sio_pyeio": "sio_pyeio",
}
SOCKETIO_APPS = ("sio_native", "sio_sc", "sio_pyeio")
SCENARIOS = ("ws-echo", "poll-echo", "sessions", "sio-echo", "tasks", "ping")
PING_INTERVAL = "0.0001"  # seconds: the ping scenario's server pings as soon as it may
PING_SESSIONS = 100  # sessions of the ping scenario, pinged side by side

Message = dict[str, Any]
App = Callable[
    [dict[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

MESSAGE = "x" * 100
GAP = 3  # event-loop turns between a polling echo's POST and its GET
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"inprocess"), (b"accept", b"*/*")]
WS_HEADERS = [*HEADERS, (b"connection", b"Upgrade"), (b"upgrade", b"websocket")]
POST_HEADERS = [*HEADERS, (b"content-type", b"text/plain;charset=UTF-8")]


def _scope(
    kind: str, method: str, query: str, headers: list[tuple[bytes, bytes]], path: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "ws" if kind == "websocket" else "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
    }


Put = Callable[[Message], None]
Get = Callable[[], Awaitable[Message]]


def _channel(backend: str) -> tuple[Put, Get]:
    """A queue of messages of the kind the ASGI servers use on ``backend``:
    ``asyncio.Queue`` (Hypercorn's asyncio worker) or a trio memory channel."""
    if backend == "trio":
        put, get = trio.open_memory_channel[Message](math.inf)
        return put.send_nowait, get.receive
    queue: asyncio.Queue[Message] = asyncio.Queue()
    return queue.put_nowait, queue.get


class Harness:
    """Calls the application as an ASGI server would, inside a lifespan."""

    def __init__(
        self,
        app: App,
        server: Any,
        engineio: bool,
        backend: str,
        tg: anyio.abc.TaskGroup,
        path: str,
    ) -> None:
        self.app = app
        self.server = server  # the Engine.IO server behind the app, if the app names it eio
        self.path = path
        self.backend = backend
        self.engineio = engineio  # speaks Engine.IO (the bare echo's WebSocket does not)
        self.tg = tg

    async def websocket(
        self,
    ) -> tuple[Put, Get, anyio.Event]:
        """Open a WebSocket session: (put a message for the app, take one from it, ended)."""
        put, receive = _channel(self.backend)
        app_out, take = _channel(self.backend)

        async def send(message: Message) -> None:
            app_out(message)

        ended = anyio.Event()
        scope = _scope("websocket", "GET", "EIO=4&transport=websocket", WS_HEADERS, self.path)

        async def serve() -> None:
            await self.app(scope, receive, send)
            ended.set()

        put({"type": "websocket.connect"})
        self.tg.start_soon(serve)
        accepted = await take()
        assert accepted["type"] == "websocket.accept", accepted
        if self.engineio:
            opened = await take()
            assert opened["text"].startswith("0"), opened
        return put, take, ended

    async def http(self, method: str, query: str, body: bytes = b"") -> bytes:
        """One HTTP request: the response body."""
        chunks: list[bytes] = []
        request: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        headers = HEADERS
        if method == "POST":
            headers = [*POST_HEADERS, (b"content-length", str(len(body)).encode())]

        async def receive() -> Message:
            if request:
                return request.pop()
            await anyio.sleep_forever()
            raise AssertionError  # never reached

        async def send(message: Message) -> None:
            chunks.append(message.get("body", b""))

        await self.app(_scope("http", method, query, headers, self.path), receive, send)
        return b"".join(chunks)


async def ws_echo(harness: Harness, ops: int) -> None:
    put, take, _ = await harness.websocket()
    text = "4" + MESSAGE if harness.engineio else MESSAGE
    message = {"type": "websocket.receive", "text": text}
    for _ in range(ops):
        put(message)
        echo = await take()
        assert echo.get("text") == text, echo
    put({"type": "websocket.disconnect", "code": 1000})


async def poll_echo(harness: Harness, ops: int) -> None:
    handshake = await harness.http("GET", "EIO=4&transport=polling")
    sid = json.loads(handshake.split(b"\x1e")[0][1:])["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    packet = ("4" + MESSAGE).encode()
    for _ in range(ops):
        posted = await harness.http("POST", query, packet)
        assert posted.lower() == b"ok", posted  # python-engineio says "OK"
        for _ in range(GAP):  # a client's next request comes a little later
            await anyio.lowlevel.checkpoint()
        while packet not in (await harness.http("GET", query)).split(b"\x1e"):
            pass
    await harness.http("POST", query, b"1")


async def sessions(harness: Harness, ops: int) -> None:
    for _ in range(ops):
        put, _, ended = await harness.websocket()
        put({"type": "websocket.disconnect", "code": 1000})
        await ended.wait()


async def sio_echo(harness: Harness, ops: int) -> None:
    put, take, _ = await harness.websocket()
    put({"type": "websocket.receive", "text": "40"})
    joined = await take()
    assert joined["text"].startswith("40{"), joined
    event = {"type": "websocket.receive", "text": f'421["echo","{MESSAGE}"]'}
    ack = f'431["{MESSAGE}"]'
    for _ in range(ops):
        put(event)
        echo = await take()
        assert echo.get("text") == ack, echo
    put({"type": "websocket.disconnect", "code": 1000})


async def ping(harness: Harness, ops: int) -> None:
    """``PING_SESSIONS`` sessions at once, each answering its pings, ``ops`` pings in all."""
    pong = {"type": "websocket.receive", "text": "3"}
    share, extra = divmod(ops, PING_SESSIONS)

    async def session(pings: int) -> None:
        put, take, _ = await harness.websocket()
        for _ in range(pings):
            pinged = await take()
            assert pinged.get("text") == "2", pinged
            put(pong)
        put({"type": "websocket.disconnect", "code": 1000})

    async with anyio.create_task_group() as tg:
        for index in range(PING_SESSIONS):
            tg.start_soon(session, share + (index < extra))


async def tasks(harness: Harness, ops: int) -> None:
    async def handler() -> None:
        await anyio.lowlevel.checkpoint()

    running: set[Any] = set()
    for _ in range(ops):
        task = harness.server.start_background_task(handler)
        running.add(task)
        task.add_done_callback(running.discard)
        await task
    assert not running


RUNS = {
    "ws-echo": ws_echo,
    "poll-echo": poll_echo,
    "sessions": sessions,
    "sio-echo": sio_echo,
    "tasks": tasks,
    "ping": ping,
}


async def measure(
    app: App,
    server: Any,
    engineio: bool,
    backend: str,
    scenario: str,
    ops: int,
    rounds: int,
    path: str,
) -> list[float]:
    """µs per operation, one figure per round, inside the application's lifespan."""
    run = RUNS[scenario]
    figures: list[float] = []
    to_app, app_in = anyio.create_memory_object_stream[Message](4)
    app_out, from_app = anyio.create_memory_object_stream[Message](4)

    async def lifespan() -> None:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, app_in.receive, app_out.send)

    async with anyio.create_task_group() as tg:
        tg.start_soon(lifespan)
        await to_app.send({"type": "lifespan.startup"})
        assert (await from_app.receive())["type"] == "lifespan.startup.complete"
        harness = Harness(app, server, engineio, backend, tg, path)
        for _ in range(rounds):
            start = time.perf_counter()
            await run(harness, ops)
            figures.append((time.perf_counter() - start) / max(ops, 1) * 1e6)
        await to_app.send({"type": "lifespan.shutdown"})
        await from_app.receive()
    return figures


def load(app_name: str) -> tuple[App, Any]:
    """The application, and the Engine.IO server behind it if the app names it ``eio``."""
    sys.path.insert(0, str(APPS_DIR))
    module = importlib.import_module(APPS[app_name])
    app: App = module.app
    return app, getattr(module, "eio", None)


def instructions(argv: list[str], ops: int) -> float:
    """Instructions per operation: this scenario under callgrind with ``ops`` and with 0."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind")
    base = [
        valgrind,
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
    ]

    def count(n: int) -> int:
        args = [*base, *argv, "--ops", str(n), "--rounds", "1"]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found is not None, done.stderr[-500:]
        return int(found.group(1))

    return (count(ops) - count(0)) / ops


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument(
        "--ops",
        type=int,
        default=None,
        help="operations per round (default: 20,000; 2,000 for sessions)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds (the median is printed)")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under valgrind instead"
    )
    args = parser.parse_args()
    if args.app in ("pyeio", "sio_sc", "sio_pyeio") and args.backend == "trio":
        raise SystemExit("python-engineio and python-socketio run on asyncio only")
    if (args.scenario == "sio-echo") != (args.app in SOCKETIO_APPS):
        raise SystemExit("sio-echo is the scenario of the Socket.IO apps, and theirs alone")
    if args.scenario in ("tasks", "ping") and args.app not in ("eio_sc", "pyeio"):
        raise SystemExit(f"{args.scenario} is a scenario of the Engine.IO servers: eio_sc, pyeio")
    if args.scenario == "ping":
        os.environ["BENCH_PING_INTERVAL"] = PING_INTERVAL
    ops = args.ops if args.ops is not None else (2_000 if args.scenario == "sessions" else 20_000)
    label = f"{args.scenario} {args.app} on {args.backend}"
    if args.instructions:
        per_op = instructions([args.scenario, args.app, "--backend", args.backend], min(ops, 2_000))
        print(f"{label}: {per_op:,.0f} instructions per operation")
        return
    figures = anyio.run(
        measure,
        *load(args.app),
        args.app != "bare",
        args.backend,
        args.scenario,
        ops,
        args.rounds,
        "/socket.io/" if args.app in SOCKETIO_APPS else "/engine.io/",
        backend=args.backend,
    )
    if ops:
        spread = f"{min(figures):.1f}-{max(figures):.1f}"
        print(f"{label}: {statistics.median(figures):.1f} µs per operation (rounds: {spread})")


if __name__ == "__main__":
    main()
