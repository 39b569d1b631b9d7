"""One client's event handlers, run by workers in its session's task group.

The engine hands each message to the Socket.IO layer in the task that read it (the
WebSocket reader, or the polling ``POST``), so acks and connects are taken at once
and never wait behind a handler. Events go to a bounded queue served by up to
``limit`` workers: one keeps them in order, more run them concurrently. A worker
starts when an event finds every worker busy, and then stays, waiting for the next,
until the client goes: an event costs a hand-off, not a new task.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

__all__ = ["Runner"]

Job = TypeVar("Job")


class Runner(Generic[Job]):
    """Runs ``handle(job)`` for each job put, in up to ``limit`` workers.

    Args:
        handle: what a worker does with a job.
        start: starts a worker in the session's group (``False`` once it is over).
        limit: the most workers.
        maxlen: how many jobs may wait; :meth:`put` waits for room past it.
    """

    __slots__ = (
        "_closed",
        "_handle",
        "_idle",
        "_jobs",
        "_limit",
        "_maxlen",
        "_room",
        "_start",
        "_wake",
        "_workers",
    )

    def __init__(
        self,
        handle: Callable[[Job], Awaitable[None]],
        start: Callable[[Callable[[], Awaitable[None]]], bool],
        limit: int,
        maxlen: int,
    ) -> None:
        self._handle = handle
        self._start = start
        self._limit = limit
        self._maxlen = maxlen
        self._jobs: deque[Job] = deque()
        self._workers = 0
        self._idle = 0
        self._wake: anyio.Event | None = None  # idle workers wait on it
        self._room: anyio.Event | None = None  # a put waits on it for room
        self._closed = False

    async def put(self, job: Job) -> None:
        """Queue ``job``, waiting while ``maxlen`` jobs wait; dropped once closed."""
        jobs = self._jobs
        while len(jobs) >= self._maxlen and not self._closed:
            self._room = room = anyio.Event()
            await room.wait()
        if self._closed:
            return
        jobs.append(job)
        if self._idle:
            self._wake_workers()
        elif self._workers < self._limit:
            self._workers += 1
            if not self._start(self._work):
                self._workers -= 1

    def close(self) -> None:
        """Take no more jobs: the workers do what waits, then end."""
        self._closed = True
        self._wake_workers()
        if self._room is not None:
            self._room.set()

    def _wake_workers(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def _work(self) -> None:
        jobs, handle = self._jobs, self._handle
        try:
            while True:
                if jobs:
                    job = jobs.popleft()
                    if self._room is not None:
                        self._room.set()
                        self._room = None
                    await handle(job)
                elif self._closed:
                    return
                else:
                    if self._wake is None:
                        self._wake = anyio.Event()
                    wake = self._wake
                    self._idle += 1
                    try:
                        await wake.wait()
                    finally:
                        self._idle -= 1
        finally:
            self._workers -= 1
