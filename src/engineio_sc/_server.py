"""``AsyncServer``: handlers, the sid registry, the public API and the server's task group."""

from __future__ import annotations

import inspect
import json as stdlib_json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import anyio
import anyio.abc

from . import _asgi
from ._http import HTTPConnection, HTTPRequest, HTTPResponse, WebSocket, error_response
from ._options import AllowRequest, JSONModule, Options, make_options
from ._reasons import DisconnectReason
from ._session import Session
from ._tasks import BackgroundTask, call_handler
from .exceptions import ContentTooLongError, ErrorCode, ProtocolError, SocketIsClosedError
from .protocol import (
    Handshake,
    Packet,
    PacketType,
    Poll,
    Preflight,
    SessionState,
    Transport,
    classify,
    encode_payload,
    open_packet,
)

__all__ = ["AsyncServer"]

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)
EventName = Literal["connect", "message", "disconnect"]

_EVENTS = ("connect", "message", "disconnect")
_TEXT = [("Content-Type", "text/plain; charset=UTF-8"), ("Cache-Control", "no-store")]
_UNROUTABLE = (SessionState.HANDSHAKE, SessionState.CLOSED)
_OK = HTTPResponse(200, b"ok", [("Content-Type", "text/html")])


def _takes_reason(handler: Handler) -> bool:
    try:
        inspect.signature(handler).bind("sid", "reason")
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): assume the current form
        return True
    return True


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
        max_queue_size: how many packets each session queues for its client
            before ``send()`` waits.
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
        **kwargs: Any,
    ) -> None:
        if async_mode not in (None, "asgi"):
            raise ValueError(f"Invalid async_mode specified: {async_mode!r}")
        self.async_mode = "asgi"
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
        )
        self.http_compression = http_compression
        self.compression_threshold = compression_threshold
        self.cookie = cookie
        self.cors_allowed_origins = cors_allowed_origins
        self.cors_credentials = cors_credentials
        self.monitor_clients = True if monitor_clients is None else monitor_clients
        self.logger = _make_logger(logger)
        if kwargs:
            self.logger.warning("ignoring unknown options: %s", ", ".join(sorted(kwargs)))
        self.handlers: dict[str, Handler] = {}
        self._disconnect_takes_reason = True
        self._sessions: dict[str, Session] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._outer: anyio.abc.TaskGroup | None = None
        self._started: anyio.Event | None = None
        self._stop: anyio.Event | None = None
        self._stopped: anyio.Event | None = None
        self._accepting = False

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
        if event not in _EVENTS:
            raise ValueError("Invalid event")

        def register(fn: H) -> H:
            if event == "disconnect":
                self._disconnect_takes_reason = _takes_reason(fn)
            self.handlers[event] = fn
            return fn

        return register if handler is None else register(handler)

    async def _fire_connect(self, sid: str, environ: dict[str, Any]) -> Any:
        """Run the connect handler; ``None`` accepts, anything else is the 401 body."""
        handler = self.handlers.get("connect")
        if handler is None:
            return None
        try:
            result = await call_handler(handler, sid, environ)
        except Exception:
            self.logger.exception("connect handler error")
            return "Unauthorized"
        if result is None or result is True:
            return None
        return result or "Unauthorized"

    async def _fire_message(self, sid: str, data: str | bytes) -> None:
        handler = self.handlers.get("message")
        if handler is None:
            return
        try:
            await call_handler(handler, sid, data)
        except Exception:
            self.logger.exception("message handler error")

    async def _fire_disconnect(self, sid: str, reason: str) -> None:
        handler = self.handlers.get("disconnect")
        if handler is None:
            return
        args = (sid, reason) if self._disconnect_takes_reason else (sid,)
        try:
            await call_handler(handler, *args)
        except Exception:
            self.logger.exception("disconnect handler error")

    # -- sending and sessions -----------------------------------------------------

    def _session(self, sid: str) -> Session:
        session = self._sessions.get(sid)
        if session is None:
            raise KeyError("Session not found")
        return session

    async def send(
        self, sid: str, data: str | bytes | bytearray | memoryview | dict[str, Any] | list[Any]
    ) -> None:
        """Send a message to a client, waiting while its queue is full.

        ``str`` goes out as text, ``bytes`` as binary, ``dict`` and ``list`` as
        compact JSON text.

        Raises:
            SocketIsClosedError: the session is unknown, closing or closed.
            TypeError: ``data`` is of another type.
        """
        if isinstance(data, str):
            packet = Packet(PacketType.MESSAGE, data)
        elif isinstance(data, bytes | bytearray | memoryview):
            packet = Packet(PacketType.MESSAGE, bytes(data))
        elif isinstance(data, dict | list):
            packet = Packet(
                PacketType.MESSAGE, self.options.json.dumps(data, separators=(",", ":"))
            )
        else:
            raise TypeError(f"cannot send {type(data).__name__}: use str, bytes, dict or list")
        await self.send_packet(sid, packet)

    async def send_packet(self, sid: str, pkt: Packet) -> None:
        """Send a raw packet to a client.

        Raises:
            SocketIsClosedError: the session is unknown, closing or closed.
        """
        session = self._sessions.get(sid)
        if session is None:
            raise SocketIsClosedError(f"session {sid} is unknown or closed")
        await session.send(pkt)

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
        yield data
        await self.save_session(sid, data)

    def transport(self, sid: str) -> str:
        """The current transport of a client: ``'polling'`` or ``'websocket'``.

        Raises:
            KeyError: the session does not exist.
        """
        return self._session(sid).transport.value

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one session, or every session when ``sid`` is ``None``.

        Returns at once: what is queued and the close packet go to the client
        within ``close_timeout``, then the disconnect handler runs in the
        session's own task. An unknown sid is ignored.
        """
        targets = list(self._sessions.values()) if sid is None else [self._sessions.get(sid)]
        for session in targets:
            if session is not None:
                session.close(DisconnectReason.SERVER_DISCONNECT)
        await anyio.lowlevel.checkpoint()

    # -- tasks -------------------------------------------------------------------

    def _group(self) -> anyio.abc.TaskGroup:
        if self._tg is None:
            raise RuntimeError(
                "the server is not running: use 'async with AsyncServer() as eio:' "
                "or serve it through ASGIApp"
            )
        return self._tg

    def start_background_task(
        self, target: Callable[..., Awaitable[Any] | Any], *args: Any, **kwargs: Any
    ) -> BackgroundTask:
        """Start ``target(*args, **kwargs)`` in the server's task group.

        Returns:
            A :class:`BackgroundTask`, cancelled when the server shuts down.

        Raises:
            RuntimeError: the server is not running.
        """
        task = BackgroundTask(getattr(target, "__name__", repr(target)))
        self._group().start_soon(task._run, target, args, kwargs, self.logger, name=task.name)
        return task

    async def sleep(self, seconds: float = 0) -> None:
        """Sleep (a checkpoint when ``seconds`` is 0)."""
        await anyio.sleep(seconds)

    def generate_id(self) -> str:
        """A new session id: 20 URL-safe characters, 120 random bits."""
        return secrets.token_urlsafe(15)

    # -- the server's task group -------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server's task group is open."""
        return self._tg is not None

    async def __aenter__(self) -> AsyncServer:
        if self._outer is not None:
            raise RuntimeError("the server is already running")
        self._started, self._stop, self._stopped = anyio.Event(), anyio.Event(), anyio.Event()
        outer = anyio.create_task_group()
        await outer.__aenter__()
        self._outer = outer
        try:
            await outer.start(self._run)
        except BaseException as exc:
            self._outer = None
            await outer.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        outer, self._outer = self._outer, None
        assert outer is not None
        try:
            with anyio.CancelScope(shield=True):
                await self.shutdown()
        except BaseException as error:
            # Cancelled from outside the shield (asyncio's native cancellation
            # pierces it): end what is left at once, then leave the group.
            self._abort()
            await outer.__aexit__(type(error), error, error.__traceback__)
            raise
        return await outer.__aexit__(exc_type, exc, tb)

    def _abort(self) -> None:
        self._accepting = False
        if self._stop is not None:
            self._stop.set()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        assert self._stop is not None
        assert self._stopped is not None
        assert self._started is not None
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._accepting = True
                task_status.started()
                self._started.set()
                await self._stop.wait()
                tg.cancel_scope.cancel()
        finally:
            self._tg = None
            self._accepting = False
            self._stopped.set()

    async def shutdown(self) -> None:
        """Close every session, cancel what is left, and return when nothing of the
        server is running any more.

        Each client gets what was queued for it and its close packet if it takes
        them within ``close_timeout``.
        """
        if self._tg is None or self._stop is None or self._stopped is None:
            return
        self._accepting = False
        self.logger.info("shutting down")
        sessions = list(self._sessions.values())
        for session in sessions:
            session.close(DisconnectReason.SERVER_DISCONNECT)
        with anyio.move_on_after(self.options.close_timeout):
            for session in sessions:
                await session.done.wait()
        self._stop.set()
        await self._stopped.wait()

    async def _serve(self, handle: Callable[[], Awaitable[None]]) -> None:
        """Run one request inside the server's task group, opening it if need be.

        When no lifespan opened the group, the first request hosts it: it stays
        inside ``async with self`` until the server shuts down or it is cancelled.
        """
        if self._tg is not None:
            await handle()
            return
        if self._started is not None and not self._started.is_set():
            await self._started.wait()
            await handle()
            return
        self.logger.info("no lifespan opened the server: this request hosts its task group")
        async with self:
            await handle()
            assert self._stop is not None
            await self._stop.wait()

    # -- requests --------------------------------------------------------------

    async def handle_request(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI ``http`` or ``websocket`` request for the Engine.IO path."""
        await _asgi.serve(self, scope, receive, send)

    def _transport_of(self, sid: str) -> Transport | None:
        session = self._sessions.get(sid)
        if session is None or session.machine.state in _UNROUTABLE:
            return None
        return session.transport

    def _classify(self, request: HTTPRequest, *, websocket: bool) -> Any:
        return classify(
            request.method,
            request.query,
            websocket=websocket,
            transports=self.options.transports,
            session_transport=self._transport_of,
        )

    async def _open(self, transport: Transport, request: HTTPRequest) -> Session | HTTPResponse:
        """Create a session and run the connect handler: the session, or the 401."""
        if not self._accepting:
            raise ProtocolError(ErrorCode.BAD_REQUEST, status=503, message="Server shutting down")
        environ = request.environ()
        if self.options.allow_request is not None:
            verdict = await call_handler(self.options.allow_request, environ)
            if verdict is not True:
                message = verdict if isinstance(verdict, str) else None
                raise ProtocolError(ErrorCode.FORBIDDEN, status=403, message=message)
        sid = self.generate_id()
        session = Session(self, sid, transport)
        self._sessions[sid] = session
        await self._group().start(session.run)
        refusal = await self._fire_connect(sid, environ)
        if refusal is not None:
            session.close(DisconnectReason.SERVER_DISCONNECT, abort=True)
            body = stdlib_json.dumps(refusal).encode()
            return HTTPResponse(401, body, [("Content-Type", "application/json")])
        return session

    def _open_packet(self, session: Session) -> Packet:
        options = self.options
        return open_packet(
            session.sid,
            upgrades=options.upgrades(session.transport),
            ping_interval=options.ping_interval + options.ping_interval_grace,
            ping_timeout=options.ping_timeout,
            max_payload=options.max_http_buffer_size,
        )

    async def handle_http(self, request: HTTPRequest, conn: HTTPConnection) -> HTTPResponse:
        """Serve one polling request (framework-neutral)."""
        try:
            kind = self._classify(request, websocket=False)
            if isinstance(kind, Preflight):
                return HTTPResponse(200, b"OK", [("Content-Type", "text/plain")])
            if isinstance(kind, Handshake):
                opened = await self._open(Transport.POLLING, request)
                if isinstance(opened, HTTPResponse):
                    return opened
                opened.accept()
                packets = [self._open_packet(opened), *opened.take_queued()]
                return HTTPResponse(200, encode_payload(packets).encode(), list(_TEXT))
            session = self._sessions[kind.sid]
            if isinstance(kind, Poll):
                return await self._poll(session, conn)
            await session.post(conn.read_body)
            return _OK
        except ProtocolError as exc:
            self.logger.info("%s %s refused: %s", request.method, dict(request.query), exc)
            return error_response(exc)
        except ContentTooLongError as exc:
            self.logger.info("POST refused: %s", exc)
            return HTTPResponse(413)

    async def _poll(self, session: Session, conn: HTTPConnection) -> HTTPResponse:
        packets: list[Packet] | None = None
        refusal: ProtocolError | None = None
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                await conn.wait_disconnected()
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                packets = await session.poll()
            except ProtocolError as exc:
                refusal = exc
            tg.cancel_scope.cancel()
        if refusal is not None:
            raise refusal
        if packets is None:
            return HTTPResponse(499)
        return HTTPResponse(200, encode_payload(packets).encode(), list(_TEXT))

    async def handle_websocket(self, request: HTTPRequest, ws: WebSocket) -> None:
        """Serve one WebSocket request (framework-neutral)."""
        try:
            kind = self._classify(request, websocket=True)
            if isinstance(kind, Handshake):
                opened = await self._open(Transport.WEBSOCKET, request)
                if isinstance(opened, HTTPResponse):
                    await ws.deny(opened)
                    return
                await ws.accept([])
                opened.accept()
                await ws.send(self._open_packet(opened).encode())
                await opened.serve_websocket(ws)
                return
            if not self.options.allow_upgrades:
                raise ProtocolError(ErrorCode.BAD_REQUEST, detail="upgrades are disabled")
            session = self._sessions[kind.sid]
            await ws.accept([])
            await session.upgrade(ws)
        except ProtocolError as exc:
            self.logger.info("WebSocket %s refused: %s", dict(request.query), exc)
            await ws.deny(error_response(exc))
