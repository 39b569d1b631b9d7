"""What keeps a polling session on its worker: nginx's sticky cookie, or the
client's address (``ip_hash``, one worker per /24 network).

A polling session is many HTTP requests, and only the worker that opened it
knows it: a request that nginx sends elsewhere is refused ("Session ID
unknown"). A client that does not keep the cookie shows it.
"""

from __future__ import annotations

import anyio
import httpx
import pytest

from ..asgi_client import open_sid
from ..redis.conftest import needs_redis
from .clients import PyClient
from .processes import Cluster, needs_nginx
from .scenario import Member, check_across_workers, worker_of

pytestmark = [pytest.mark.anyio, needs_nginx, needs_redis]

DEADLINE = 20.0
"""Seconds for one test."""
TRIES = 30
"""Requests without the cookie, at most, until one reaches another worker: all
of them reach the session's worker once in 3³⁰."""
EVENT = '42["whoami"]'
"""A Socket.IO event that a session may get any number of times."""
UNKNOWN_SESSION = {"code": 1, "message": "Session ID unknown"}

NETWORKS = [f"127.0.{network}" for network in range(6)]
"""Loopback /24 networks that clients come from: ip_hash keys by the first three
bytes of an IPv4 address, so two clients of one network share a worker."""


async def test_polling_needs_the_sticky_cookie(cluster: Cluster) -> None:
    path = "/socket.io/"
    async with httpx.AsyncClient(base_url=cluster.by_cookie, timeout=DEADLINE) as http:

        async def post(content: str, cookie: str | None) -> httpx.Response:
            """POST ``content`` to the session, with ``cookie`` only."""
            http.cookies.clear()
            headers = {} if cookie is None else {"cookie": cookie}
            return await http.post(path, params=params, headers=headers, content=content)

        with anyio.fail_after(DEADLINE):
            opened = await http.get(path, params={"EIO": "4", "transport": "polling"})
            assert opened.status_code == 200, opened.text
            params = {"EIO": "4", "transport": "polling", "sid": open_sid(opened.text)}
            cookie = opened.headers["set-cookie"].split(";")[0]
            assert cookie.startswith("sio_sticky="), cookie

            for content in ["40", EVENT, EVENT, EVENT]:  # a Socket.IO CONNECT, then events
                sent = await post(content, cookie)
                assert (sent.status_code, sent.text) == (200, "ok")

            for _ in range(TRIES):
                sent = await post(EVENT, None)
                if sent.status_code != 200:
                    break
            assert sent.status_code == 400, f"{TRIES} requests, all on the session's worker"
            assert sent.json() == UNKNOWN_SESSION

            closed = await post("1", cookie)
            assert (closed.status_code, closed.text) == (200, "ok")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # python-socketio's client
async def test_ip_hash_keeps_a_network_on_one_worker(cluster: Cluster) -> None:
    clients = [
        PyClient(
            f"{network}.{host}", cluster.by_address, "polling", local_address=f"{network}.{host}"
        )
        for network in NETWORKS
        for host in (1, 2)
    ]
    members: list[Member] = []
    with anyio.fail_after(DEADLINE):
        try:
            for client in clients:
                await client.open()
                members.append(Member(client, await worker_of(client)))
            by_network: dict[str, set[str]] = {}
            for member in members:
                network = member.client.name.rsplit(".", 1)[0]
                by_network.setdefault(network, set()).add(member.worker)
            assert all(len(workers) == 1 for workers in by_network.values()), by_network
            spread = {member.worker for member in members}
            assert len(spread) >= 2, by_network
            await cluster.wait_subscribed(len(spread))
            await check_across_workers(members)
        finally:
            for client in clients:
                await client.close()
