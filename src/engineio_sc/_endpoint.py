"""The Engine.IO endpoint: one polling request or WebSocket in, a response out.

It classifies each request with the protocol core, checks its origin, opens
sessions (running the connect handler), routes polls, posts and upgrades to their
session, and adds the CORS, cookie and compression headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from ._backend import task_group
from ._compression import compress
from ._http import (
    ClientGone,
    Headers,
    HTTPConnection,
    HTTPRequest,
    HTTPResponse,
    WebSocket,
    WebSocketClosed,
    error_response,
)
from ._lifecycle import Lifecycle
from ._polling import CLOSE_TEXT, PollingTransport
from ._reasons import DisconnectReason
from ._session import Session, SessionContext
from ._tasks import call_handler
from ._websocket import upgrade
from .exceptions import ContentTooLongError, ErrorCode, ProtocolError, RequestRefused
from .protocol import (
    Handshake,
    OpenPacket,
    Packet,
    Poll,
    Preflight,
    Request,
    Transport,
    WebSocketJoin,
    classify,
)

__all__ = ["Endpoint", "LogOnce"]

LogOnce = Callable[..., None]
"""``log_once(key, message, *args)``: an error logged loudly the first time."""

_TEXT = ("Content-Type", "text/plain; charset=UTF-8")
_NO_STORE = ("Cache-Control", "no-store")

FAREWELL_TIMEOUT = 1.0
"""Seconds a cancelled poll may spend writing its close packet."""


def _cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is the backend's cancellation (alone or in a group, as a
    trio nursery raises it)."""
    cancelled = anyio.get_cancelled_exc_class()
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(cancelled)[1] is None
    return isinstance(exc, cancelled)


def _refused_origin() -> RequestRefused:
    return RequestRefused(ErrorCode.BAD_REQUEST, message="Origin not allowed", detail="bad origin")


class Endpoint:
    """Serves requests for one :class:`~engineio_sc.AsyncServer`.

    Args:
        context: what its sessions are given (settings, handlers, registry).
        lifecycle: the server's task group, where polling sessions run.
        generate_id: makes the sid of a new session.
        log_once: logs a refusal loudly the first time, quietly after.
    """

    def __init__(
        self,
        context: SessionContext,
        lifecycle: Lifecycle,
        generate_id: Callable[[], str],
        log_once: LogOnce,
    ) -> None:
        self._context = context
        self._registry = context.registry
        self._lifecycle = lifecycle
        self._generate_id = generate_id
        self._options = options = context.options
        self._log = log_once
        self._open_packets = {
            transport: OpenPacket(
                upgrades=options.upgrades(transport),
                ping_interval=options.ping_interval + options.ping_interval_grace,
                ping_timeout=options.ping_timeout,
                max_payload=options.max_http_buffer_size,
            )
            for transport in Transport
        }

    def _classify(self, request: HTTPRequest, *, websocket: bool) -> Request:
        return classify(
            request.method,
            request.query,
            websocket=websocket,
            transports=self._options.transports,
            session_transport=self._registry.transport_of,
        )

    # -- sessions --------------------------------------------------------------

    async def _open(self, transport: Transport, request: HTTPRequest) -> Session | HTTPResponse:
        """Create a session and run the connect handler: the session, or the 401."""
        refusal = self._registry.refusal()
        if refusal is not None:
            raise RequestRefused(ErrorCode.BAD_REQUEST, status=503, message=refusal)
        handlers = self._context.handlers
        wanted = self._options.allow_request is not None or handlers.has_connect
        environ: dict[str, Any] = request.environ() if wanted else {}  # only for a handler
        if self._options.allow_request is not None:
            verdict = await call_handler(self._options.allow_request, environ)
            if verdict is not True:
                message = verdict if isinstance(verdict, str) else None
                raise RequestRefused(ErrorCode.FORBIDDEN, status=403, message=message)
        sid = self._generate_id()
        session = Session(self._context, sid, transport)
        self._registry.add(session)
        polling = transport is Transport.POLLING
        if polling:  # the session outlives this request: it runs in the server's group
            await self._lifecycle.group().start(session.run)
        try:
            unauthorized = await handlers.connect(sid, environ)
        except BaseException:  # cancelled
            self._abandon(session, started=polling)
            raise
        if unauthorized is not None:
            self._abandon(session, started=polling)
            body = self._options.json.dumps(unauthorized).encode()
            return HTTPResponse(401, body, [("Content-Type", "application/json")])
        session.accept()
        return session

    @staticmethod
    def _abandon(session: Session, *, started: bool) -> None:
        """Close a session refused by its connect handler; end it if it never ran."""
        session.close(DisconnectReason.SERVER_DISCONNECT, abort=True)
        if not started:
            session.end()

    def _routed(self, sid: str) -> Session:
        """The session of a request that :func:`classify` routed to ``sid``."""
        session = self._registry.get(sid)
        if session is None:  # classify() found it: it cannot have gone since
            raise ProtocolError(ErrorCode.UNKNOWN_SID, detail=f"unknown sid {sid!r}")
        return session

    def _open_packet(self, session: Session) -> Packet:
        return self._open_packets[session.transport].for_sid(session.sid)

    def _cookie(self, session: Session) -> Headers:
        cookie = self._options.cookie
        return [] if cookie is None else [cookie.header(session.sid)]

    # -- polling ---------------------------------------------------------------

    async def http(self, request: HTTPRequest, conn: HTTPConnection) -> HTTPResponse:
        """Serve one polling request (or a CORS preflight)."""
        cors = self._options.cors.check(request)
        if cors is None:
            response = self._refuse(request, _refused_origin())
        else:
            response = await self._route(request, conn)
            response.headers.extend(cors)
        if self._options.http_compression:
            compress(
                response,
                request.headers.get("accept-encoding"),
                self._options.compression_threshold,
            )
        return response

    def _refuse(self, request: HTTPRequest, error: RequestRefused) -> HTTPResponse:
        self._log(
            f"refused:{error.code}:{error.status}:{error.message}",
            "%s request refused (%s): %s",
            request.method,
            request.headers.get("origin") or "no origin",
            error,
        )
        return error_response(error)

    async def _route(self, request: HTTPRequest, conn: HTTPConnection) -> HTTPResponse:
        try:
            kind = self._classify(request, websocket=False)
            if isinstance(kind, Preflight):
                return HTTPResponse(204, b"", self._options.cors.preflight(request))
            if isinstance(kind, Handshake):
                opened = await self._open(Transport.POLLING, request)
                if isinstance(opened, HTTPResponse):
                    return opened
                body = opened.payload(self._open_packet(opened))
                headers = [_TEXT, _NO_STORE, *self._cookie(opened)]
                return HTTPResponse(200, body.encode(), headers)
            session = self._routed(kind.sid)
            polling = session.polling
            if polling is None:  # a session opened on WebSocket: classify() refused it
                raise ProtocolError(ErrorCode.BAD_REQUEST, detail="transport mismatch")
            if isinstance(kind, Poll):
                return await self._poll(session, polling, conn)
            await polling.post(conn.read_body)
            return HTTPResponse(200, b"ok", [("Content-Type", "text/html")])
        except RequestRefused as exc:
            return self._refuse(request, exc)
        except ContentTooLongError as exc:
            self._log("too-long", "POST refused: %s", exc)
            return HTTPResponse(413, close_connection=True)
        except ClientGone:
            sid = request.query.get("sid")
            self._context.logger.info("%s: the client went away during its POST body", sid)
            return HTTPResponse(499)  # for no one: the adapter's write goes nowhere

    async def _poll(
        self, session: Session, polling: PollingTransport, conn: HTTPConnection
    ) -> HTTPResponse:
        payload = polling.ready()
        if payload is not None:  # no waiting, so no need to watch for the client leaving
            return HTTPResponse(200, payload.encode(), [_TEXT, _NO_STORE])
        refusal: ProtocolError | None = None
        try:
            async with task_group() as tg:

                async def watch() -> None:
                    await conn.wait_disconnected()
                    tg.cancel_scope.cancel()

                tg.start_soon(watch)
                try:
                    payload = await polling.poll()
                except ProtocolError as exc:
                    refusal = exc
                tg.cancel_scope.cancel()
        except BaseException as exc:
            if _cancellation(exc):
                await self._farewell(session, conn)
            raise
        if refusal is not None:
            raise refusal
        if payload is None:  # the client went away: nothing was taken from the queue
            return HTTPResponse(499)
        return HTTPResponse(200, payload.encode(), [_TEXT, _NO_STORE])

    async def _farewell(self, session: Session, conn: HTTPConnection) -> None:
        """The held poll was cancelled from outside: the ASGI server took the
        request away (Hypercorn does, at its graceful timeout, when it stops).
        It was the session's transport, so the session closes, and the poll is
        answered with the close packet if the connection can still carry it."""
        self._context.logger.info("%s: its held poll was cancelled, closing", session.sid)
        session.close(DisconnectReason.TRANSPORT_CLOSE, abort=True)
        with anyio.CancelScope(shield=True), anyio.move_on_after(FAREWELL_TIMEOUT):
            await conn.farewell(HTTPResponse(200, CLOSE_TEXT.encode(), [_TEXT, _NO_STORE]))

    # -- websocket -------------------------------------------------------------

    async def websocket(self, request: HTTPRequest, ws: WebSocket) -> Session | None:
        """Serve one WebSocket request: open a new session, accepted, its open
        packet sent, and return it for the caller to run on ``ws``; or serve the
        upgrade of a session, and return ``None``."""
        try:
            if self._options.cors.check(request) is None:
                raise _refused_origin()
            kind = self._classify(request, websocket=True)
            if isinstance(kind, Handshake):
                return await self._websocket_session(request, ws)
            assert isinstance(kind, WebSocketJoin)
            if not self._options.allow_upgrades:
                raise ProtocolError(ErrorCode.BAD_REQUEST, detail="upgrades are disabled")
            await upgrade(self._routed(kind.sid), ws)
        except RequestRefused as exc:
            await ws.deny(self._refuse(request, exc))
        return None

    async def _websocket_session(self, request: HTTPRequest, ws: WebSocket) -> Session | None:
        opened = await self._open(Transport.WEBSOCKET, request)
        if isinstance(opened, HTTPResponse):
            await ws.deny(opened)
            return None
        try:
            await ws.accept(self._cookie(opened))
            await ws.send(self._open_packet(opened).encode())
        except BaseException as exc:  # the client left (or the request was cancelled)
            opened.close(DisconnectReason.TRANSPORT_CLOSE, abort=True)
            with anyio.move_on_after(self._options.close_timeout, shield=True):
                await opened.run()  # it ends at once, telling the disconnect handler
            if isinstance(exc, WebSocketClosed):
                return None
            raise
        return opened
