"""Calling the application's handlers: sync or async, and with as many of the
arguments as a ``connect`` or ``disconnect`` handler takes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import CoroutineType
from typing import Any

__all__ = ["call", "fitted"]


async def call(handler: Callable[..., Any], *args: Any) -> Any:
    """``handler(*args)``, awaited if it returns an awaitable."""
    result = handler(*args)
    if type(result) is CoroutineType or inspect.isawaitable(result):
        result = await result
    return result


def fitted(handler: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args``, without the last one if ``handler`` does not take it (a connect
    handler without ``auth``, a disconnect handler without ``reason``)."""
    try:
        inspect.signature(handler).bind(*args)
    except TypeError:
        return args[:-1]
    except ValueError:  # no signature to read: assume it takes them
        return args
    return args
