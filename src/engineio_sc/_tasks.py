"""Background tasks started in the server's task group, and their handle."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable, Coroutine, Generator
from types import CoroutineType
from typing import Any, Protocol

import anyio
import anyio.lowlevel

from ._backend import call_soon

__all__ = ["BackgroundTask", "Cancellable", "StartTask", "call_handler"]

DoneCallback = Callable[["BackgroundTask"], object]


class Cancellable(Protocol):
    """A started task, as far as its handle needs it: ``asyncio.Task`` and anyio's
    ``TaskHandle`` both are."""

    def cancel(self) -> object:
        """Cancel the task."""


class StartTask(Protocol):
    """Starts a coroutine as a task of a group: ``create_task`` of
    ``asyncio.TaskGroup`` and of anyio's task group both are."""

    def __call__(self, coro: Coroutine[Any, Any, None], /, *, name: str) -> Cancellable:
        """Start ``coro`` as a task named ``name``; refusing, close ``coro`` and raise."""


async def call_handler(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call a sync or async callable and return its result."""
    result = fn(*args, **kwargs)
    if type(result) is CoroutineType or inspect.isawaitable(result):
        result = await result
    return result


class BackgroundTask:
    """A task started by :meth:`AsyncServer.start_background_task`.

    It runs in the server's task group, so it is cancelled when the server shuts
    down. It has the interface that callers of an ``asyncio.Task`` use, on trio
    as on asyncio: it can be awaited, and it has :meth:`add_done_callback`,
    :meth:`cancel`, :meth:`done`, :meth:`cancelled`, :meth:`result` and
    :meth:`exception`. An exception the task raises is logged and kept for
    whoever asks for the result.

    How it is cancelled depends on the backend; see
    :meth:`AsyncServer.start_background_task`.
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_cancelled",
        "_done",
        "_error",
        "_handle",
        "_log",
        "_name",
        "_result",
        "_started",
        "_waiter",
    )

    def __init__(self, name: str, logger: logging.Logger) -> None:
        self._name = name
        self._log = logger
        self._handle: Cancellable | None = None
        self._started = False
        self._done = False
        self._waiter: anyio.Event | None = None  # made only for a wait() before the end
        self._result: Any = None
        self._error: BaseException | None = None
        self._cancelled = False  # before the first step: cancel() came first
        self._callbacks: list[tuple[DoneCallback, contextvars.Context | None]] = []

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<BackgroundTask {self._name!r} {state}>"

    def _start(
        self,
        start: StartTask,
        target: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        """Start the task with ``start``, which decides in which group.

        What ``start`` returns is what :meth:`cancel` cancels once the task has
        begun, and the task makes no event of its own unless someone waits for
        it before it ends: a python-socketio server starts one task per event it
        receives.
        """
        self._handle = start(self._run(target, args, kwargs), name=self._name)

    async def _run(
        self, target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._started = True
        try:
            if not self._cancelled:  # else cancelled before this first step: the target never runs
                self._result = await call_handler(target, *args, **kwargs)
        except anyio.get_cancelled_exc_class():
            self._cancelled = True
            raise
        except Exception as exc:
            self._error = exc
            self._log.exception("background task %s failed", self._name)
        finally:
            self._done = True
            self._handle = None
            if self._waiter is not None:
                self._waiter.set()
            callbacks, self._callbacks = self._callbacks, []
            for callback, context in callbacks:
                self._call(callback, context)

    def _call(self, callback: DoneCallback, context: contextvars.Context | None) -> None:
        try:
            if context is None:
                callback(self)
            else:
                context.run(callback, self)
        except Exception:
            self._log.exception("done callback of background task %s failed", self._name)

    @property
    def name(self) -> str:
        """The task's name: its target's name."""
        return self._name

    def get_name(self) -> str:
        """The task's name (as ``asyncio.Task.get_name``)."""
        return self._name

    def add_done_callback(
        self, fn: DoneCallback, /, *, context: contextvars.Context | None = None
    ) -> None:
        """Call ``fn(task)`` when the task is done (soon, if it is done already).

        An exception the callback raises is logged.
        """
        if self.done():
            call_soon(self._call, fn, context)
        else:
            self._callbacks.append((fn, context))

    def remove_done_callback(self, fn: DoneCallback, /) -> int:
        """Forget ``fn`` as a done callback; return how many were removed."""
        kept = [entry for entry in self._callbacks if entry[0] != fn]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def cancel(self, msg: object = None) -> bool:
        """Cancel the task: it ends at its next checkpoint, or, if it has not
        begun yet, ends without calling its target.

        Returns:
            ``False`` if the task was already done, else ``True``.
        """
        if self._done:
            return False
        if not self._started:
            self._cancelled = True  # seen by the first step, soon
        elif self._handle is not None:
            self._handle.cancel()
        return True

    def done(self) -> bool:
        """Whether the task has finished, cancelled or not."""
        return self._done

    def cancelled(self) -> bool:
        """Whether the task was cancelled (by :meth:`cancel` or a shutdown) and is done."""
        return self._done and self._cancelled

    def result(self) -> Any:
        """The task's return value.

        Raises:
            asyncio.InvalidStateError: the task is not done.
            asyncio.CancelledError: the task was cancelled.
            Exception: what the task raised.
        """
        error = self.exception()
        if error is not None:
            raise error
        return self._result

    def exception(self) -> BaseException | None:
        """The exception the task raised, or ``None``.

        Raises:
            asyncio.InvalidStateError: the task is not done.
            asyncio.CancelledError: the task was cancelled.
        """
        if not self.done():
            raise asyncio.InvalidStateError(f"background task {self._name} is not done")
        if self._cancelled:
            raise asyncio.CancelledError(f"background task {self._name} was cancelled")
        return self._error

    async def wait(self) -> Any:
        """Wait for the task; return its result or raise its exception.

        Raises:
            asyncio.CancelledError: the task was cancelled.
            Exception: what the task raised.
        """
        if not self._done:
            if self._waiter is None:
                self._waiter = anyio.Event()
            await self._waiter.wait()
        else:
            await anyio.lowlevel.checkpoint()
        return self.result()

    def __await__(self) -> Generator[Any, None, Any]:
        return self.wait().__await__()
