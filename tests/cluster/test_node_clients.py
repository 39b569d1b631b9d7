"""Clients of the npm socket.io-client, spread over three workers by nginx's
sticky cookie, reach one another through Redis: in polling, WebSocket and
upgrade mode; and a program that serves no client reaches them all through a
write-only manager, on trio and asyncio."""

from __future__ import annotations

import anyio
import pytest

from engineio_sc import socketio

from ..node_driver import needs_npm
from ..redis.conftest import needs_redis
from .clients import FINAL_TRANSPORT, TRANSPORTS, node_fleet
from .processes import Cluster, needs_nginx
from .scenario import by_worker, check_across_workers, open_spread, shouted_until_end

pytestmark = [pytest.mark.anyio, needs_nginx, needs_redis, *needs_npm("socket.io-client")]

DEADLINE = 20.0
"""Seconds for one scenario."""
PER_WORKER = 2
"""Clients on each worker."""


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.mark.parametrize("mode", list(TRANSPORTS))
async def test_node_clients_across_workers(cluster: Cluster, mode: str) -> None:
    with anyio.fail_after(DEADLINE):
        async with node_fleet() as fleet:
            members = await open_spread(
                lambda n: fleet.client(f"n{n}", cluster.by_cookie, mode),
                cluster.workers,
                PER_WORKER,
            )
            assert {member.client.transport for member in members} == {FINAL_TRANSPORT[mode]}
            await cluster.wait_subscribed(len(cluster.workers))
            await check_across_workers(members)


@pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])
async def test_a_write_only_emitter_reaches_every_worker(cluster: Cluster) -> None:
    with anyio.fail_after(DEADLINE):
        async with node_fleet() as fleet:
            members = await open_spread(
                lambda n: fleet.client(f"n{n}", cluster.by_cookie, "websocket"),
                cluster.workers,
                PER_WORKER,
            )
            await cluster.wait_subscribed(len(cluster.workers))
            reds = [group[0] for group in by_worker(members).values()]
            for member in reds:
                assert "red" in await member.client.call("join", "red")
            async with socketio.AsyncRedisManager(cluster.redis_url, write_only=True) as emitter:
                await emitter.emit("shouted", {"text": "red", "from": "afar"}, room="red")
                await emitter.emit("shouted", {"text": "end", "from": "afar"})
            for member in members:
                assert await shouted_until_end(member) == (["red"] if member in reds else [])
