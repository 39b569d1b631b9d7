"""The running backend's clock, events, wake-ups and task groups, looked up once
instead of per call.

``anyio.current_time()`` and ``anyio.Event()`` find the running backend on every
call, and an ``anyio.Event`` wraps the backend's own event. A session's hot paths
(each received packet, each hand-off to its dispatcher) use the backend's clock and
primitives directly, resolved when the session is created. They are the ones anyio
itself is built on, so deadlines and cancellation behave exactly as with anyio's.
On trio, a session's task group is trio's nursery itself: anyio's would wrap it and
each task started in it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol

import anyio
import trio
import trio.lowlevel

__all__ = [
    "BackendEvent",
    "CancelScope",
    "TaskGroup",
    "Wakeup",
    "call_soon",
    "cancel_scope",
    "clock",
    "event_type",
    "on_asyncio",
    "task_group",
    "wakeup_type",
]


class BackendEvent(Protocol):
    """What a session needs of an event: ``asyncio.Event`` and ``trio.Event`` both are."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


def on_asyncio() -> bool:
    # The lookup get_running_loop() makes, without the error it raises on trio.
    return asyncio._get_running_loop() is not None


def clock() -> Callable[[], float]:
    """The clock ``anyio.current_time()`` reads, for the running backend."""
    return asyncio.get_running_loop().time if on_asyncio() else trio.current_time


def call_soon(fn: Callable[..., object], *args: Any) -> None:
    """Call ``fn(*args)`` soon, from the running backend's event loop, not from
    the caller's frame (as ``loop.call_soon``); ``fn`` must not raise."""
    if on_asyncio():
        asyncio.get_running_loop().call_soon(fn, *args)
    else:
        trio.lowlevel.current_trio_token().run_sync_soon(fn, *args)


def event_type() -> Callable[[], BackendEvent]:
    """The event class of the running backend."""
    return asyncio.Event if on_asyncio() else trio.Event


class Wakeup(Protocol):
    """A reusable wake-up for one task: :meth:`wait` parks it until the next
    :meth:`set`, or until the clock reaches ``deadline``. A ``set()`` with no task
    parked does nothing, so the waiter checks its condition before it waits (with
    no checkpoint in between)."""

    def wait(self, deadline: float = math.inf) -> Awaitable[None]: ...

    def set(self) -> None: ...


class _AsyncioWakeup:
    """The waiter awaits a future itself (no coroutine frame of its own). A
    deadline is a loop timer, cancelled by :meth:`set`; one left behind by a
    cancelled waiter finds its future done and does nothing."""

    __slots__ = ("_timer", "_waiter")

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def wait(self, deadline: float = math.inf) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        if deadline != math.inf:
            self._timer = loop.call_at(deadline, _resolve, waiter)
        return waiter

    def set(self) -> None:
        waiter, timer = self._waiter, self._timer
        self._waiter = self._timer = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if timer is not None:
            timer.cancel()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _TrioWakeup:
    __slots__ = ("_task",)

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None

    async def wait(self, deadline: float = math.inf) -> None:
        self._task = trio.lowlevel.current_task()
        if deadline == math.inf:
            await trio.lowlevel.wait_task_rescheduled(self._abort)
            return
        with trio.move_on_at(deadline):
            await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _: Any) -> trio.lowlevel.Abort:
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED

    def set(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            trio.lowlevel.reschedule(task)


class Cancellable(Protocol):
    """What a session needs of its group's cancel scope."""

    def cancel(self, reason: str | None = None) -> None: ...


class CancelScope(Cancellable, Protocol):
    """A cancel scope with no deadline: ``trio.CancelScope`` and ``anyio.CancelScope`` both are."""

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> bool: ...


def cancel_scope() -> CancelScope:
    """A new cancel scope: trio's own on trio (anyio's wraps it), anyio's on asyncio."""
    if on_asyncio():
        return anyio.CancelScope()
    return trio.CancelScope()


class TaskGroup(Protocol):
    """What a session needs of its task group: trio's nursery and anyio's task
    group both are."""

    @property
    def cancel_scope(self) -> Cancellable: ...

    def start_soon(self, func: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any) -> object:
        """Start ``func(*args)`` as a task of the group."""


class _AsyncioCancel:
    """Cancels the group's body (its anyio cancel scope) and its tasks at once,
    rather than through the body when it next waits."""

    __slots__ = ("_scope", "_tasks")

    def __init__(self, scope: anyio.CancelScope, tasks: set[asyncio.Task[Any]]) -> None:
        self._scope = scope
        self._tasks = tasks

    def cancel(self, reason: str | None = None) -> None:
        self._scope.cancel()
        for task in list(self._tasks):
            task.cancel()


class _AsyncioGroup:
    """asyncio's own ``TaskGroup`` starts the tasks, each named as anyio names its
    tasks; :attr:`cancel_scope` cancels the body and every task."""

    __slots__ = ("_native", "_tasks", "cancel_scope")

    def __init__(self, scope: anyio.CancelScope, native: asyncio.TaskGroup) -> None:
        self._native = native
        self._tasks: set[asyncio.Task[Any]] = set()
        self.cancel_scope = _AsyncioCancel(scope, self._tasks)

    def start_soon(self, func: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any) -> object:
        task = self._native.create_task(func(*args), name=f"{func.__module__}.{func.__qualname__}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


class _AsyncioTaskGroup:
    """``with anyio.CancelScope(): async with asyncio.TaskGroup():``, entered and
    exited as those two are, without the generator ``asynccontextmanager`` would
    run them in (a session opens one)."""

    __slots__ = ("_native", "_scope")

    def __init__(self) -> None:
        self._scope = anyio.CancelScope()
        self._native = asyncio.TaskGroup()

    async def __aenter__(self) -> TaskGroup:
        self._scope.__enter__()
        try:
            await self._native.__aenter__()
        except BaseException as exc:
            self._scope.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return _AsyncioGroup(self._scope, self._native)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            await self._native.__aexit__(exc_type, exc, tb)  # it never swallows ``exc``
        except BaseException as error:  # the group's error goes through the scope
            if self._scope.__exit__(type(error), error, error.__traceback__):
                return True
            raise
        return bool(self._scope.__exit__(exc_type, exc, tb))


def task_group() -> AbstractAsyncContextManager[TaskGroup]:
    """A new task group for a session or a request: trio's own nursery on trio, and
    on asyncio, asyncio's ``TaskGroup`` in an anyio cancel scope. anyio's task group
    wraps each task it starts in a cancel scope and a handle of its own, which costs
    several times what the task does: a session starts one for each burst of
    packets it writes, and a broadcast to a room wakes a writer in each member's."""
    if on_asyncio():
        return _AsyncioTaskGroup()
    return trio.open_nursery()


def wakeup_type() -> Callable[[], Wakeup]:
    """The :class:`Wakeup` of the running backend."""
    return _AsyncioWakeup if on_asyncio() else _TrioWakeup
