"""An external emitter: a plain program that serves no client, and emits to the
clients of every worker through Redis with a write-only
:class:`~engineio_sc.socketio.AsyncRedisManager`: once from inside ``async with``
(one connection for the block), once with a plain ``await``.

Usage: ``python tests/redis/emitter.py REDIS_URL trio|asyncio ROOM``; it emits
``news`` with ``{"backend": ..., "how": ...}`` to ``ROOM``.
"""

from __future__ import annotations

import sys

import anyio

from engineio_sc.socketio import AsyncRedisManager


async def main(url: str, backend: str, room: str) -> None:
    async with AsyncRedisManager(url, write_only=True) as manager:
        await manager.emit("news", {"backend": backend, "how": "async with"}, room=room)
    manager = AsyncRedisManager(url, write_only=True)
    await manager.emit("news", data={"backend": backend, "how": "await"}, room=room, namespace="/")


if __name__ == "__main__":
    url, backend, room = sys.argv[1:]
    anyio.run(main, url, backend, room, backend=backend)
