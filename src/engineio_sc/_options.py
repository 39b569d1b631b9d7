"""Validated, frozen server options.

The defaults live in one place: the signature of
:class:`~engineio_sc.AsyncServer`, where users read them. Here every value is
checked and frozen, with no default of its own."""

from __future__ import annotations

import json as stdlib_json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ._cookie import SessionCookie
from ._cors import CORSPolicy, Origins
from ._proxies import ForwardedAllowIPs, TrustedProxies
from .protocol import Transport

__all__ = ["JSONModule", "Options", "make_options"]


class JSONModule(Protocol):
    """Anything with ``dumps`` and ``loads``, as the stdlib ``json`` module."""

    def dumps(self, obj: Any, /, *args: Any, **kwargs: Any) -> str: ...

    def loads(self, s: str | bytes, /, *args: Any, **kwargs: Any) -> Any: ...


QueueFullPolicy = Literal["wait", "raise", "disconnect"]
AllowRequest = Callable[[dict[str, Any]], "bool | str | Awaitable[bool | str]"]


@dataclass(frozen=True, slots=True)
class Options:
    """The settings of one :class:`~engineio_sc.AsyncServer` (seconds for times)."""

    ping_interval: float
    ping_interval_grace: float
    ping_timeout: float
    max_http_buffer_size: int
    allow_upgrades: bool
    transports: tuple[Transport, ...]
    async_handlers: bool
    json: JSONModule
    allow_request: AllowRequest | None
    upgrade_timeout: float
    close_timeout: float
    max_queue_size: int
    queue_full: QueueFullPolicy
    max_sessions: int | None
    http_compression: bool
    compression_threshold: int
    cookie: SessionCookie | None
    cors: CORSPolicy

    def upgrades(self, transport: Transport) -> list[str]:
        """The ``upgrades`` list of the open packet of a session on ``transport``."""
        if (
            self.allow_upgrades
            and transport is Transport.POLLING
            and Transport.WEBSOCKET in self.transports
        ):
            return [Transport.WEBSOCKET.value]
        return []


def _positive(name: str, value: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    return float(value)


def _transports(value: str | Sequence[str] | None) -> tuple[Transport, ...]:
    if value is None:
        return (Transport.POLLING, Transport.WEBSOCKET)
    names = [value] if isinstance(value, str) else list(value)
    valid = tuple(t for t in Transport if t.value in names)
    if not valid:
        raise ValueError("No valid transports provided")
    return valid


def make_options(
    *,
    ping_interval: float | tuple[float, float],
    ping_timeout: float,
    max_http_buffer_size: int,
    allow_upgrades: bool,
    transports: str | Sequence[str] | None,
    async_handlers: bool,
    json: JSONModule | None,
    allow_request: AllowRequest | None,
    upgrade_timeout: float,
    close_timeout: float,
    max_queue_size: int,
    queue_full: str,
    max_sessions: int | None,
    http_compression: bool,
    compression_threshold: int,
    cookie: str | Mapping[str, Any] | None,
    cors_allowed_origins: Origins,
    cors_credentials: bool,
    forwarded_allow_ips: ForwardedAllowIPs,
) -> Options:
    """Check the constructor's arguments and freeze them.

    Raises:
        ValueError: an argument is out of range.
    """
    if isinstance(ping_interval, tuple):
        interval, grace = ping_interval
        grace = float(grace)
        if grace < 0:
            raise ValueError("the ping_interval grace period must not be negative")
    else:
        interval, grace = ping_interval, 0.0
    if not isinstance(max_http_buffer_size, int) or max_http_buffer_size <= 0:
        raise ValueError("max_http_buffer_size must be a positive integer")
    if not isinstance(max_queue_size, int) or max_queue_size <= 0:
        raise ValueError("max_queue_size must be a positive integer")
    if json is not None and not (hasattr(json, "dumps") and hasattr(json, "loads")):
        raise ValueError("json must have dumps() and loads()")
    if max_sessions is not None and (not isinstance(max_sessions, int) or max_sessions <= 0):
        raise ValueError("max_sessions must be a positive integer or None")
    if queue_full not in ("wait", "raise", "disconnect"):
        raise ValueError("queue_full must be 'wait', 'raise' or 'disconnect'")
    if not isinstance(compression_threshold, int) or compression_threshold < 0:
        raise ValueError("compression_threshold must be a non-negative integer")
    return Options(
        ping_interval=_positive("ping_interval", interval),
        ping_interval_grace=grace,
        ping_timeout=_positive("ping_timeout", ping_timeout),
        max_http_buffer_size=max_http_buffer_size,
        allow_upgrades=bool(allow_upgrades),
        transports=_transports(transports),
        async_handlers=bool(async_handlers),
        json=json if json is not None else stdlib_json,
        allow_request=allow_request,
        upgrade_timeout=_positive("upgrade_timeout", upgrade_timeout),
        close_timeout=_positive("close_timeout", close_timeout),
        max_queue_size=max_queue_size,
        queue_full=queue_full,  # type: ignore[arg-type]
        max_sessions=max_sessions,
        http_compression=bool(http_compression),
        compression_threshold=compression_threshold,
        cookie=None if cookie is None else SessionCookie(cookie),
        cors=CORSPolicy(
            cors_allowed_origins,
            bool(cors_credentials),
            trusted_proxies=TrustedProxies(forwarded_allow_ips),
        ),
    )
