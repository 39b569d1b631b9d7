"""Soak test: thousands of sessions for minutes on loopback, clients coming and going.

Not part of the default test run. From the repository root::

    .venv/bin/python -m tests.soak.soak --sessions 2000 --duration 120 --rounds 2

It starts ``tests/soak/app.py`` under Hypercorn's trio worker (``--worker asyncio``
for the other one), then runs the load ``--rounds`` times against that one server
process. In a round, client processes each keep their share of the sessions open
over WebSocket (one in ten starting on polling and upgrading), answer pings, send
a message every second and check its echo, and replace each session after a
random lifetime; then every client leaves and the server settles. After each
round it records the sessions dropped by the server, the messages lost, and the
server's RSS (at the round's start, its peak, after the clients left), live
Python objects, allocated memory blocks and the size of pymalloc's arenas (after
a garbage collection) and tasks. A leak grows from round to round; memory the
allocators keep for reuse shows as the same RSS in every round. At the very end
the server calls glibc's ``malloc_trim(0)`` and reports the RSS it gives back.
Every loop is bounded in time; only 127.0.0.1 is contacted.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from tests.asgi_client import open_sid
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
            sid = open_sid(response.text)
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


SETTLE_S = 12  # > ping interval + ping timeout: a session left over is reaped


@dataclass
class Round:
    start: dict[str, Any]
    after: dict[str, Any] = field(default_factory=dict)
    peak_kib: int = 0
    client: dict[str, int] = field(default_factory=dict)


def _stats(port: int, *options: str) -> dict[str, Any]:
    """The server's ``/stats``; ``options`` such as ``"collect"`` are turned on (``=1``)."""
    params = dict.fromkeys(options, "1")
    response = httpx.get(f"http://127.0.0.1:{port}/stats", params=params, timeout=60)
    return dict(response.json())


def _start_server(worker: str) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "EIO_PING_INTERVAL": "5", "EIO_PING_TIMEOUT": "5"}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "hypercorn"),
            "tests.soak.app:app",
            "--worker-class",
            worker,
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
    assert server.stderr is not None
    start = time.monotonic()
    while time.monotonic() - start < 15:
        match = re.search(r"Running on http://127.0.0.1:(\d+)", server.stderr.readline())
        if match:
            return server, int(match.group(1))
    server.kill()
    server.wait(timeout=30)
    raise SystemExit("the server did not start")


def _peak_kib(start: dict[str, Any], current: dict[str, Any]) -> int:
    """The highest RSS that ``current`` shows since the round's ``start``.

    That is the kernel's high-water mark if ``start`` reset it, else the sampled RSS. The
    mark catches peaks between samples, but only where the kernel updated it, so the
    caller keeps the highest of every sample too.
    """
    if start.get("peak_reset", False):
        return int(current["rss_peak_kib"])
    return int(current["rss_kib"])


def _round(number: int, port: int, args: argparse.Namespace) -> Round:
    """One round: the whole load, every client leaving, the server settling."""
    result = Round(start=_stats(port, "collect", "reset_peak"))
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
    try:
        begin = time.monotonic()
        result.peak_kib = result.start["rss_kib"]
        while time.monotonic() - begin < args.duration:
            time.sleep(5)
            current = _stats(port)
            result.peak_kib = max(result.peak_kib, _peak_kib(result.start, current))
            print(
                f"  round {number} {time.monotonic() - begin:4.0f}s  sessions"
                f" {current['sessions']:5}  rss {current['rss_kib'] / 1024:6.1f} MiB"
                f"  tasks {current['tasks']:6}  queued {current['queued']}",
                flush=True,
            )
        results = [queue.get(timeout=120) for _ in clients]
    finally:
        for process in clients:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join(timeout=30)
    time.sleep(SETTLE_S)
    result.after = _stats(port, "collect")
    result.peak_kib = max(result.peak_kib, _peak_kib(result.start, result.after))
    result.client = {key: sum(r[key] for r in results) for key in results[0]}
    return result


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def _table(rounds: list[Round], trim: dict[str, Any]) -> str:
    """The per-round figures and the final trim, as a Markdown table and a line."""
    head = (
        "round",
        "opened",
        "dropped",
        "failed",
        "sent",
        "echoed",
        "lost",
        "RSS start (MiB)",
        "RSS peak",
        "RSS after",
        "objects after",
        "blocks after",
        "arenas after (MiB)",
        "tasks after",
        "sessions after",
    )
    first = rounds[0].start
    rows = [
        [
            "start",
            *[""] * 6,
            _mib(first["rss_kib"]),
            "",
            "",
            f"{first['objects']:,}",
            f"{first['blocks']:,}",
            _mib(first["arenas_kib"]),
            str(first["tasks"]),
            str(first["sessions"]),
        ]
    ]
    counts = ("opened", "dropped", "failed", "sent", "echoed", "lost")
    for number, r in enumerate(rounds, 1):
        rows.append(
            [
                str(number),
                *[f"{r.client[key]:,}" for key in counts],
                _mib(r.start["rss_kib"]),
                _mib(r.peak_kib),
                _mib(r.after["rss_kib"]),
                f"{r.after['objects']:,}",
                f"{r.after['blocks']:,}",
                _mib(r.after["arenas_kib"]),
                str(r.after["tasks"]),
                str(r.after["sessions"]),
            ]
        )
    lines = ["| " + " | ".join(head) + " |", "|---" + "|--:" * (len(head) - 1) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if trim["available"]:
        lines.append(
            f"\nmalloc_trim(0) after gc.collect(): RSS {_mib(trim['rss_before_kib'])} MiB"
            f" -> {_mib(trim['rss_after_kib'])} MiB"
            f" ({_mib(trim['rss_before_kib'] - trim['rss_after_kib'])} MiB given back)"
        )
    else:
        lines.append("\nmalloc_trim: unavailable (the C library is not glibc)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--worker", choices=["trio", "asyncio"], default="trio")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    server, port = _start_server(args.worker)
    try:
        rounds = [_round(number, port, args) for number in range(1, args.rounds + 1)]
        final = _stats(port, "trim")
        report = {
            "worker": args.worker,
            "sessions_target": args.sessions,
            "duration_s": args.duration,
            "rounds": [asdict(r) for r in rounds],
            "server_final": final,
        }
        print(json.dumps(report, indent=2))
        print(_table(rounds, final["trim"]))
    finally:
        server.send_signal(2)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
