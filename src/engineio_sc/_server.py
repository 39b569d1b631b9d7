"""``AsyncServer``: the public API, with python-engineio's names, wiring the
handlers, the session registry, the endpoint and the lifecycle."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Protocol, TypeVar, overload

import anyio
import anyio.abc

from . import _asgi
from ._endpoint import Endpoint
from ._handlers import EventName, Handler, Handlers
from ._http import HTTPConnection, HTTPRequest, HTTPResponse, RequestHandle, WebSocket
from ._lifecycle import Lifecycle
from ._options import AllowRequest, JSONModule, Options, make_options
from ._proxies import LOOPBACK
from ._queue import Event, Queue
from ._reasons import DisconnectReason
from ._registry import SessionRegistry
from ._session import Session, SessionContext
from ._statistics import ServerStatistics, SessionStatistics
from ._tasks import BackgroundTask
from .exceptions import QueueEmpty, QueueFullError
from .protocol import Packet, PacketType

__all__ = ["AsyncServer"]


class ForeignPacket(Protocol):
    """A packet object of python-engineio, as :meth:`AsyncServer.send_packet` reads it."""

    @property
    def packet_type(self) -> int: ...

    @property
    def data(self) -> object: ...


H = TypeVar("H", bound=Handler)
_ASYNC_MODES = ("aiohttp", "sanic", "tornado", "asgi")
_FRAMEWORK_PACKAGES = {"aiohttp": "aiohttp", "sanic": "sanic", "tornado": "tornado"}
_ONCE_SUFFIX = " (further occurrences of this error will be logged with level INFO)"


def _check_async_mode(async_mode: str | None) -> str:
    """``'asgi'`` unless asked otherwise; a framework that is not installed is an error."""
    if async_mode is None:
        return "asgi"
    if async_mode not in _ASYNC_MODES:
        raise ValueError(f"Invalid async_mode specified: {async_mode!r}")
    package = _FRAMEWORK_PACKAGES.get(async_mode)
    if package is not None and importlib.util.find_spec(package) is None:
        raise ValueError(
            f"async_mode {async_mode!r} needs the {package} package: "
            f'pip install "engineio_sc[{async_mode}]"'
        )
    return async_mode


def _make_logger(logger: bool | logging.Logger) -> logging.Logger:
    if isinstance(logger, logging.Logger):
        return logger
    log = logging.getLogger("engineio_sc.server")
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO if logger else logging.ERROR)
        if not log.hasHandlers():
            log.addHandler(logging.StreamHandler())
    return log


class AsyncServer:
    """An Engine.IO v4 server.

    Its sessions and background tasks live in one task group, opened by
    ``async with AsyncServer() as eio:``, by the ASGI lifespan of
    :class:`~engineio_sc.ASGIApp`, or (when neither happens) by the first request.

    Args:
        async_mode: ``'asgi'`` (the default) or ``None``.
        ping_interval: seconds between pings, or ``(interval, grace)``: ping every
            ``interval`` seconds but tell the client to allow ``interval + grace``.
        ping_timeout: seconds the client has to answer a ping.
        max_http_buffer_size: the largest POST body or WebSocket message accepted,
            in bytes (sent to the client as ``maxPayload``).
        allow_upgrades: whether polling sessions may upgrade to WebSocket.
        logger: ``False`` (errors only), ``True`` (info) or a ``logging.Logger``.
        json: a module with ``dumps`` and ``loads`` for this server's JSON.
        async_handlers: run ``message`` handlers in the session's dispatcher task
            (still one at a time and in order) instead of in the task that read
            the packet.
        transports: the enabled transports, ``'polling'`` and/or ``'websocket'``.
        allow_request: ``f(environ)`` (sync or async) deciding each handshake:
            ``True`` lets it through; ``False`` or a message string refuses it with
            403 and error code 4, as the reference server's ``allowRequest``.
        upgrade_timeout: seconds a new WebSocket has to complete the upgrade.
        close_timeout: seconds a closing session waits for its client to take
            what is still queued, and for its message handlers to finish.
        max_queue_size: how many packets each session queues for its client.
        queue_full: what ``send()`` does when that queue is full: ``'wait'`` (the
            default: backpressure), ``'raise'`` (:class:`QueueFullError`) or
            ``'disconnect'`` (the slow client is dropped and
            :class:`SocketIsClosedError` raised).
        max_sessions: refuse new sessions (503) while this many exist; ``None``
            for no limit.
        forwarded_allow_ips: the peers (proxies) whose ``X-Forwarded-Proto`` and
            ``X-Forwarded-Host`` the default same-origin check believes: IP
            addresses and CIDR networks, as a comma-separated string or a
            sequence; ``'*'`` for every peer, ``()`` for none. The default,
            ``('127.0.0.1', '::1')``, trusts a proxy on the same host.

    Raises:
        ValueError: an option is out of range or malformed.
    """

    reason = DisconnectReason

    def __init__(
        self,
        async_mode: str | None = None,
        ping_interval: float | tuple[float, float] = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        allow_upgrades: bool = True,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        cookie: str | dict[str, Any] | None = None,
        cors_allowed_origins: str | Sequence[str] | Callable[..., Any] | None = None,
        cors_credentials: bool = True,
        logger: bool | logging.Logger = False,
        json: JSONModule | None = None,
        async_handlers: bool = True,
        monitor_clients: bool | None = None,
        transports: str | Sequence[str] | None = None,
        *,
        allow_request: AllowRequest | None = None,
        upgrade_timeout: float = 10.0,
        close_timeout: float = 5.0,
        max_queue_size: int = 1024,
        queue_full: str = "wait",
        max_sessions: int | None = None,
        forwarded_allow_ips: str | Sequence[str] = LOOPBACK,
        **kwargs: Any,
    ) -> None:
        self.async_mode = _check_async_mode(async_mode)
        self.options: Options = make_options(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_http_buffer_size=max_http_buffer_size,
            allow_upgrades=allow_upgrades,
            transports=transports,
            async_handlers=async_handlers,
            json=json,
            allow_request=allow_request,
            upgrade_timeout=upgrade_timeout,
            close_timeout=close_timeout,
            max_queue_size=max_queue_size,
            queue_full=queue_full,
            max_sessions=max_sessions,
            http_compression=http_compression,
            compression_threshold=compression_threshold,
            cookie=cookie,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            forwarded_allow_ips=forwarded_allow_ips,
        )
        self.cors_allowed_origins = cors_allowed_origins
        self.monitor_clients = True if monitor_clients is None else monitor_clients
        self.logger = _make_logger(logger)
        self._logged_once: set[str] = set()
        if kwargs:
            self.logger.warning("ignoring unknown options: %s", ", ".join(sorted(kwargs)))
        self._handlers = Handlers(self.logger)
        self._registry = SessionRegistry(self.options.max_sessions)
        self._lifecycle = Lifecycle(
            self._registry, close_timeout=self.options.close_timeout, logger=self.logger
        )
        context = SessionContext(
            self.options,
            self.logger,
            self._handlers,
            self._registry,
            self._lifecycle.heartbeats,
        )
        self._endpoint = Endpoint(context, self._lifecycle, self.generate_id, self._log_once)

    @property
    def handlers(self) -> dict[str, Handler]:
        """The handler of each event (python-engineio's attribute); register them
        with :meth:`on`."""
        return self._handlers.table

    # -- options as python-engineio names them -------------------------------------

    @property
    def ping_interval(self) -> float:
        """Seconds between pings."""
        return self.options.ping_interval

    @property
    def ping_timeout(self) -> float:
        """Seconds the client has to answer a ping."""
        return self.options.ping_timeout

    @property
    def max_http_buffer_size(self) -> int:
        """The largest body or message accepted, in bytes."""
        return self.options.max_http_buffer_size

    @property
    def transports(self) -> list[str]:
        """The enabled transports."""
        return [t.value for t in self.options.transports]

    @property
    def http_compression(self) -> bool:
        """Whether polling responses may be compressed."""
        return self.options.http_compression

    @property
    def compression_threshold(self) -> int:
        """The smallest body, in bytes, that is compressed."""
        return self.options.compression_threshold

    @property
    def cors_credentials(self) -> bool:
        """Whether ``Access-Control-Allow-Credentials`` is sent."""
        return self.options.cors.credentials

    # -- logging -----------------------------------------------------------------

    def _log_once(self, key: str, message: str, *args: Any) -> None:
        """Log an error loudly the first time, then quietly (python-engineio's habit)."""
        if key in self._logged_once:
            self.logger.info(message, *args)
        else:
            self._logged_once.add(key)
            self.logger.error(message + _ONCE_SUFFIX, *args)

    # -- handlers --------------------------------------------------------------

    @overload
    def on(self, event: EventName, handler: None = None) -> Callable[[H], H]: ...

    @overload
    def on(self, event: EventName, handler: H) -> H: ...

    def on(self, event: EventName, handler: H | None = None) -> H | Callable[[H], H]:
        """Register the handler of ``event``: as a decorator, or called directly.

        Handlers may be plain functions or coroutine functions:
        ``connect(sid, environ)``, ``message(sid, data)`` and
        ``disconnect(sid, reason)`` (``disconnect(sid)`` is accepted too).

        Raises:
            ValueError: ``event`` is not one of the three.
        """

        def register(fn: H) -> H:
            self._handlers.register(event, fn)
            return fn

        return register if handler is None else register(handler)

    # -- sending and sessions -----------------------------------------------------

    def _session(self, sid: str) -> Session:
        session = self._registry.get(sid)
        if session is None:
            raise KeyError("Session not found")
        return session

    async def send(
        self, sid: str, data: str | bytes | bytearray | memoryview | dict[str, Any] | list[Any]
    ) -> None:
        """Send a message to a client, waiting while its queue is full.

        ``str`` goes out as text, ``bytes`` as binary, ``dict`` and ``list`` as
        compact JSON text. A message for a session that is unknown, closing or
        closed is dropped with a warning, as python-engineio does.

        Raises:
            TypeError: ``data`` is of another type.
            QueueFullError: the queue is full and ``queue_full`` is ``'raise'``.
            SocketIsClosedError: the queue is full and ``queue_full`` is
                ``'disconnect'``: the client was just disconnected.
        """
        if isinstance(data, str):
            packet = Packet(PacketType.MESSAGE, data)
        elif isinstance(data, bytes | bytearray | memoryview):
            packet = Packet(PacketType.MESSAGE, bytes(data))
        elif isinstance(data, dict | list):
            packet = Packet(PacketType.MESSAGE, self._json_text(data))
        else:
            raise TypeError(f"cannot send {type(data).__name__}: use str, bytes, dict or list")
        await self._send(sid, packet)

    async def send_packet(self, sid: str, pkt: Packet | ForeignPacket) -> None:
        """Send a raw packet to a client.

        ``pkt`` is a :class:`~engineio_sc.Packet`, or a packet object of
        python-engineio (anything with its ``packet_type`` and ``data``
        attributes: ``data`` may be ``str``, ``bytes``, a ``dict`` or ``list``
        sent as JSON, ``None``, or another value sent as its ``str()``). A packet
        for a session that is unknown, closing or closed is dropped with a
        warning, as python-engineio does.

        Raises:
            ValueError: a binary packet that is not a message.
            QueueFullError: the queue is full and ``queue_full`` is ``'raise'``.
            SocketIsClosedError: the queue is full and ``queue_full`` is
                ``'disconnect'``: the client was just disconnected.
        """
        await self._send(sid, pkt if isinstance(pkt, Packet) else self._from_foreign(pkt))

    async def _send(self, sid: str, packet: Packet) -> None:
        session = self._registry.get(sid)
        if session is None or not await session.send(packet):
            self.logger.warning("Cannot send to sid %s: the session is closed", sid)

    def _json_text(self, value: dict[str, Any] | list[Any]) -> str:
        return self.options.json.dumps(value, separators=(",", ":"))

    def _from_foreign(self, pkt: ForeignPacket) -> Packet:
        """A python-engineio packet object as a :class:`Packet`, its data encoded
        as python-engineio encodes it."""
        data = pkt.data
        if data is None:
            data = ""
        elif isinstance(data, bytes | bytearray | memoryview):
            data = bytes(data)
        elif isinstance(data, dict | list):
            data = self._json_text(data)
        elif not isinstance(data, str):
            data = str(data)
        return Packet(PacketType(pkt.packet_type), data)

    async def get_session(self, sid: str) -> dict[str, Any]:
        """Return the user session dict of a client.

        Raises:
            KeyError: the session does not exist.
        """
        return self._session(sid).data

    async def save_session(self, sid: str, session: dict[str, Any]) -> None:
        """Replace the user session dict of a client.

        Raises:
            KeyError: the session does not exist.
        """
        self._session(sid).data = session

    @asynccontextmanager
    async def session(self, sid: str) -> AsyncIterator[dict[str, Any]]:
        """``async with eio.session(sid) as session:``, saved on exit."""
        data = await self.get_session(sid)
        try:
            yield data
        finally:  # saved however the block ends, as python-engineio does
            await self.save_session(sid, data)

    def transport(self, sid: str) -> str:
        """The current transport of a client: ``'polling'`` or ``'websocket'``.

        Raises:
            KeyError: the session does not exist.
        """
        return self._session(sid).transport.value

    def session_statistics(self, sid: str) -> SessionStatistics:
        """One session's figures: its transport, its state, how many packets wait
        in its queue and how many more it takes now.

        Raises:
            KeyError: the session does not exist.
        """
        return self._session(sid).statistics()

    async def send_packets(self, sid: str, packets: Sequence[Packet | ForeignPacket]) -> None:
        """Send several packets in a row: no other sender's packet comes between
        them (a Socket.IO event and its binary attachments, for one). Otherwise as
        :meth:`send_packet`; with ``queue_full='wait'`` it waits until the queue
        has room for all of them.

        Raises:
            ValueError: more packets than ``max_queue_size``.
            QueueFullError: the queue is full and ``queue_full`` is ``'raise'``.
            SocketIsClosedError: the queue is full and ``queue_full`` is
                ``'disconnect'``: the client was just disconnected.
        """
        session = self._registry.get(sid)
        if session is None or not await session.send_many(self._packets(packets)):
            self.logger.warning("Cannot send to sid %s: the session is closed", sid)

    def send_packets_nowait(self, sid: str, packets: Sequence[Packet | ForeignPacket]) -> bool:
        """Queue several packets in a row without waiting, if the session's queue
        has room for all of them: a broadcast puts the same packets on each
        recipient's queue this way, with no task per recipient.

        Returns:
            ``False`` if the session is unknown, closing or closed: nothing is sent.

        Raises:
            QueueFullError: the queue has no room for them all (whatever
                ``queue_full`` says); nothing is queued. :meth:`wait_for_room`
                waits for room.
        """
        session = self._registry.get(sid)
        if session is None:
            return False
        try:
            return session.send_many_nowait(self._packets(packets))
        except anyio.WouldBlock:
            raise QueueFullError(f"session {sid} has no room for {len(packets)} packets") from None

    async def wait_for_room(self, sid: str, count: int = 1) -> None:
        """Return once the session's queue takes ``count`` more packets, or at once
        if the session is unknown, closing or closed."""
        session = self._registry.get(sid)
        if session is not None:
            await session.wait_room(count)

    def start_session_task(
        self, sid: str, func: Callable[..., Awaitable[object]], *args: object
    ) -> bool:
        """Run ``await func(*args)`` in the session's own task group: a layer
        above the engine runs its handlers there, concurrently, and they end with
        the session (what still runs once it has wound down is cancelled). An
        exception ``func`` raises is logged; the session goes on.

        Returns:
            ``False`` if the session is unknown or over: nothing is started.
        """
        session = self._registry.get(sid)
        return session is not None and session.start_task(func, args)

    def _packets(self, packets: Sequence[Packet | ForeignPacket]) -> list[Packet]:
        return [p if isinstance(p, Packet) else self._from_foreign(p) for p in packets]

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one session, or every session when ``sid`` is ``None``.

        Returns at once: what is queued and the close packet go to the client
        within ``close_timeout``, then the disconnect handler runs in the
        session's own task. An unknown sid is ignored.
        """
        targets = self._registry.sessions() if sid is None else [self._registry.get(sid)]
        for session in targets:
            if session is not None:
                session.close(DisconnectReason.SERVER_DISCONNECT)
        await anyio.lowlevel.checkpoint()

    def statistics(self) -> ServerStatistics:
        """Queue depths and counts, for the server and each live session."""
        return self._registry.statistics(running=self.running)

    # -- tasks -------------------------------------------------------------------

    def start_background_task(
        self, target: Callable[..., Awaitable[Any] | Any], *args: Any, **kwargs: Any
    ) -> BackgroundTask:
        """Start ``target(*args, **kwargs)`` in the server's task group.

        ``target`` is a coroutine function or a plain function. The task is
        cancelled when the server shuts down, once the sessions have closed, and
        the shutdown returns only when it has ended.

        On trio the task is one of the server's task group, cancelled as trio
        cancels: at each of its checkpoints until it ends, except inside a
        shielded ``CancelScope``, which runs to its end first.

        On asyncio it is a task of a native ``asyncio.TaskGroup`` that the
        server holds open inside its own (a task of anyio's group costs several
        times as much, and python-socketio starts one per event it receives).
        :meth:`BackgroundTask.cancel` and the shutdown cancel it as asyncio
        does: ``asyncio.CancelledError`` is raised once, at the ``await`` where
        the task waits. anyio's cancel scopes inside the task still work among
        themselves, but this cancellation is not one of theirs: it reaches a
        task waiting inside a ``CancelScope(shield=True)`` all the same. What
        the task then does in its ``except`` or ``finally`` blocks, shielded or
        not, runs to its end, since nothing cancels it a second time; a task
        that swallows the error and goes on keeps the shutdown waiting.

        Returns:
            A :class:`BackgroundTask`, with the interface of an ``asyncio.Task``.

        Raises:
            RuntimeError: the server is not running.
        """
        name = getattr(target, "__name__", None)  # not repr(target) each time: one task per event
        task = BackgroundTask(repr(target) if name is None else name, self.logger)
        task._start(self._lifecycle.start_background, target, args, kwargs)
        return task

    async def sleep(self, seconds: float = 0) -> None:
        """Sleep (a checkpoint when ``seconds`` is 0)."""
        await anyio.sleep(seconds)

    def generate_id(self) -> str:
        """A new session id: 20 URL-safe characters, 120 random bits.

        Override it in a subclass to make your own; it must stay unguessable.
        """
        return secrets.token_urlsafe(15)

    def create_queue(self, maxsize: int = 0) -> Queue[Any]:
        """A FIFO queue with ``asyncio.Queue``'s methods, usable on trio and asyncio."""
        return Queue(maxsize)

    def get_queue_empty_exception(self) -> type[QueueEmpty]:
        """The exception ``get_nowait()`` raises on an empty queue."""
        return QueueEmpty

    def create_event(self) -> Event:
        """An event with ``asyncio.Event``'s methods, usable on trio and asyncio."""
        return Event()

    def is_asyncio_based(self) -> bool:
        """``True``, as python-engineio's ``AsyncServer`` says (it also runs on trio)."""
        return True

    def async_modes(self) -> list[str]:
        """The async modes this server supports."""
        return list(_ASYNC_MODES)

    def attach(self, app: Any, engineio_path: str = "engine.io") -> None:
        """Register the Engine.IO routes in an aiohttp or Sanic application.

        The server's task group is opened when the application starts and closed
        when it stops.

        Raises:
            ValueError: the server's ``async_mode`` is not ``'aiohttp'`` or ``'sanic'``.
        """
        if self.async_mode not in ("aiohttp", "sanic"):
            raise ValueError(
                f"attach() is for async_mode 'aiohttp' or 'sanic', not {self.async_mode!r}: "
                "serve an ASGI application with engineio_sc.ASGIApp instead"
            )
        adapter = importlib.import_module(f"{__package__}.{self.async_mode}")
        adapter.attach(self, app, engineio_path)

    # -- the server's task group -------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server's task group is open."""
        return self._lifecycle.running

    async def __aenter__(self) -> AsyncServer:
        await self._lifecycle.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._lifecycle.close(exc_type, exc, tb)

    async def shutdown(self) -> None:
        """Close every session, cancel what is left, and return when nothing of the
        server is running any more.

        Each client gets what was queued for it and its close packet if it takes
        them within ``close_timeout``.
        """
        await self._lifecycle.shutdown()

    def shutdown_on_signals(self) -> AbstractContextManager[None]:
        """A context manager: while inside, SIGTERM and SIGINT start
        :meth:`shutdown` at once, then go on to the handler that was installed for
        them (an ASGI server's, which then stops the server).

        :class:`~engineio_sc.ASGIApp`'s lifespan uses it: an ASGI server waits
        for its open requests before it runs the lifespan's shutdown, and a held
        long poll would keep it waiting until the next ping. Only handlers that a
        program installed are chained, in the main thread.
        """
        return self._lifecycle.shutdown_on_signals()

    # -- requests (for framework adapters) -------------------------------------

    def serve_request(self, handle: RequestHandle) -> Awaitable[None]:
        """Run one request's handling inside the server's task group, opening the
        group if nothing has (for framework adapters).

        An adapter wraps all it does for one request in ``handle()``: calling
        :meth:`handle_http` and writing the response, or :meth:`handle_websocket`.
        Once the group is open, ``handle()`` is awaited as it is: no frame of
        this method is kept while it runs (for a WebSocket, the session's life).
        After :meth:`shutdown`, the group is not reopened: ``handle()`` runs
        and the server refuses the request itself.
        """
        return self._lifecycle.serve(handle)

    async def handle_request(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI ``http`` or ``websocket`` request for the Engine.IO path.

        Frameworks with their own request objects go through :meth:`attach` or
        their adapter module instead.
        """
        await _asgi.serve(self, scope, receive, send)

    async def handle_http(self, request: HTTPRequest, conn: HTTPConnection) -> HTTPResponse:
        """Serve one polling request given as framework-neutral values (for adapters)."""
        return await self._endpoint.http(request, conn)

    async def handle_websocket(self, request: HTTPRequest, ws: WebSocket) -> None:
        """Serve one WebSocket request given as framework-neutral values (for adapters)."""
        session = await self._endpoint.websocket(request, ws)
        if session is not None:  # a new session, on this WebSocket: it runs in this task
            del request  # not kept for the session's life
            await session.run(ws)
