"""Rooms and emits across processes and hosts, over Redis pub/sub:
:class:`AsyncRedisManager`.

Each server keeps its own clients' rooms (an :class:`~._manager.AsyncManager`)
and tells the others, on one Redis channel, what it cannot do itself: an emit
reaches its own clients at once and the others' through the channel; a room
change, a disconnect or an ack for a client of another server goes to that
server. The messages are python-socketio's (see :mod:`._bus`).

The client is coredis, which is built on anyio: the same code runs on trio and
asyncio. A server's manager listens in one background task of the server, which
holds the Redis client open for its publishes too, and ends with the server.
"""

from __future__ import annotations

import json as json_module
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from functools import partial
from itertools import count
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import anyio

from ..exceptions import QueueFullError
from ._bus import (
    AckRef,
    Answer,
    CloseRoom,
    Disconnect,
    Emit,
    EnterRoom,
    LeaveRoom,
    Link,
    Message,
    Target,
    dumps,
    loads,
)
from ._calls import call
from ._clients import MAX_PENDING_ACKS, AckWaiter
from ._manager import AsyncManager, Callback, Room

if TYPE_CHECKING:
    from coredis import Redis
    from coredis.response.types import PubSubMessage

    from .. import BackgroundTask

__all__ = ["AckCallbacks", "AsyncRedisManager", "Connectivity", "stay_subscribed"]

DEFAULT_REDIS_OPTIONS: dict[str, Any] = {
    "connect_timeout": 1.0,
    "stream_timeout": 1.0,
    "pool_timeout": 1.0,
}
"""Seconds that a connection, a reply and a free connection of the pool may take,
unless ``redis_options`` says otherwise: an emit never waits long for Redis."""
SUBSCRIBE_WAIT = 1.0
"""Seconds an emit that expects acks waits for the manager's subscription, so
that the answers are heard."""


def _default_logger() -> logging.Logger:
    log = logging.getLogger("engineio_sc.socketio.redis")
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
    return log


def _describe(error: BaseException) -> str:
    """The first leaf of ``error`` (task groups wrap what failed), for a log line."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class Connectivity:
    """The :class:`~._bus.Link` to Redis as a manager lives it: each outage is
    logged once as a warning when it begins and once at INFO when it ends, and
    whoever waits to try again is woken as soon as anyone finds Redis back.

    Args:
        link: the link's state.
        logger: where outages are reported.
        name: how the log lines name the bus.
    """

    def __init__(self, link: Link, logger: logging.Logger, name: str) -> None:
        self.link = link
        self._log = logger
        self._name = name
        self._back: anyio.Event | None = None

    def failed(self, error: BaseException) -> None:
        """An attempt failed with ``error``."""
        if self.link.failed(anyio.current_time()):
            self._log.warning(
                "Redis at %s is unreachable (%s): until it is back, messages to other "
                "servers are dropped; reconnecting",
                self._name,
                _describe(error),
            )

    def succeeded(self) -> None:
        """An attempt succeeded."""
        outage = self.link.succeeded()
        if outage is None:
            return
        self._log.info(
            "Redis at %s is back after %.1f s; %d messages to other servers were dropped",
            self._name,
            anyio.current_time() - outage.began,
            outage.dropped,
        )
        if self._back is not None:
            self._back.set()
            self._back = None

    def may_send(self) -> bool:
        """Whether to try to publish now; when not, the message is counted as dropped."""
        if self.link.may_try(anyio.current_time()):
            return True
        self.link.dropped()
        return False

    def dropped(self) -> None:
        """A message could not be published."""
        self.link.dropped()

    async def wait_retry(self) -> None:
        """Wait until the next try is due, or until Redis is found back."""
        while not self.link.may_try(anyio.current_time()):
            if self._back is None:
                self._back = anyio.Event()
            back = self._back
            with anyio.move_on_after(self.link.retry_at - anyio.current_time()):
                await back.wait()


async def stay_subscribed(attempt: Callable[[], Awaitable[None]], link: Connectivity) -> NoReturn:
    """Run ``attempt`` (one subscription, for as long as it lasts; it reports its
    own success) again and again, waiting between two as ``link`` says."""
    while True:
        try:
            await attempt()
        except Exception as error:
            link.failed(error)
        else:
            link.failed(ConnectionError("the subscription ended"))
        await link.wait_retry()


class _Host(Protocol):
    """What the manager needs of its server."""

    def start_background_task(
        self, target: Callable[..., Awaitable[Any] | Any], *args: Any, **kwargs: Any
    ) -> BackgroundTask: ...

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None: ...


def _as_target(value: str | Iterable[str] | None) -> Target:
    return value if value is None or isinstance(value, str) else list(value)


class AckCallbacks:
    """What waits for acks of emits to other servers' clients, by id. An emit to
    one client's sid is answered once; an emit to a room, once by each of its
    clients, so its callback stays until :data:`MAX_PENDING_ACKS` later ones push
    it out (a ``call()`` pushed out so ends at once, with ``TimeoutError``)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._ids = count(1)
        self._waiting: dict[int, Callback] = {}

    def add(self, callback: Callback) -> int:
        waiting = self._waiting
        if len(waiting) >= MAX_PENDING_ACKS:
            oldest = next(iter(waiting))
            self._log.debug(
                "%d callbacks wait for other servers' acks: forgetting the oldest", len(waiting)
            )
            forgotten = waiting.pop(oldest)
            if isinstance(forgotten, AckWaiter):
                forgotten.forget()
        ack_id = next(self._ids)
        waiting[ack_id] = callback
        return ack_id

    def take(self, ack_id: int, final: bool) -> Callback | None:
        return self._waiting.pop(ack_id, None) if final else self._waiting.get(ack_id)

    def forget(self, callback: Callback) -> None:
        for ack_id in [i for i, waiting in self._waiting.items() if waiting is callback]:
            del self._waiting[ack_id]


class AsyncRedisManager(AsyncManager):
    """The rooms of every server that shares a Redis channel: python-socketio's
    ``AsyncRedisManager``, on trio and asyncio (with the ``redis`` extra:
    ``pip install engineio_sc[redis]``).

    Give it to each server (``AsyncServer(client_manager=AsyncRedisManager(url))``),
    or use it alone to emit from a program that serves no client
    (``write_only=True``)::

        async with AsyncRedisManager(url, write_only=True) as manager:
            await manager.emit("news", data, room="lobby")

    ``await manager.emit(...)`` without ``async with`` works too, with a
    connection of its own for each call.

    An emit reaches this server's clients at once and the other servers' through
    Redis. Pub/sub delivers at most once: while Redis is unreachable, this server
    keeps serving its own clients, messages to the others are dropped (logged
    once per outage, with a count when it ends), and it reconnects with a delay
    that doubles from 0.5 s to 5 s. An emit never waits more than about a second
    for Redis (see :data:`DEFAULT_REDIS_OPTIONS`).

    Args:
        url: the Redis server, ``redis://host:port/db`` (``rediss://`` for TLS,
            ``unix://`` for a socket).
        channel: the pub/sub channel; the same on every server.
        write_only: only emit: no listener, no server.
        logger: where outages and errors are logged (``engineio_sc.socketio.redis``
            by default, at INFO).
        redis_options: keyword arguments for ``coredis.Redis.from_url``, over
            :data:`DEFAULT_REDIS_OPTIONS`.
        json: a module with ``dumps`` and ``loads`` for the messages on the channel,
            instead of :mod:`json` (use the server's).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socketio",
        write_only: bool = False,
        logger: logging.Logger | None = None,
        redis_options: dict[str, Any] | None = None,
        json: Any = None,
    ) -> None:
        super().__init__()
        self.redis_url = url
        self.channel = channel
        self.write_only = write_only
        self.host_id = uuid.uuid4().hex
        self.redis_options = {**DEFAULT_REDIS_OPTIONS, **(redis_options or {})}
        self.logger = logger or _default_logger()
        self._json = json or json_module
        self._encode: Callable[[Any], str] | None = None if json is None else json.dumps
        self._link = Connectivity(Link(), self.logger, url)
        self._callbacks = AckCallbacks(self.logger)
        self._host: _Host | None = None
        self._client: Redis[bytes] | None = None
        self._stack: AsyncExitStack | None = None
        self._listening = False
        self._subscribed: anyio.Event | None = None

    def set_server(self, server: Any) -> None:
        """Called by the server the manager serves.

        Raises:
            ValueError: the manager is write-only.
        """
        if self.write_only:
            raise ValueError("a write-only manager serves no server")
        super().set_server(server)
        self._host = server

    # -- the Redis client ---------------------------------------------------------

    def _new_client(self) -> Redis[bytes]:
        try:
            import coredis
            from coredis.retry import NoRetryPolicy
        except ImportError:  # pragma: no cover - the extra is not installed
            raise RuntimeError(
                "AsyncRedisManager needs coredis: pip install 'engineio_sc[redis]'"
            ) from None
        options = {"retry_policy": NoRetryPolicy(), **self.redis_options}
        return coredis.Redis.from_url(self.redis_url, **options)

    async def __aenter__(self) -> AsyncRedisManager:
        """Keep a Redis client (and its connections) open for the emits of a
        write-only manager made inside ``async with``; closed on the way out.

        Raises:
            RuntimeError: the manager is not write-only (a server's manager keeps
                its client in its listener), or is entered already.
        """
        if not self.write_only:
            raise RuntimeError("only a write-only manager is entered: a server's has a listener")
        if self._stack is not None:
            raise RuntimeError("the manager is entered already")
        stack = AsyncExitStack()
        client = await stack.enter_async_context(self._new_client())
        self._stack, self._client = stack, client
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def _publish(self, message: Message) -> None:
        """Publish ``message``, or drop it while Redis is unreachable."""
        payload = dumps(message, self._encode)
        self._listen()
        if not self._link.may_send():
            return
        try:
            client = self._client
            if client is not None:
                await client.publish(self.channel, payload)
            else:
                async with self._new_client() as own:
                    await own.publish(self.channel, payload)
        except Exception as error:
            self._link.failed(error)
            self._link.dropped()
            return
        self._link.succeeded()

    # -- listening ----------------------------------------------------------------

    def _listen(self) -> None:
        """Start the listener in the server's task group, unless it runs."""
        if self._listening or self._host is None:
            return
        self._listening = True
        self._subscribed = anyio.Event()
        try:
            self._host.start_background_task(self._run_listener)
        except RuntimeError:  # the server is not running: publish with a client of its own
            self._listening = False
            self._subscribed = None

    async def _run_listener(self) -> None:
        """The listener: until the server cancels it, it stays subscribed."""
        try:
            async with self._new_client() as client:
                self._client = client  # for the server's emits too
                await stay_subscribed(partial(self._subscribe, client), self._link)
        except* anyio.ClosedResourceError:
            # On trio, the cancellation that ends the listener closes the connection
            # as coredis unsubscribes through it (coredis 6.9): nothing is lost.
            pass
        finally:
            self._client = None
            self._listening = False
            self._subscribed = None

    async def _subscribe(self, client: Redis[bytes]) -> None:
        """One subscription, until its connection fails. The messages are handled
        one at a time, in order, as coredis reads them: while one is handled the
        connection is not read (Redis holds what comes meanwhile, within its own
        limits for a slow subscriber)."""
        from coredis.retry import NoRetryPolicy

        async with client.pubsub(
            ignore_subscribe_messages=True,
            retry_policy=NoRetryPolicy(),
            channel_handlers={self.channel: self._on_message},
        ) as pubsub:
            self._link.succeeded()
            if self._subscribed is not None:
                self._subscribed.set()
            async for _ in pubsub:  # handled by _on_message; this drains coredis's queue
                pass

    async def _wait_subscribed(self) -> None:
        """Wait a little for the subscription, so that answers are heard."""
        subscribed = self._subscribed
        if subscribed is not None and self._link.link.up:
            with anyio.move_on_after(SUBSCRIBE_WAIT):
                await subscribed.wait()

    async def _on_message(self, message: PubSubMessage) -> None:
        data = message["data"]
        decoded = None if isinstance(data, int) else loads(data, self._json.loads)
        if decoded is None:
            self.logger.debug("not a message of a Socket.IO server on %s, ignored", self.channel)
            return
        try:
            await self._handle(decoded)
        except QueueFullError as exc:  # an emit to one client whose queue is full
            self.logger.warning("an emit from another server is dropped: %s", exc)
        except Exception:
            self.logger.exception("error while handling a message from another server")

    async def _handle(self, message: Message) -> None:
        if isinstance(message, Answer):
            if message.host_id == self.host_id:
                await self._answered(message)
            return
        if message.host_id == self.host_id:
            return
        if isinstance(message, Emit):
            ref = message.callback
            callback = None if ref is None else partial(self._answer, message.host_id, ref)
            await super().emit(
                message.event,
                message.data,
                message.namespace,
                room=message.room,
                skip_sid=message.skip_sid,
                callback=callback,
            )
        elif isinstance(message, Disconnect):
            if self._host is not None:
                await self._host.disconnect(message.sid, message.namespace, ignore_queue=True)
        elif isinstance(message, EnterRoom):
            self.basic_enter_room(message.sid, message.namespace, message.room)
        elif isinstance(message, LeaveRoom):
            self.basic_leave_room(message.sid, message.namespace, message.room)
        else:
            self.basic_close_room(message.room, message.namespace)

    async def _answer(self, host_id: str, ref: AckRef, *args: Any) -> None:
        """A client of this server acked an emit of server ``host_id``."""
        final = isinstance(ref.to, str) and self.is_connected(ref.to, ref.namespace)
        await self._publish(Answer(host_id, ref.to, ref.namespace, ref.id, list(args), final))

    async def _answered(self, answer: Answer) -> None:
        callback = self._callbacks.take(answer.id, answer.final)
        if callback is None:
            return
        try:
            await call(callback, *answer.args)
        except Exception:
            self.logger.exception("ack callback error")

    # -- the manager's API ------------------------------------------------------------

    def connect(self, eio_sid: str, namespace: str, sid: str) -> None:
        """``sid`` joins ``namespace``; the manager listens from the first one on."""
        super().connect(eio_sid, namespace, sid)
        if not self._listening:
            self._listen()

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        room: Room | Sequence[str] = None,
        skip_sid: str | Iterable[str] | None = None,
        callback: Callback | None = None,
        to: Room | Sequence[str] = None,
        ignore_queue: bool = False,
        **kwargs: Any,
    ) -> None:
        """Emit ``event`` to the clients of ``room`` (``to``) on every server, or of
        the whole namespace (``'/'`` by default), but ``skip_sid``.

        This server's clients get it at once; the others' through Redis (to a sid
        of this server, nothing is published). ``ignore_queue`` keeps it to this
        server. With a ``callback``, each recipient's ack comes back to it,
        through Redis from another server.

        Raises:
            RuntimeError: a callback given to a write-only manager (no acks come
                back to it).
        """
        namespace = namespace or "/"
        target = to if to is not None else room
        if ignore_queue or (isinstance(target, str) and self.is_connected(target, namespace)):
            await super().emit(
                event, data, namespace, room=target, skip_sid=skip_sid, callback=callback
            )
            return
        ref = None
        if callback is not None:
            if self._host is None:
                raise RuntimeError("acks come back to a server: a write-only manager takes none")
            ref = AckRef(_as_target(target), namespace, self._callbacks.add(callback))
        if self._host is not None:
            await super().emit(
                event, data, namespace, room=target, skip_sid=skip_sid, callback=callback
            )
        if ref is not None:
            self._listen()
            await self._wait_subscribed()
        await self._publish(
            Emit(
                self.host_id, event, data, namespace, _as_target(target), _as_target(skip_sid), ref
            )
        )

    def forget_callback(self, callback: Callback) -> None:
        """``callback`` no longer waits for acks (its ``call()`` is over)."""
        self._callbacks.forget(callback)

    async def can_disconnect(self, sid: str, namespace: str | None) -> bool:
        """Whether ``sid`` is a client of this server; if not, its server is asked
        to disconnect it."""
        if namespace is not None and self.is_connected(sid, namespace):
            return True
        await self._publish(Disconnect(self.host_id, sid, namespace))
        return False

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False, **kwargs: Any
    ) -> None:
        """Disconnect ``sid`` on whichever server it is (python-socketio's call for
        a write-only manager). ``ignore_queue``: only take it out of this server's
        rooms (the server's own call once a client has gone)."""
        if ignore_queue:
            if namespace is not None:
                self.basic_disconnect(sid, namespace)
            return
        if self._host is not None and namespace is not None and self.is_connected(sid, namespace):
            await self._host.disconnect(sid, namespace, ignore_queue=True)
            return
        await self._publish(Disconnect(self.host_id, sid, namespace))

    async def enter_room(
        self, sid: str, namespace: str, room: str, eio_sid: str | None = None
    ) -> None:
        """Put ``sid`` in ``room``, on whichever server it is."""
        if self.is_connected(sid, namespace):
            self.basic_enter_room(sid, namespace, room, eio_sid)
        else:
            await self._publish(EnterRoom(self.host_id, sid, namespace, room))

    async def leave_room(self, sid: str, namespace: str, room: str) -> None:
        """Take ``sid`` out of ``room``, on whichever server it is."""
        if self.is_connected(sid, namespace):
            self.basic_leave_room(sid, namespace, room)
        else:
            await self._publish(LeaveRoom(self.host_id, sid, namespace, room))

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Empty ``room`` on every server."""
        namespace = namespace or "/"
        self.basic_close_room(room, namespace)
        await self._publish(CloseRoom(self.host_id, room, namespace))
