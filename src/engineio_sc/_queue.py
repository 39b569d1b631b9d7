"""``create_queue()`` and ``create_event()``: anyio-backed, usable on trio and asyncio."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel

from .exceptions import QueueEmpty

__all__ = ["Event", "Queue"]

T = TypeVar("T")


class Queue(Generic[T]):
    """A FIFO queue with ``asyncio.Queue``'s methods, on anyio events.

    ``maxsize`` 0 means unbounded. ``get_nowait()`` raises
    :class:`~engineio_sc.exceptions.QueueEmpty` when there is nothing to get.
    """

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._changed = anyio.Event()
        self._unfinished = 0
        self._all_done = anyio.Event()
        self._all_done.set()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def put(self, item: T) -> None:
        """Put an item, waiting while the queue is full."""
        while self.full():
            await self._changed.wait()
        self.put_nowait(item)
        await anyio.lowlevel.checkpoint()

    def put_nowait(self, item: T) -> None:
        """Put an item.

        Raises:
            anyio.WouldBlock: the queue is full.
        """
        if self.full():
            raise anyio.WouldBlock
        self._items.append(item)
        if self._unfinished == 0:
            self._all_done = anyio.Event()
        self._unfinished += 1
        self._notify()

    async def get(self) -> T:
        """Take the oldest item, waiting while the queue is empty."""
        while not self._items:
            await self._changed.wait()
        item = self.get_nowait()
        await anyio.lowlevel.cancel_shielded_checkpoint()
        return item

    def get_nowait(self) -> T:
        """Take the oldest item.

        Raises:
            QueueEmpty: the queue is empty.
        """
        if not self._items:
            raise QueueEmpty
        item = self._items.popleft()
        self._notify()
        return item

    def qsize(self) -> int:
        """How many items are queued."""
        return len(self._items)

    def empty(self) -> bool:
        """Whether the queue is empty."""
        return not self._items

    def full(self) -> bool:
        """Whether ``put()`` would wait."""
        return 0 < self.maxsize <= len(self._items)

    def task_done(self) -> None:
        """Mark one taken item as processed.

        Raises:
            ValueError: called more times than items were put.
        """
        if self._unfinished == 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0:
            self._all_done.set()

    async def join(self) -> None:
        """Wait until every item put has been marked done."""
        await self._all_done.wait()


class Event:
    """An event with ``asyncio.Event``'s methods (``clear()`` included) on anyio."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        """Set the event, waking every waiter."""
        self._event.set()

    def clear(self) -> None:
        """Unset the event."""
        if self._event.is_set():
            self._event = anyio.Event()

    def is_set(self) -> bool:
        """Whether the event is set."""
        return self._event.is_set()

    async def wait(self) -> bool:
        """Wait until the event is set."""
        await self._event.wait()
        return True
