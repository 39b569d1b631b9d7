"""A worker killed with SIGKILL: its clients reconnect through nginx to the
other workers, and get the next broadcast; the other clients keep their sessions.

The killed worker is uvicorn's (one process: Hypercorn serves from a child of
the process it starts). Before the kill it serves clients of the npm
socket.io-client and of python-socketio in each mode; every client reconnects
by itself, as it would in production.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from ..node_driver import needs_npm
from ..redis.conftest import needs_redis
from .clients import TRANSPORTS, Client, NodeFleet, PyClient, node_fleet
from .processes import SINGLE_PROCESS, Cluster, needs_nginx, running_cluster
from .scenario import Member, by_worker, worker_of

pytestmark = [pytest.mark.anyio, needs_nginx, needs_redis, *needs_npm("socket.io-client")]

DEADLINE = 30.0
"""Seconds for the whole test."""
KINDS = ("node", "python")
COMBINATIONS = list(itertools.product(KINDS, TRANSPORTS))
"""Each kind of client in each mode: the killed worker serves one of each."""
MOST_BATCHES = 30
"""The most batches of clients (one of each combination) opened until the killed
worker has one of each: with three workers of equal chances, 30 batches fall
short once in about 10⁴·⁵ runs."""


@pytest.fixture
def anyio_backend() -> str:
    """python-socketio's client runs on asyncio only."""
    return "asyncio"


@pytest.fixture
def doomed_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of the test's own; the workers left may log no warning or error,
    and nginx errors about the killed worker only."""
    with running_cluster(tmp_path) as cluster:
        yield cluster
        assert set(cluster.worker_problems()) <= {SINGLE_PROCESS}
        killed = f"127.0.0.1:{cluster.workers[SINGLE_PROCESS].port}"
        others = [line for line in cluster.nginx_errors() if killed not in line]
        assert others == [], cluster.nginx.log.text


class Opener:
    """Opens reconnecting clients of every combination, in batches."""

    def __init__(self, cluster: Cluster, fleet: NodeFleet) -> None:
        self.cluster = cluster
        self.fleet = fleet
        self.members: list[Member] = []
        self.python: list[PyClient] = []
        self.combination: dict[str, tuple[str, str]] = {}

    def new_client(self, kind: str, mode: str, batch: int) -> Client:
        name = f"{kind}-{mode}-{batch}"
        self.combination[name] = (kind, mode)
        url = self.cluster.by_cookie
        if kind == "node":
            return self.fleet.client(name, url, mode, reconnection=True)
        self.python.append(PyClient(name, url, mode, reconnection=True))
        return self.python[-1]

    async def open_one(self, client: Client) -> None:
        await client.open()
        self.members.append(Member(client, await worker_of(client)))

    def served(self, worker: str) -> set[tuple[str, str]]:
        """The combinations that ``worker`` serves."""
        return {self.combination[m.client.name] for m in self.members if m.worker == worker}

    async def open_until_each_on(self, doomed: str) -> None:
        """Open batches until ``doomed`` serves a client of each combination, and
        every worker some."""
        for batch in range(MOST_BATCHES):
            async with anyio.create_task_group() as tg:
                for kind, mode in COMBINATIONS:
                    tg.start_soon(self.open_one, self.new_client(kind, mode, batch))
            if self.served(doomed) == set(COMBINATIONS) and len(by_worker(self.members)) == len(
                self.cluster.workers
            ):
                return
        pytest.fail(f"{doomed} serves {self.served(doomed)} after {MOST_BATCHES} batches")

    async def close(self) -> None:
        for client in self.python:
            await client.close()


async def test_clients_of_a_killed_worker_reconnect_to_the_others(
    doomed_cluster: Cluster,
) -> None:
    cluster = doomed_cluster
    with anyio.fail_after(DEADLINE):
        async with node_fleet() as fleet:
            opener = Opener(cluster, fleet)
            try:
                await opener.open_until_each_on(SINGLE_PROCESS)
                members = opener.members
                orphans = [m for m in members if m.worker == SINGLE_PROCESS]
                stayers = [m for m in members if m.worker != SINGLE_PROCESS]
                survivors = set(cluster.workers) - {SINGLE_PROCESS}

                cluster.kill(SINGLE_PROCESS)
                moved = []
                for orphan in orphans:
                    old_sid = orphan.client.sid
                    await orphan.client.next("disconnect")
                    await orphan.client.next("connect")
                    assert orphan.client.sid != old_sid
                    moved.append(Member(orphan.client, await worker_of(orphan.client)))
                assert {member.worker for member in moved} <= survivors, moved

                await cluster.wait_subscribed(len(survivors))
                sender = stayers[0]
                assert await sender.client.call("shout", {"text": "after"})
                shouted = [{"text": "after", "from": sender.client.sid}]
                for member in [*stayers, *moved]:
                    assert await member.client.next("shouted") == shouted, member
                for member in stayers:  # the same session (worker_of checks the sid)
                    assert await worker_of(member.client) == member.worker
            finally:
                await opener.close()
