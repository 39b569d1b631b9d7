"""Soak test: thousands of sessions for minutes on loopback, clients coming and going.

Not part of the default test run. From the repository root::

    .venv/bin/python -m tests.soak.soak --sessions 2000 --duration 120

It starts ``tests/soak/app.py`` under Hypercorn's trio worker, then client
processes that each keep their share of the sessions open over WebSocket (one in
ten starting on polling and upgrading), answer pings, send a message every second
and check its echo, and replace each session after a random lifetime. At the end
it reports sessions dropped by the server, messages lost, the server's memory at
the start, the peak and the end (after the clients left and the server settled),
the tasks still running in it and its live Python objects (after a garbage
collection) before and after. Every loop is bounded in time; only 127.0.0.1
is contacted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from tests.live.wsclient import Rejected, WebSocketClient

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Counts:
    opened: int = 0
    dropped: int = 0
    sent: int = 0
    echoed: int = 0
    lost: int = 0
    failed: int = 0


async def _session(host: str, port: int, lifetime: float, deadline: float, counts: Counts) -> None:
    upgrade = random.random() < 0.1
    sid = ""
    if upgrade:
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
            response = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
            sid = json.loads(response.text[1:])["sid"]
    stream = await anyio.connect_tcp(host, port)
    ws = WebSocketClient(stream)
    target = "/engine.io/?EIO=4&transport=websocket" + (f"&sid={sid}" if sid else "")
    try:
        await ws.handshake(host, target)
        if upgrade:
            await ws.send("2probe")
            assert await ws.receive() == "3probe"
            await ws.send("5")
        else:
            opening = await ws.receive()
            assert isinstance(opening, str)
            assert opening.startswith("0")
        counts.opened += 1
        end = min(time.monotonic() + lifetime, deadline)
        pending: set[str] = set()
        serial = 0
        next_send = time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= next_send:
                serial += 1
                text = f"4m{serial}-" + "x" * 80
                await ws.send(text)
                pending.add(text)
                counts.sent += 1
                next_send = time.monotonic() + 1
            data: str | bytes | None = ""
            with anyio.move_on_after(max(0.0, min(next_send, end) - time.monotonic())):
                data = await ws.receive()
            if data is None:
                counts.dropped += 1
                counts.lost += len(pending)
                return
            if data == "2":
                await ws.send("3")  # outside the timeout: a pong is never cut short
            elif isinstance(data, str) and data in pending:
                pending.remove(data)
                counts.echoed += 1
        with anyio.move_on_after(5):  # the last echoes
            while pending:
                data = await ws.receive()
                if data is None:
                    break
                if data == "2":
                    await ws.send("3")
                elif data in pending:
                    pending.remove(data)
                    counts.echoed += 1
        counts.lost += len(pending)
    finally:
        await ws.close()


async def _client(host: str, port: int, sessions: int, duration: float, counts: Counts) -> None:
    deadline = time.monotonic() + duration

    async def slot() -> None:
        while time.monotonic() < deadline - 1:
            try:
                await _session(host, port, random.uniform(5, 60), deadline, counts)
            except LocalProtocolError:  # the server closed the session under us
                counts.dropped += 1
            except (
                OSError,
                AssertionError,
                anyio.BrokenResourceError,
                httpx.HTTPError,
                RemoteProtocolError,
                Rejected,
            ):
                counts.failed += 1
                await anyio.sleep(0.5)

    async with anyio.create_task_group() as tg:
        for _ in range(sessions):
            tg.start_soon(slot)
            await anyio.sleep(0.002)  # ramp up


def _client_process(host: str, port: int, sessions: int, duration: float, out: Any) -> None:
    counts = Counts()
    anyio.run(_client, host, port, sessions, duration, counts, backend="trio")
    out.put(asdict(counts))


def _stats(port: int, *, collect: bool = False) -> dict[str, Any]:
    query = "?collect=1" if collect else ""
    return dict(httpx.get(f"http://127.0.0.1:{port}/stats{query}", timeout=60).json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--worker", choices=["trio", "asyncio"], default="trio")
    args = parser.parse_args()

    env = {**os.environ, "EIO_PING_INTERVAL": "5", "EIO_PING_TIMEOUT": "5"}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "hypercorn"),
            "tests.soak.app:app",
            "--worker-class",
            args.worker,
            "--bind",
            "127.0.0.1:0",
            "--backlog",
            "4096",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        port = 0
        start = time.monotonic()
        while not port and time.monotonic() - start < 15:
            match = re.search(r"Running on http://127.0.0.1:(\d+)", server.stderr.readline())
            port = int(match.group(1)) if match else 0
        if not port:
            raise SystemExit("the server did not start")
        before = _stats(port, collect=True)
        queue: Any = multiprocessing.Queue()
        share = args.sessions // args.processes
        clients = [
            multiprocessing.Process(
                target=_client_process, args=("127.0.0.1", port, share, args.duration, queue)
            )
            for _ in range(args.processes)
        ]
        for process in clients:
            process.start()
        peak = before
        end = time.monotonic() + args.duration
        while time.monotonic() < end:
            time.sleep(5)
            current = _stats(port)
            if current["rss_kib"] > peak["rss_kib"]:
                peak = current
            print(f"  {time.monotonic() - start:6.0f}s  {json.dumps(current)}", flush=True)
        results = [queue.get(timeout=120) for _ in clients]
        for process in clients:
            process.join(timeout=30)
        time.sleep(12)  # > ping interval + timeout: anything left over is reaped
        after = _stats(port, collect=True)
        total = {key: sum(r[key] for r in results) for key in results[0]}
        report = {
            "sessions_target": args.sessions,
            "duration_s": args.duration,
            "client": total,
            "server_before": before,
            "server_peak": peak,
            "server_after": after,
        }
        print(json.dumps(report, indent=2))
    finally:
        server.send_signal(2)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
