"""The running backend's clock and events, looked up once instead of per call.

``anyio.current_time()`` and ``anyio.Event()`` find the running backend on every
call, and an ``anyio.Event`` wraps the backend's own event. A session's hot paths
(each received packet, each hand-off to its dispatcher) use the backend's clock and
event directly, resolved when the session is created. Both are the ones anyio
itself uses, so deadlines and cancellation behave exactly as with anyio's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import trio

__all__ = ["Event", "clock", "event_type"]


class Event(Protocol):
    """What a session needs of an event: ``asyncio.Event`` and ``trio.Event`` both are."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no asyncio loop running: trio
        return False
    return True


def clock() -> Callable[[], float]:
    """The clock ``anyio.current_time()`` reads, for the running backend."""
    return asyncio.get_running_loop().time if _on_asyncio() else trio.current_time


def event_type() -> Callable[[], Event]:
    """The event class of the running backend."""
    return asyncio.Event if _on_asyncio() else trio.Event
