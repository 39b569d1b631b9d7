"""A session's dispatcher: received messages to the ``message`` handler, one at
a time and in order, in a task of the session's group.

The reader of a transport puts each message in a bounded queue and goes back to
reading, so that a slow handler never keeps it from seeing pongs; when
``max_queue_size`` messages wait for the handler, the reader waits for room
(backpressure on the client). The dispatcher task starts with the first message,
so a session that never receives one holds no task.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

from ._backend import BackendEvent, TaskGroup, Wakeup, event_type, wakeup_type

__all__ = ["Data", "Dispatcher"]

Data = str | bytes
"""A message's data: text or binary."""


class Dispatcher:
    """Hands one session's messages to its handler, in order.

    Args:
        handle: the ``message`` handler, as ``handle(data)``.
        limit: how many messages may wait for it.
        group: the session's task group, where the task runs.
    """

    __slots__ = ("_closed", "_done", "_group", "_handle", "_inbound", "_limit", "_ready", "_space")

    def __init__(
        self, handle: Callable[[Data], Awaitable[None]], limit: int, group: TaskGroup
    ) -> None:
        self._handle = handle
        self._group = group
        self._limit = limit
        self._inbound: deque[Data] = deque()
        self._ready: Wakeup | None = None  # wakes the task, once it runs
        self._space: BackendEvent | None = None  # the reader waits for room
        self._done: BackendEvent | None = None  # set when the task has ended
        self._closed = False

    @property
    def waiting(self) -> int:
        """How many messages wait for the handler."""
        return len(self._inbound)

    @property
    def busy(self) -> bool:
        """Whether the task runs: a handler outlived the session's close."""
        return self._done is not None and not self._done.is_set()

    async def put(self, data: Data) -> None:
        """Queue a message (starting the task with the first one);
        wait while ``limit`` messages wait already. Dropped once closed."""
        if self._ready is None:
            self._ready = wakeup_type()()
            self._done = event_type()()
            self._group.start_soon(self._run, self._ready, self._done)
        inbound = self._inbound
        while len(inbound) >= self._limit and not self._closed:
            self._space = event_type()()
            await self._space.wait()
        if self._closed:
            return
        inbound.append(data)
        self._ready.set()

    def close(self) -> None:
        """Take no more messages: the task handles what is queued, then ends; a
        reader waiting for room gives up."""
        self._closed = True
        if self._ready is not None:
            self._ready.set()
        if self._space is not None:
            self._space.set()

    async def wait_done(self) -> None:
        """Return once the task has handled what was queued (at once if it never
        started)."""
        if self._done is not None:
            await self._done.wait()

    async def _run(self, ready: Wakeup, done: BackendEvent) -> None:
        inbound, handle = self._inbound, self._handle
        try:
            while True:
                if inbound:
                    data = inbound.popleft()
                    if self._space is not None:
                        self._space.set()
                        self._space = None
                    await handle(data)
                elif self._closed:
                    return
                else:
                    await ready.wait()
        finally:
            done.set()
