"""Workers without Redis: two workers of tests/redis/app.py (Hypercorn's trio
worker and uvicorn) start while their redis-server is down, then it starts; later
it is killed, and started again on the same port ten seconds later. During each
outage each worker logs one warning, keeps serving its own clients (its emits
reach them, at once), and drops what was for the other worker (nothing is
delivered late); once Redis is back, each logs one INFO line and emits cross
workers again."""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from ..servers import RunningServer, free_port
from .conftest import RedisServer, needs_redis, running_workers
from .peers import DEADLINE, MARKER, Peer, reach

pytestmark = [pytest.mark.anyio, needs_redis]

KINDS = ["hypercorn-trio", "uvicorn"]
RECOVERY_DEADLINE = 15.0
"""Seconds for a cross-worker emit to get through once Redis is back (the
listener tries again at most every 5 s)."""
OUTAGE = 1.6
"""Seconds an outage lasts at least: long enough for each worker to try again
twice (after 0.5 s, then 1 s more)."""
LONG_OUTAGE = 10.0
"""Seconds the second outage lasts at least: the listeners' backoff reaches its
longest wait (5 s) and they go on trying."""
UNREACHABLE = re.compile(r"WARNING engineio_sc\.socketio\.redis: Redis at \S+ is unreachable")
BACK = re.compile(r"INFO engineio_sc\.socketio\.redis: Redis at \S+ is back after")


@pytest.fixture
def anyio_backend() -> str:
    """python-socketio's client runs on asyncio only (the workers run on both)."""
    return "asyncio"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server, not started."""
    server = RedisServer(tmp_path, free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers(redis: RedisServer) -> Iterator[list[RunningServer]]:
    with running_workers(redis.url, KINDS) as started:
        yield started


@pytest.fixture
async def peers(workers: list[RunningServer]) -> AsyncIterator[list[Peer]]:
    """``a`` and ``a2`` of w1 (polling, WebSocket), ``b`` of w2 (WebSocket)."""
    plan = [("a", 0, "polling"), ("a2", 0, "websocket"), ("b", 1, "websocket")]
    connected: list[Peer] = []
    try:
        for name, place, transport in plan:
            peer = Peer(name)
            connected.append(peer)
            await peer.connect(workers[place].url, transport)
        yield connected
    finally:
        for peer in connected:
            await peer.close()


async def wait_logged(worker: RunningServer, pattern: re.Pattern[str]) -> None:
    found = await anyio.to_thread.run_sync(worker.log.wait_for, pattern, DEADLINE)
    assert found is not None, f"{worker.name} did not log {pattern.pattern!r}:\n{worker.log.text}"


async def outage(a: Peer, a2: Peer, label: str, lasting: float = OUTAGE) -> None:
    """Redis is down, for ``lasting`` seconds at least (the listeners try again
    meanwhile): ``a``'s emits to everyone else, made during that time, reach
    ``a2`` (of its worker) at once (and never the other worker's client, as
    :func:`recovery` checks)."""
    for n in range(3):
        started = anyio.current_time()
        await a.op(do="emit", event=label, data=n, skip_sid=a.sid)
        assert anyio.current_time() - started < 1, "an emit waited for Redis"
        await anyio.sleep(lasting / 3 - (anyio.current_time() - started))
    await a.op(do="emit", event=MARKER, to=a2.sid)
    assert await a2.until(MARKER) == [(label, [n]) for n in range(3)]


async def recovery(a: Peer, b: Peer) -> None:
    """Redis is back: ``a``'s emits reach ``b`` again, and ``b`` has had nothing but
    the probes (what was emitted during the outage was dropped, not kept)."""
    assert set(await reach(a, b, RECOVERY_DEADLINE)) == {"probe"}


async def test_workers_ride_out_redis_outages(
    redis: RedisServer, workers: list[RunningServer], peers: list[Peer]
) -> None:
    a, a2, b = peers
    for worker in workers:  # down from the start: found so with their first client
        await wait_logged(worker, UNREACHABLE)
    await outage(a, a2, "before redis")

    redis.start()
    await recovery(a, b)
    for worker in workers:
        await wait_logged(worker, BACK)
    await b.op(do="emit", event="back", to=a.sid)  # and the other way
    assert await a.until("back") == []

    redis.stop(signal.SIGKILL)
    for worker in workers:
        await wait_logged(worker, UNREACHABLE)
    await outage(a, a2, "while killed", LONG_OUTAGE)

    redis.start()  # on the same port
    await recovery(a, b)
    for worker in workers:
        await wait_logged(worker, BACK)
        assert len(UNREACHABLE.findall(worker.log.text)) == 2, worker.log.text
        assert len(BACK.findall(worker.log.text)) == 2, worker.log.text
        assert "ERROR" not in worker.log.text, worker.log.text
