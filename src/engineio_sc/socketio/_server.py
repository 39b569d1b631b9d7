"""The Socket.IO server: :class:`AsyncServer`, with python-socketio's API, on the
engine's public API alone."""

from __future__ import annotations

import json as json_module
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from types import TracebackType
from typing import Any, TypeVar, overload

import anyio

from .. import AsyncServer as EngineServer
from .. import BackgroundTask, DisconnectReason
from ._calls import call, fitted
from ._clients import AckWaiter, Client, ClientTable, Socket
from ._manager import AsyncManager, Callback, Outlet
from ._namespace import AsyncNamespace
from ._runner import Runner
from .exceptions import ConnectionRefusedError
from .protocol import (
    AckReceived,
    Connection,
    ConnectRequested,
    EventReceived,
    Packet,
    PacketType,
    ProtocolViolation,
)

__all__ = ["AsyncServer"]

H = TypeVar("H", bound=Callable[..., Any])

HANDLERS_PER_CLIENT = 16
"""How many event handlers of one client run at once (``async_handlers=True``);
the next event waits for one to end."""

_NOT_HANDLED = object()


def _make_logger(logger: bool | logging.Logger) -> logging.Logger:
    if isinstance(logger, logging.Logger):
        return logger
    log = logging.getLogger("engineio_sc.socketio")
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO if logger else logging.ERROR)
    return log


def _ack_args(result: Any) -> list[Any]:
    """A handler's return value as the ack's arguments: a tuple is several."""
    if result is None:
        return []
    return list(result) if isinstance(result, tuple) else [result]


class AsyncServer:
    """A Socket.IO v5 server, with python-socketio's ``AsyncServer`` API, on trio
    and asyncio.

    Args:
        client_manager: the :class:`AsyncManager` that keeps the rooms (a new one
            by default).
        logger: ``True`` to log at INFO, ``False`` for errors only, or a logger.
        serializer: ``'default'`` (JSON) is the one supported.
        json: a module with ``dumps`` and ``loads`` to use instead of :mod:`json`.
        async_handlers: run a client's event handlers concurrently, at most
            :data:`HANDLERS_PER_CLIENT` at once, in its session's task group;
            ``False`` runs them one at a time, in order (in the session's group
            too, so acks still come through while one runs).
        always_connect: send the ``CONNECT`` answer before the connect handler
            runs; a refusal then disconnects the client.
        namespaces: the namespaces clients may join besides those with handlers:
            a list, or ``'*'`` for any. ``['/']`` by default.
        connect_timeout: seconds a client has to join a namespace before it is
            closed (the reference server's ``connectTimeout``).
        **engineio_options: the engine's options (see
            :class:`engineio_sc.AsyncServer`); ``engineio_logger`` is its ``logger``.

    Raises:
        ValueError: an unsupported serializer.
    """

    reason = DisconnectReason

    def __init__(
        self,
        client_manager: AsyncManager | None = None,
        logger: bool | logging.Logger = False,
        serializer: str = "default",
        json: Any = None,
        async_handlers: bool = True,
        always_connect: bool = False,
        namespaces: list[str] | str | None = None,
        connect_timeout: float = 45,
        **engineio_options: Any,
    ) -> None:
        if serializer != "default":
            raise ValueError("only the default (JSON) serializer is supported")
        engineio_logger = engineio_options.pop("engineio_logger", None)
        if engineio_logger is not None:
            engineio_options["logger"] = engineio_logger
        if json is not None:
            engineio_options["json"] = json
        # Messages are taken in the task that reads them; the runner does the rest.
        engineio_options["async_handlers"] = False
        self._json = json or json_module
        self.eio = EngineServer(**engineio_options)
        self.eio.on("connect", self._on_eio_connect)
        self.eio.on("message", self._on_eio_message)
        self.eio.on("disconnect", self._on_eio_disconnect)
        self.logger = _make_logger(logger)
        self.async_handlers = async_handlers
        self.always_connect = always_connect
        self.namespaces: list[str] | str = namespaces or ["/"]
        self.connect_timeout = connect_timeout
        self.handlers: dict[str, dict[str, Callable[..., Any]]] = {}
        self.namespace_handlers: dict[str, AsyncNamespace] = {}
        self.clients = ClientTable(self.eio, self._make_dumps(), self.logger)
        self.manager = client_manager or AsyncManager()
        self.manager.set_server(self)
        self._manager_ready = False
        self._deadlines: deque[tuple[float, str]] = deque()
        self._watching = False

    def _make_dumps(self) -> Callable[[Any], str]:
        """Compact JSON: the standard library's encoder made once (``json.dumps``
        with arguments makes one per call), or the given module's ``dumps``."""
        if self._json is json_module:
            return json_module.JSONEncoder(separators=(",", ":")).encode
        custom = self._json

        def dumps(value: Any) -> str:
            return str(custom.dumps(value, separators=(",", ":")))

        return dumps

    @property
    def outlet(self) -> Outlet:
        """How the manager reaches the clients."""
        return self.clients

    # -- handlers ----------------------------------------------------------------

    @overload
    def on(
        self, event: str, handler: None = None, namespace: str | None = None
    ) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H, namespace: str | None = None) -> H: ...
    def on(
        self, event: str, handler: H | None = None, namespace: str | None = None
    ) -> H | Callable[[H], H]:
        """Register the handler of ``event`` in ``namespace`` (``'/'`` by default;
        ``'*'`` for every namespace; ``event`` ``'*'`` for every event), as a
        decorator or directly. ``connect`` handlers take ``(sid, environ, auth)``
        or ``(sid, environ)``; ``disconnect`` handlers ``(sid, reason)`` or ``(sid)``."""
        ns = namespace or "/"

        def register(fn: H) -> H:
            self.handlers.setdefault(ns, {})[event] = fn
            return fn

        return register if handler is None else register(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Register a handler named after its function: ``@sio.event`` or
        ``@sio.event(namespace='/chat')``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def register(fn: H) -> H:
            decorate: Callable[[H], H] = self.on(fn.__name__, *args, **kwargs)
            return decorate(fn)

        return register

    def register_namespace(self, namespace_handler: AsyncNamespace) -> None:
        """Register a class-based namespace.

        Raises:
            ValueError: it is not an :class:`AsyncNamespace`.
        """
        if not isinstance(namespace_handler, AsyncNamespace):
            raise ValueError("Not a namespace instance")
        namespace_handler._set_server(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    def _event_handler(
        self, event: str, namespace: str, args: tuple[Any, ...]
    ) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
        """The handler of ``event`` and its arguments, in python-socketio's order:
        the namespace's handler of the event, its catch-all, the catch-all
        namespace's handler of the event, its catch-all."""
        reserved = event in ("connect", "disconnect")
        handlers = self.handlers.get(namespace)
        if handlers is not None:
            if event in handlers:
                return handlers[event], args
            if not reserved and "*" in handlers:
                return handlers["*"], (event, *args)
        handlers = self.handlers.get("*")
        if handlers is not None:
            if event in handlers:
                return handlers[event], (namespace, *args)
            if not reserved and "*" in handlers:
                return handlers["*"], (event, namespace, *args)
        return None, args

    def _namespace_handler(
        self, namespace: str, args: tuple[Any, ...]
    ) -> tuple[AsyncNamespace | None, tuple[Any, ...]]:
        if namespace in self.namespace_handlers:
            return self.namespace_handlers[namespace], args
        if "*" in self.namespace_handlers:
            return self.namespace_handlers["*"], (namespace, *args)
        return None, args

    async def _trigger(self, event: str, namespace: str, *args: Any) -> Any:
        handler, call_args = self._event_handler(event, namespace, args)
        if handler is not None:
            return await call(handler, *call_args)
        namespace_handler, call_args = self._namespace_handler(namespace, args)
        if namespace_handler is not None:
            return await namespace_handler.trigger_event(event, *call_args)
        return _NOT_HANDLED

    async def _trigger_fitted(self, event: str, namespace: str, *args: Any) -> Any:
        """Call a ``connect`` or ``disconnect`` handler with as many of ``args`` as
        it takes (the last one is optional)."""
        handler, call_args = self._event_handler(event, namespace, args)
        if handler is not None:
            return await call(handler, *fitted(handler, call_args))
        namespace_handler, call_args = self._namespace_handler(namespace, args)
        if namespace_handler is not None:
            return await namespace_handler.trigger_fitted(event, *call_args)
        return _NOT_HANDLED

    def _allows(self, namespace: str) -> bool:
        return (
            namespace in self.handlers
            or namespace in self.namespace_handlers
            or self.namespaces == "*"
            or namespace in self.namespaces
        )

    # -- sending -------------------------------------------------------------------

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: str | Sequence[str] | None = None,
        room: str | Sequence[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callback | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emit ``event`` to one client (its sid), a room, several rooms, or
        everyone in ``namespace``. A ``tuple`` as ``data`` is several arguments.
        ``callback`` is called with the client's ack, once per recipient.

        A broadcast encodes the packet once and puts it on each recipient's
        queue; a full queue is handled per recipient, as the engine's
        ``queue_full`` says (logged). With a manager that spans processes (such
        as :class:`~engineio_sc.socketio.AsyncRedisManager`), the clients of the
        other processes get it too, unless ``ignore_queue``.
        """
        await self.manager.emit(
            event,
            data,
            namespace or "/",
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            to=to,
            ignore_queue=ignore_queue,
        )

    async def send(
        self,
        data: Any,
        to: str | Sequence[str] | None = None,
        room: str | Sequence[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callback | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emit a ``message`` event."""
        await self.emit(
            "message",
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace,
            callback=callback,
            ignore_queue=ignore_queue,
        )

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit ``event`` to one client and wait for its ack, in a cancel scope of
        ``timeout`` seconds. With a manager that spans processes, the client may
        be another process's (then its going away is not seen: the call waits
        out its timeout, as python-socketio's does).

        Returns:
            The ack's argument, a tuple of them if there are several, ``None`` if
            none.

        Raises:
            TimeoutError: no ack within ``timeout``, or the client went away
                (:class:`engineio_sc.socketio.exceptions.TimeoutError`, also a
                builtin ``TimeoutError``).
            ValueError: no recipient given.
        """
        target = to or sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        waiter = AckWaiter()
        await self.emit(
            event, data, to=target, namespace=namespace, callback=waiter, ignore_queue=ignore_queue
        )
        try:
            args = await waiter.wait(timeout)
        except BaseException:  # timed out or cancelled: the ack is no longer awaited
            self.clients.forget(target, waiter)
            self.manager.forget_callback(waiter)
            raise
        if not args:
            return None
        return args[0] if len(args) == 1 else args

    # -- rooms and sessions ---------------------------------------------------------

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put ``sid`` in ``room``."""
        await self.manager.enter_room(sid, namespace or "/", room)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take ``sid`` out of ``room``."""
        await self.manager.leave_room(sid, namespace or "/", room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Empty ``room``."""
        await self.manager.close_room(room, namespace or "/")

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms ``sid`` is in, its own included."""
        return self.manager.get_rooms(sid, namespace or "/")

    def _socket(self, sid: str, namespace: str | None) -> Socket:
        socket = self.clients.sockets.get(sid)
        if socket is None or (namespace is not None and socket.namespace != namespace):
            raise KeyError("Session not found")
        return socket

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The application's session dict of ``sid``.

        Raises:
            KeyError: no such client.
        """
        return self._socket(sid, namespace).session

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """Replace the session dict of ``sid``.

        Raises:
            KeyError: no such client.
        """
        self._socket(sid, namespace).session = session

    @asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """``async with sio.session(sid) as session:``, saved on exit."""
        data = await self.get_session(sid, namespace)
        try:
            yield data
        finally:  # saved however the block ends, as python-socketio does
            await self.save_session(sid, data, namespace)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The environ of the request that opened ``sid``'s session, or ``None``."""
        socket = self.clients.sockets.get(sid)
        return None if socket is None else socket.client.environ

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``'polling'`` or ``'websocket'``.

        Raises:
            KeyError: no such client.
        """
        return self.eio.transport(self._socket(sid, namespace).client.eio_sid)

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnect ``sid`` from its namespace: it gets a ``DISCONNECT`` packet and
        the disconnect handler runs with ``reason.SERVER_DISCONNECT``. A sid that is
        none of this server's clients is the manager's (a manager that spans
        processes asks the others, unless ``ignore_queue``); an unknown sid is
        ignored."""
        socket = self.clients.sockets.get(sid)
        if socket is None or (namespace is not None and socket.namespace != namespace):
            if not ignore_queue:
                await self.manager.can_disconnect(sid, namespace)
            return
        client = socket.client
        if client.connection.leave(socket.namespace):
            await self.clients.deliver(
                client.eio_sid,
                socket.namespace,
                self.clients.encode(Packet(PacketType.DISCONNECT, socket.namespace)),
            )
            await self._drop(socket, self.reason.SERVER_DISCONNECT)

    async def _drop(self, socket: Socket, reason: str) -> None:
        """``socket`` has left its namespace: the disconnect handler runs (its
        session and rooms still there, as in python-socketio), then both go. A
        ``disconnect()`` of it from the handler does nothing."""
        client = socket.client
        client.connection.leave(socket.namespace)
        client.sockets.pop(socket.namespace, None)
        try:
            await self._trigger_fitted("disconnect", socket.namespace, socket.sid, reason)
        except Exception:
            self.logger.exception("disconnect handler error")
        finally:
            self.clients.sockets.pop(socket.sid, None)
        await self.manager.disconnect(socket.sid, socket.namespace, ignore_queue=True)

    # -- the engine's events -----------------------------------------------------------

    async def _on_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        if not self._manager_ready:
            self._manager_ready = True
            self.manager.initialize()
        now = anyio.current_time()
        eio = self.eio
        runner = Runner(
            self._run_event,
            partial(eio.start_session_task, eio_sid),
            HANDLERS_PER_CLIENT if self.async_handlers else 1,
            eio.options.max_queue_size,
        )
        connection = Connection(now, self.connect_timeout, self._json.loads)
        self.clients.clients[eio_sid] = Client(eio_sid, environ, connection, runner)
        self._deadlines.append((now + self.connect_timeout, eio_sid))
        if not self._watching:
            self._watching = True
            self.eio.start_background_task(self._watch_connects)

    async def _watch_connects(self) -> None:
        """Close each client that joins no namespace within ``connect_timeout``.
        The deadlines come in order, as the timeout is the same for all."""
        deadlines = self._deadlines
        try:
            while deadlines:
                deadline, eio_sid = deadlines[0]
                await anyio.sleep_until(deadline)
                deadlines.popleft()
                client = self.clients.clients.get(eio_sid)
                if client is not None and client.connection.connect_timed_out(deadline):
                    self.logger.info("%s: joined no namespace in time, closing it", eio_sid)
                    await self.eio.disconnect(eio_sid)
        finally:
            self._watching = False

    async def _on_eio_disconnect(self, eio_sid: str, reason: str) -> None:
        client = self.clients.remove(eio_sid)
        if client is None:
            return
        for socket in list(client.sockets.values()):
            if socket.held is None:
                await self._drop(socket, reason)
            else:
                await self.manager.disconnect(socket.sid, socket.namespace, ignore_queue=True)

    async def _on_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        client = self.clients.clients.get(eio_sid)
        if client is None:
            return
        try:
            event = client.connection.receive(data)
        except ProtocolViolation as exc:
            self.logger.warning("%s: %s, closing the connection", eio_sid, exc)
            await self.eio.disconnect(eio_sid)
            return
        if event is None:
            return
        if type(event) is EventReceived:
            await client.runner.put((client.sockets[event.namespace], event))
        elif type(event) is AckReceived:
            await self._on_ack(client, event)
        elif type(event) is ConnectRequested:
            await self._on_connect(client, event)
        else:
            socket = client.sockets.get(event.namespace)
            if socket is not None:
                await self._drop(socket, self.reason.CLIENT_DISCONNECT)

    async def _run_event(self, job: tuple[Socket, EventReceived]) -> None:
        socket, event = job
        namespace = event.namespace
        try:
            result = await self._trigger(event.data[0], namespace, socket.sid, *event.data[1:])
        except Exception:
            self.logger.exception("event handler error")
            return
        if event.id is not None and result is not _NOT_HANDLED:
            packet = Packet(PacketType.ACK, namespace, _ack_args(result), event.id)
            await self.clients.deliver(
                socket.client.eio_sid, namespace, self.clients.encode(packet)
            )

    async def _on_ack(self, client: Client, ack: AckReceived) -> None:
        callback = client.callbacks.pop(ack.id, None)
        if callback is None:
            return
        try:
            await call(callback, *ack.args)
        except Exception:
            self.logger.exception("ack callback error")

    async def _on_connect(self, client: Client, request: ConnectRequested) -> None:
        namespace = request.namespace
        clients = self.clients
        if not self._allows(namespace):
            client.connection.refused(namespace)
            error = Packet(PacketType.CONNECT_ERROR, namespace, {"message": "Invalid namespace"})
            await clients.send(client.eio_sid, clients.encode(error))
            return
        sid = self.eio.generate_id()
        socket = Socket(sid, namespace, client)
        client.sockets[namespace] = socket
        clients.sockets[sid] = socket
        self.manager.connect(client.eio_sid, namespace, sid)
        if self.always_connect:
            await self._accept(socket)
        else:
            clients.joining[(client.eio_sid, namespace)] = socket
        refusal: dict[str, Any] = ConnectionRefusedError().error_args
        try:
            verdict = await self._trigger_fitted(
                "connect", namespace, sid, client.environ, request.auth
            )
        except ConnectionRefusedError as exc:
            refusal, verdict = exc.error_args, False
        except Exception:
            self.logger.exception("connect handler error")
            verdict = False
        if verdict is False:
            await self._refuse(socket, refusal)
        elif not self.always_connect:
            await self._accept(socket)

    async def _accept(self, socket: Socket) -> None:
        """Send the ``CONNECT`` answer, then what was held for the socket. What is
        sent to it meanwhile is held too, so that nothing overtakes them."""
        client, namespace = socket.client, socket.namespace
        clients = self.clients
        key = (client.eio_sid, namespace)
        clients.joining[key] = socket
        socket.held = held = socket.held or []
        client.connection.accepted(namespace)
        answer = Packet(PacketType.CONNECT, namespace, {"sid": socket.sid})
        try:
            await clients.send(client.eio_sid, clients.encode(answer))
            while held:
                await clients.send(client.eio_sid, held.pop(0))
        finally:
            clients.joining.pop(key, None)
            socket.held = None

    async def _refuse(self, socket: Socket, refusal: dict[str, Any]) -> None:
        client, namespace = socket.client, socket.namespace
        clients = self.clients
        clients.joining.pop((client.eio_sid, namespace), None)
        client.sockets.pop(namespace, None)
        clients.sockets.pop(socket.sid, None)
        if self.always_connect and client.connection.leave(namespace):
            packet = Packet(PacketType.DISCONNECT, namespace)  # clients refuse a payload
        else:
            client.connection.refused(namespace)
            packet = Packet(PacketType.CONNECT_ERROR, namespace, refusal)
        await self.manager.disconnect(socket.sid, namespace, ignore_queue=True)
        await clients.send(client.eio_sid, clients.encode(packet))

    # -- the engine's lifecycle ----------------------------------------------------------

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """Serve one request (the engine's ``handle_request``)."""
        return await self.eio.handle_request(*args, **kwargs)

    def start_background_task(
        self, target: Callable[..., Awaitable[Any] | Any], *args: Any, **kwargs: Any
    ) -> BackgroundTask:
        """Start a task in the server's task group (the engine's)."""
        return self.eio.start_background_task(target, *args, **kwargs)

    async def sleep(self, seconds: float = 0) -> None:
        """Sleep."""
        await self.eio.sleep(seconds)

    async def shutdown(self) -> None:
        """Close every client and stop the server's tasks."""
        await self.eio.shutdown()

    def is_asyncio_based(self) -> bool:
        """True, as python-socketio's ``AsyncServer`` says."""
        return True

    async def __aenter__(self) -> AsyncServer:
        await self.eio.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self.eio.__aexit__(exc_type, exc, tb)
