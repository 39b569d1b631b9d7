"""The checks across workers, for clients of any kind (:class:`~.clients.Client`)
of examples/cluster/app.py behind nginx.

:func:`open_spread` opens clients until every worker serves some of them;
:func:`check_across_workers` then has them reach one another through Redis: a
broadcast, rooms (one entered by clients on other workers), an emit to a sid on
another worker, a call answered from another worker, and a disconnect of a
client on another worker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import pytest

from .clients import Client

MOST_CLIENTS = 40
"""The most clients :func:`open_spread` opens: even with three workers of equal
chances, it needs so many once in about 10⁵ runs."""


@dataclass(frozen=True)
class Member:
    """An open client, and the worker that serves it."""

    client: Client
    worker: str


async def worker_of(client: Client) -> str:
    """The worker that serves ``client``, as it says itself."""
    reply = await client.call("whoami")
    assert reply["sid"] == client.sid, reply
    worker: str = reply["worker"]
    return worker


async def open_spread(
    new_client: Callable[[int], Client], workers: Collection[str], per_worker: int
) -> list[Member]:
    """Open clients (the ``n``-th made by ``new_client(n)``), one at a time,
    until each of ``workers`` serves ``per_worker`` of them; every one opened."""
    members: list[Member] = []
    counts: Counter[str] = Counter()
    for index in range(MOST_CLIENTS):
        if all(counts[worker] >= per_worker for worker in workers):
            return members
        client = new_client(index)
        await client.open()
        worker = await worker_of(client)
        assert worker in workers
        members.append(Member(client, worker))
        counts[worker] += 1
    pytest.fail(f"{MOST_CLIENTS} clients, and still not {per_worker} on each worker: {counts}")


def by_worker(members: Sequence[Member]) -> dict[str, list[Member]]:
    """``members`` grouped by worker, in order."""
    groups: dict[str, list[Member]] = {}
    for member in members:
        groups.setdefault(member.worker, []).append(member)
    return groups


async def shouted_until_end(member: Member) -> list[str]:
    """The texts ``member`` got in ``shouted`` before ``end``."""
    texts: list[str] = []
    for _ in range(10):
        [message] = await member.client.next("shouted")
        if message["text"] == "end":
            return texts
        texts.append(message["text"])
    pytest.fail(f"{member.client.name} got no end: {texts}")


async def check_across_workers(members: Sequence[Member]) -> None:
    """Each feature, from a client on one worker to clients on the others.

    ``members`` holds at least two clients on each of at least two workers.
    """
    groups = by_worker(members)
    assert len(groups) >= 2, groups
    assert all(len(group) >= 2 for group in groups.values()), groups
    firsts = [group[0] for group in groups.values()]
    seconds = [group[1] for group in groups.values()]
    sender = firsts[0]

    # A broadcast reaches everyone.
    assert await sender.client.call("shout", {"text": "to all"}) is True
    shouted = [{"text": "to all", "from": sender.client.sid}]
    for member in members:
        assert await member.client.next("shouted") == shouted

    # Rooms across workers: each worker's first client enters "red" itself; the
    # second ones are put in "blue" by a client on another worker (but one).
    for member in firsts:
        assert "red" in await member.client.call("join", "red")
    putter = firsts[-1]
    for member in seconds:
        assert await putter.client.call("put", {"sid": member.client.sid, "room": "blue"})
    assert await sender.client.call("shout", {"text": "red", "room": "red", "skip_self": True})
    assert await sender.client.call("shout", {"text": "blue", "room": "blue"})
    assert await sender.client.call("shout", {"text": "end"})  # after the others, everywhere
    for member in members:
        expected = ["red"] if member in firsts and member is not sender else []
        expected += ["blue"] if member in seconds else []
        assert await shouted_until_end(member) == expected, member

    # An emit to a sid on the next worker, round the ring.
    for index, member in enumerate(firsts):
        target = firsts[(index + 1) % len(firsts)]
        text = f"{member.worker} to {target.worker}"
        assert await member.client.call("tell", {"to": target.client.sid, "text": text})
        assert await target.client.next("told") == [{"text": text, "from": member.client.sid}]

    # A call to a client on another worker, answered back to the caller.
    asked = seconds[-1]
    await asked.client.answer("question", f"{asked.worker} answers")
    reply = await sender.client.call("ask", {"to": asked.client.sid, "question": 21})
    assert reply == {"answer": f"{asked.worker} answers"}

    # A disconnect of a client on another worker.
    kicked = seconds[-1]
    assert await sender.client.call("kick", kicked.client.sid)
    assert await kicked.client.next("disconnect") == [kicked.client.server_disconnect]

    # Every request of a client went to its worker (polling would fail otherwise).
    for member in members:
        if member is not kicked:
            assert await worker_of(member.client) == member.worker
