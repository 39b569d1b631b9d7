"""Clients of python-socketio, spread over three workers by nginx's sticky
cookie, reach one another through Redis: in polling, WebSocket and upgrade mode."""

from __future__ import annotations

import anyio
import pytest

from ..redis.conftest import needs_redis
from .clients import FINAL_TRANSPORT, TRANSPORTS, PyClient
from .processes import Cluster, needs_nginx
from .scenario import check_across_workers, open_spread

pytestmark = [pytest.mark.anyio, needs_nginx, needs_redis]

DEADLINE = 20.0
"""Seconds for one scenario."""
PER_WORKER = 2
"""Clients on each worker."""


@pytest.fixture
def anyio_backend() -> str:
    """python-socketio's client runs on asyncio only."""
    return "asyncio"


@pytest.mark.parametrize("mode", list(TRANSPORTS))
async def test_python_clients_across_workers(cluster: Cluster, mode: str) -> None:
    clients: list[PyClient] = []

    def new_client(n: int) -> PyClient:
        clients.append(PyClient(f"p{n}", cluster.by_cookie, mode))
        return clients[-1]

    with anyio.fail_after(DEADLINE):
        try:
            members = await open_spread(new_client, cluster.workers, PER_WORKER)
            assert {member.client.transport for member in members} == {FINAL_TRANSPORT[mode]}
            await cluster.wait_subscribed(len(cluster.workers))
            await check_across_workers(members)
        finally:
            for client in clients:
                await client.close()
