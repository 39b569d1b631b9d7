"""Class-based namespaces: :class:`AsyncNamespace`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ._calls import call, fitted

if TYPE_CHECKING:
    from ._manager import Callback
    from ._server import AsyncServer

__all__ = ["AsyncNamespace"]


class AsyncNamespace:
    """A namespace whose handlers are its methods: the event ``foo`` calls
    ``on_foo``. Register it with :meth:`AsyncServer.register_namespace`.

    Args:
        namespace: its name, ``'/'`` by default; ``'*'`` for every namespace not
            registered otherwise (its handlers then get the namespace first).
    """

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"
        self._server: AsyncServer | None = None

    def _set_server(self, server: AsyncServer) -> None:
        self._server = server

    @property
    def server(self) -> AsyncServer:
        """The server it is registered with."""
        if self._server is None:
            raise RuntimeError("the namespace is not registered with a server")
        return self._server

    def is_asyncio_based(self) -> bool:
        """True, as python-socketio's ``AsyncNamespace`` says."""
        return True

    def _handler(self, event: str) -> Any:
        return getattr(self, "on_" + event, None)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Call the handler of ``event``, if it has one."""
        handler = self._handler(event)
        return None if handler is None else await call(handler, *args)

    async def trigger_fitted(self, event: str, *args: Any) -> Any:
        """As :meth:`trigger_event`, leaving out the last argument if the handler
        does not take it (``connect`` without ``auth``, ``disconnect`` without
        ``reason``)."""
        handler = self._handler(event)
        return None if handler is None else await call(handler, *fitted(handler, args))

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
        """:meth:`AsyncServer.emit` in this namespace."""
        await self.server.emit(
            event,
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace or self.namespace,
            callback=callback,
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
        """:meth:`AsyncServer.send` in this namespace."""
        await self.server.send(
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace or self.namespace,
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
        """:meth:`AsyncServer.call` in this namespace."""
        return await self.server.call(
            event,
            data,
            to=to,
            sid=sid,
            namespace=namespace or self.namespace,
            timeout=timeout,
            ignore_queue=ignore_queue,
        )

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.enter_room` in this namespace."""
        await self.server.enter_room(sid, room, namespace=namespace or self.namespace)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.leave_room` in this namespace."""
        await self.server.leave_room(sid, room, namespace=namespace or self.namespace)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.close_room` in this namespace."""
        await self.server.close_room(room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """:meth:`AsyncServer.rooms` in this namespace."""
        return self.server.rooms(sid, namespace=namespace or self.namespace)

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """:meth:`AsyncServer.get_session` in this namespace."""
        return await self.server.get_session(sid, namespace=namespace or self.namespace)

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """:meth:`AsyncServer.save_session` in this namespace."""
        await self.server.save_session(sid, session, namespace=namespace or self.namespace)

    @asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """:meth:`AsyncServer.session` in this namespace."""
        async with self.server.session(sid, namespace=namespace or self.namespace) as data:
            yield data

    async def disconnect(self, sid: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.disconnect` in this namespace."""
        await self.server.disconnect(sid, namespace=namespace or self.namespace)
