"""Background tasks started in the server's task group."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Generator
from types import CoroutineType
from typing import Any

import anyio

__all__ = ["BackgroundTask", "call_handler"]


async def call_handler(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async callable and return its result."""
    result = fn(*args)
    if type(result) is CoroutineType or inspect.isawaitable(result):
        result = await result
    return result


class BackgroundTask:
    """A task started by :meth:`AsyncServer.start_background_task`.

    It runs in the server's task group, so it is cancelled when the server shuts
    down. An exception it raises is logged and kept: awaiting the task (or
    :meth:`wait`) returns its result or raises that exception.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._scope = anyio.CancelScope()
        self._done = anyio.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        self._cancelled = False

    async def _run(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        logger: logging.Logger,
    ) -> None:
        try:
            with self._scope:
                self._result = await call_handler(lambda: target(*args, **kwargs))
        except anyio.get_cancelled_exc_class():
            self._cancelled = True
            raise
        except Exception as exc:
            self._error = exc
            logger.exception("background task %s failed", self.name)
        finally:
            self._done.set()

    def cancel(self) -> None:
        """Cancel the task (it ends at its next checkpoint)."""
        self._scope.cancel()

    def done(self) -> bool:
        """Whether the task has finished."""
        return self._done.is_set()

    def cancelled(self) -> bool:
        """Whether the task was cancelled (by :meth:`cancel` or a shutdown)."""
        return self._cancelled or self._scope.cancelled_caught

    async def wait(self) -> Any:
        """Wait for the task; return its result or raise its exception."""
        await self._done.wait()
        if self._error is not None and not self.cancelled():
            raise self._error
        return self._result

    def __await__(self) -> Generator[Any, None, Any]:
        return self.wait().__await__()
