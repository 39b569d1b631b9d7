"""Socket.IO across worker processes through a real Redis: three workers of
tests/redis/app.py (Hypercorn's trio worker, uvicorn, Hypercorn's asyncio worker)
with :class:`~engineio_sc.socketio.AsyncRedisManager`, and python-socketio's
``AsyncClient`` connected to each over polling, WebSocket or an upgrade. Every
feature of the manager is asked of one worker for clients of the others.

Whether a client did not get an event is told by :data:`~.peers.MARKER`: sent
after it, it comes after anything sent before it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from ..servers import REPO_ROOT, RunningServer, application_log
from .conftest import needs_redis, running_redis, running_workers
from .peers import ANSWER, DEADLINE, MARKER, Peer, reach

pytestmark = [pytest.mark.anyio, needs_redis]

KINDS = ["hypercorn-trio", "uvicorn", "hypercorn-asyncio"]
TRANSPORTS = ["polling", "websocket", "upgrade"]


@pytest.fixture
def anyio_backend() -> str:
    """python-socketio's client runs on asyncio only (the workers run on both)."""
    return "asyncio"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[RunningServer]]]:
    """A Redis and three workers, for the whole module: its URL and the workers."""
    with (
        running_redis(tmp_path_factory.mktemp("redis")) as redis,
        running_workers(redis.url, KINDS) as workers,
    ):
        yield redis.url, workers


@pytest.fixture
async def peers(cluster: tuple[str, list[RunningServer]]) -> AsyncIterator[list[Peer]]:
    """Four clients: ``a`` and ``a2`` of w1, ``b`` of w2, ``c`` of w3, each over
    another transport; closed on the way out, and then no worker may have logged
    a warning or an error."""
    _, workers = cluster
    plan = [("a", 0), ("b", 1), ("c", 2), ("a2", 0)]
    connected: list[Peer] = []
    try:
        for number, (name, place) in enumerate(plan):
            peer = Peer(name)
            connected.append(peer)
            await peer.connect(workers[place].url, TRANSPORTS[number % len(TRANSPORTS)])
        a = connected[0]
        for peer in connected[1:3]:  # each worker has subscribed
            await reach(a, peer)
        yield connected
    finally:
        for peer in connected:
            await peer.close()
    for worker in workers:
        log = application_log(worker.log.text)
        assert "WARNING" not in log, f"{worker.name} logged:\n{log}"
        assert "ERROR" not in log, f"{worker.name} logged:\n{log}"


def names(events: list[tuple[str, list[object]]]) -> list[str]:
    return [name for name, _ in events]


async def test_each_client_is_on_its_worker(peers: list[Peer]) -> None:
    assert [peer.worker for peer in peers] == ["w1", "w2", "w3", "w1"]


async def test_emit_to_all_to_a_sid_and_to_rooms_with_skip_sid(peers: list[Peer]) -> None:
    a, b, c, a2 = peers
    await a.op(do="emit", event="all", data={"n": 1}, skip_sid=b.sid)
    await a.op(do="emit", event="to_c", data=[1, "two"], to=c.sid)
    await a.op(do="emit", event="bytes", data=ANSWER, to=b.sid)
    for peer in (b, c):  # each enters a room on its own worker
        await peer.op(do="enter_room", sid=peer.sid, room="r")
    await a.op(do="emit", event="room", data="r", to="r", skip_sid=[c.sid])
    await a.op(do="emit", event=MARKER)

    assert await a.until(MARKER) == [("all", [{"n": 1}])]
    assert await a2.until(MARKER) == [("all", [{"n": 1}])]
    assert await b.until(MARKER) == [("bytes", [ANSWER]), ("room", ["r"])]
    assert await c.until(MARKER) == [("all", [{"n": 1}]), ("to_c", [[1, "two"]])]


async def test_a_client_of_another_worker_enters_and_leaves_a_room(peers: list[Peer]) -> None:
    a, b, c, _ = peers
    await a.op(do="enter_room", sid=b.sid, room="club")
    await c.op(do="enter_room", sid=b.sid, room="club2")
    assert await b.rooms() == ["club", "club2"]
    await a.op(do="emit", event="club", to="club")
    await a.op(do="leave_room", sid=b.sid, room="club")
    assert await b.rooms() == ["club2"]
    await a.op(do="emit", event="club", to="club")
    await a.op(do="emit", event=MARKER)
    assert names(await b.until(MARKER)) == ["club"]


async def test_close_room_empties_it_on_every_worker(peers: list[Peer]) -> None:
    a, b, c, a2 = peers
    for peer in (a2, b, c):
        await a.op(do="enter_room", sid=peer.sid, room="doomed")
    await a.op(do="emit", event="before", to="doomed")
    await b.op(do="close_room", room="doomed")
    for peer in (a2, b, c):
        assert await peer.rooms() == []
    await a.op(do="emit", event="after", to="doomed")
    await a.op(do="emit", event=MARKER)
    for peer in (a2, b, c):
        assert names(await peer.until(MARKER)) == ["before"]


async def test_disconnect_a_client_of_another_worker(peers: list[Peer]) -> None:
    a, b, c, _ = peers
    await a.op(do="disconnect", sid=c.sid)
    with anyio.fail_after(DEADLINE):
        await c.disconnected.wait()
    await a.op(do="disconnect", sid="no such sid")  # nobody's: ignored everywhere
    await a.op(do="emit", event=MARKER)
    assert await b.until(MARKER) == []


async def test_call_and_emit_with_callback_to_clients_of_other_workers(
    peers: list[Peer],
) -> None:
    a, b, c, a2 = peers
    assert await a.op(do="call", event="question", data=21, sid=b.sid) == [42, ANSWER]
    assert await c.op(do="call", event="question", data=1, sid=a2.sid) == [2, ANSWER]
    one = await a.op(do="emit_ack", event="question", data=5, to=c.sid, count=1)
    assert one == [[10, ANSWER]]
    for peer in (a2, b, c):
        await peer.op(do="enter_room", sid=peer.sid, room="voters")
    every = await a.op(do="emit_ack", event="question", data=3, to="voters", count=3)
    assert every == [[6, ANSWER]] * 3


async def test_a_call_to_a_client_of_another_worker_times_out(peers: list[Peer]) -> None:
    a, b, _, _ = peers
    b.hold = release = asyncio.Event()
    started = anyio.current_time()
    answer = await a.op(do="call", event="question", data=1, sid=b.sid, timeout=0.5)
    assert answer == {"error": "timeout"}
    assert anyio.current_time() - started < DEADLINE / 2
    release.set()  # the late answer comes back to w1, which waits for it no more
    assert await a.op(do="call", event="question", data=2, sid=b.sid) == [4, ANSWER]


async def test_a_write_only_manager_emits_from_a_plain_script(
    peers: list[Peer], cluster: tuple[str, list[RunningServer]]
) -> None:
    """tests/redis/emitter.py, on trio and on asyncio, emits once from inside
    ``async with`` and once with a plain ``await``."""
    url, _ = cluster
    a, b, c, _ = peers
    for peer in (b, c):
        await peer.op(do="enter_room", sid=peer.sid, room="news")
    for backend in ("trio", "asyncio"):
        await run_emitter(url, backend, "news")
    await a.op(do="emit", event=MARKER)
    for peer in (b, c):
        got = await peer.until(MARKER)
        assert got == [
            ("news", [{"backend": backend, "how": how}])
            for backend in ("trio", "asyncio")
            for how in ("async with", "await")
        ]
    assert await a.until(MARKER) == []


EMITTER = Path(__file__).with_name("emitter.py")


async def run_emitter(url: str, backend: str, room: str) -> None:
    command = [sys.executable, str(EMITTER), url, backend, room]
    with anyio.fail_after(DEADLINE * 2):
        result = await anyio.run_process(command, cwd=REPO_ROOT, check=False)
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output
    assert output == "", output
