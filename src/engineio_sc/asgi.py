"""``ASGIApp``: the ASGI application that serves an :class:`~engineio_sc.AsyncServer`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from ._asgi import ASGIMessage, Receive, Scope, Send, send_response, serve
from ._http import HTTPResponse
from ._static import as_rules, find_static_file, read_static_file
from ._tasks import call_handler

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["ASGIApp"]

ASGIApplication = Callable[[Scope, Receive, Send], Any]
Hook = Callable[[], Any]

_log = logging.getLogger("engineio_sc.asgi")


class _LifespanRelay:
    """Runs another application's lifespan in a task, one step at a time."""

    def __init__(self, app: ASGIApplication, scope: Scope) -> None:
        self._app = app
        self._scope = scope
        self._to_app, self._app_inbox = anyio.create_memory_object_stream[ASGIMessage](1)
        self._app_outbox, self._from_app = anyio.create_memory_object_stream[ASGIMessage](1)

    async def run(self) -> None:
        with self._app_inbox, self._app_outbox:
            try:
                await self._app(self._scope, self._app_inbox.receive, self._app_outbox.send)
            except Exception:
                _log.info("the other application does not take lifespan events", exc_info=True)

    async def step(self, message: ASGIMessage) -> str | None:
        """Send one lifespan message; ``None`` on success, else the failure text."""
        try:
            await self._to_app.send(message)
            reply = await self._from_app.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None  # the other app has no lifespan support: nothing to wait for
        if str(reply["type"]).endswith(".failed"):
            return str(reply.get("message", ""))
        return None

    def close(self) -> None:
        self._to_app.close()
        self._from_app.close()


class ASGIApp:
    """An ASGI application serving Engine.IO, optionally in front of another app.

    Routing: the Engine.IO path goes to the server; other requests go to
    ``other_asgi_app``, or get a 404.

    The lifespan opens the server's task group (``async with engineio_server``),
    runs ``on_startup`` and ``on_shutdown`` (sync or async), and is relayed to
    ``other_asgi_app`` too, hooks or not. While the lifespan runs, SIGTERM and
    SIGINT start the server's shutdown before the ASGI server's own handler
    (see :meth:`~engineio_sc.AsyncServer.shutdown_on_signals`). Without
    lifespan events (when mounted under a router that does not forward them),
    the first request opens the server's task group in a task of its own.

    Args:
        engineio_server: the :class:`~engineio_sc.AsyncServer`.
        other_asgi_app: the application for every other request.
        static_files: URL paths mapped to files or folders to serve, in
            python-engineio's format (see :mod:`engineio_sc._static`); read in a
            worker thread, never outside their folder.
        engineio_path: the Engine.IO path (``'engine.io'``), or ``None`` to take
            every request (for mounting under a router).
        on_startup: called once the server is running.
        on_shutdown: called before the server shuts down.
    """

    def __init__(
        self,
        engineio_server: AsyncServer,
        other_asgi_app: ASGIApplication | None = None,
        static_files: dict[str, Any] | None = None,
        engineio_path: str | None = "engine.io",
        on_startup: Hook | None = None,
        on_shutdown: Hook | None = None,
    ) -> None:
        self.engineio_server = engineio_server
        self.other_asgi_app = other_asgi_app
        self.static_files = as_rules(static_files)
        self.engineio_path = None if engineio_path is None else "/" + engineio_path.strip("/") + "/"
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    def _is_engineio(self, scope: Scope) -> bool:
        if self.engineio_path is None:
            return True
        return (str(scope.get("path", "")) + "/").startswith(self.engineio_path)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry point (typed loosely so every server's typing accepts it)."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
        elif kind in ("http", "websocket") and self._is_engineio(scope):
            await serve(self.engineio_server, scope, receive, send)
        elif kind == "http" and self.static_files and await self._static(scope, send):
            return
        elif self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
        elif kind == "http":
            await send_response(
                send, HTTPResponse(404, b"Not Found", [("Content-Type", "text/plain")])
            )
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _static(self, scope: Scope, send: Send) -> bool:
        """Serve a static file if the URL maps to one; ``False`` if it does not."""
        if scope.get("method") not in ("GET", "HEAD"):
            return False
        file = find_static_file(str(scope.get("path", "")), self.static_files)
        if file is None:
            return False
        body = await read_static_file(file)
        if body is None:
            return False
        response = HTTPResponse(200, body, [("Content-Type", file.content_type)])
        if scope["method"] == "HEAD":
            response.headers.append(("Content-Length", str(len(body))))
            response.body = b""
        await send_response(send, response)
        return True

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        relay = None if self.other_asgi_app is None else _LifespanRelay(self.other_asgi_app, scope)
        async with anyio.create_task_group() as tg:
            if relay is not None:
                tg.start_soon(relay.run)
            try:
                await self._run_lifespan(relay, message, receive, send)
            finally:
                if relay is not None:
                    relay.close()

    async def _run_lifespan(
        self, relay: _LifespanRelay | None, message: ASGIMessage, receive: Receive, send: Send
    ) -> None:
        phase = "startup"
        try:
            async with contextlib.AsyncExitStack() as stack:
                if not self.engineio_server.running:  # else the program's own `async with` owns it
                    await stack.enter_async_context(self.engineio_server)
                    stack.enter_context(self.engineio_server.shutdown_on_signals())
                failure = await relay.step(message) if relay else None
                if failure is not None:
                    await send({"type": "lifespan.startup.failed", "message": failure})
                    return
                if self.on_startup is not None:
                    await call_handler(self.on_startup)
                await send({"type": "lifespan.startup.complete"})
                while message["type"] != "lifespan.shutdown":
                    message = await receive()
                phase = "shutdown"
                if self.on_shutdown is not None:
                    await call_handler(self.on_shutdown)
        except Exception as exc:
            _log.exception("lifespan %s failed", phase)
            await send({"type": f"lifespan.{phase}.failed", "message": str(exc)})
            return
        failure = await relay.step(message) if relay else None
        if failure is not None:
            await send({"type": "lifespan.shutdown.failed", "message": failure})
            return
        await send({"type": "lifespan.shutdown.complete"})
