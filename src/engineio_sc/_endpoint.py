"""The Engine.IO endpoint: one polling request or WebSocket in, a response out.

It classifies each request with the protocol core, checks its origin, opens
sessions (running the connect handler), routes polls, posts and upgrades to their
session, and adds the CORS, cookie and compression headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from ._backend import task_group
from ._compression import compress
from ._http import (
    Headers,
    HTTPConnection,
    HTTPRequest,
    HTTPResponse,
    WebSocket,
    WebSocketClosed,
    error_response,
)
from ._reasons import DisconnectReason
from ._session import CLOSE_TEXT, Session
from ._tasks import call_handler
from .exceptions import ContentTooLongError, ErrorCode, ProtocolError
from .protocol import (
    Handshake,
    OpenPacket,
    Packet,
    Poll,
    Preflight,
    Request,
    SessionState,
    Transport,
    WebSocketJoin,
    classify,
    encode_polling,
)

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["Endpoint"]

_TEXT = ("Content-Type", "text/plain; charset=UTF-8")
_NO_STORE = ("Cache-Control", "no-store")
_UNROUTABLE = (SessionState.HANDSHAKE, SessionState.CLOSED)

FAREWELL_TIMEOUT = 1.0
"""Seconds a cancelled poll may spend writing its close packet."""


def _cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is the backend's cancellation (alone or in a group, as a
    trio nursery raises it)."""
    cancelled = anyio.get_cancelled_exc_class()
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(cancelled)[1] is None
    return isinstance(exc, cancelled)


def _refused_origin() -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, message="Origin not allowed", detail="bad origin")


class Endpoint:
    """Serves requests for one :class:`~engineio_sc.AsyncServer`."""

    def __init__(self, server: AsyncServer) -> None:
        self._server = server
        self._options = server.options
        self._log = server._log_once
        options = self._options
        self._open_packets = {
            transport: OpenPacket(
                upgrades=options.upgrades(transport),
                ping_interval=options.ping_interval + options.ping_interval_grace,
                ping_timeout=options.ping_timeout,
                max_payload=options.max_http_buffer_size,
            )
            for transport in Transport
        }

    def _transport_of(self, sid: str) -> Transport | None:
        session = self._server._sessions.get(sid)
        if session is None or session.machine.state in _UNROUTABLE:
            return None
        return session.transport

    def _classify(self, request: HTTPRequest, *, websocket: bool) -> Request:
        return classify(
            request.method,
            request.query,
            websocket=websocket,
            transports=self._options.transports,
            session_transport=self._transport_of,
        )

    # -- sessions --------------------------------------------------------------

    async def _open(self, transport: Transport, request: HTTPRequest) -> Session | HTTPResponse:
        """Create a session and run the connect handler: the session, or the 401."""
        server = self._server
        if not server._lifecycle.accepting:
            raise ProtocolError(ErrorCode.BAD_REQUEST, status=503, message="Server shutting down")
        limit = self._options.max_sessions
        if limit is not None and len(server._sessions) >= limit:
            raise ProtocolError(ErrorCode.BAD_REQUEST, status=503, message="Too many sessions")
        wanted = self._options.allow_request is not None or "connect" in server.handlers
        environ = request.environ() if wanted else {}  # built only for a handler to read
        if self._options.allow_request is not None:
            verdict = await call_handler(self._options.allow_request, environ)
            if verdict is not True:
                message = verdict if isinstance(verdict, str) else None
                raise ProtocolError(ErrorCode.FORBIDDEN, status=403, message=message)
        sid = server.generate_id()
        session = Session(server, sid, transport)
        server._sessions[sid] = session
        polling = transport is Transport.POLLING
        if polling:  # the session outlives this request: it runs in the server's group
            await server._group().start(session.run)
        try:
            refusal = await server._fire_connect(sid, environ)
        except BaseException:  # cancelled
            self._abandon(session, started=polling)
            raise
        if refusal is not None:
            self._abandon(session, started=polling)
            body = self._options.json.dumps(refusal).encode()
            return HTTPResponse(401, body, [("Content-Type", "application/json")])
        session.accept()
        return session

    @staticmethod
    def _abandon(session: Session, *, started: bool) -> None:
        """Close a session refused by its connect handler; end it if it never ran."""
        session.close(DisconnectReason.SERVER_DISCONNECT, abort=True)
        if not started:
            session.end()

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

    def _refuse(self, request: HTTPRequest, error: ProtocolError) -> HTTPResponse:
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
                body = opened.take_payload([encode_polling(self._open_packet(opened))])
                headers = [_TEXT, _NO_STORE, *self._cookie(opened)]
                return HTTPResponse(200, body.encode(), headers)
            session = self._server._sessions[kind.sid]
            if isinstance(kind, Poll):
                return await self._poll(session, conn)
            await session.post(conn.read_body)
            return HTTPResponse(200, b"ok", [("Content-Type", "text/html")])
        except ProtocolError as exc:
            return self._refuse(request, exc)
        except ContentTooLongError as exc:
            self._log("too-long", "POST refused: %s", exc)
            return HTTPResponse(413, close_connection=True)

    async def _poll(self, session: Session, conn: HTTPConnection) -> HTTPResponse:
        payload = session.poll_ready()
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
                    payload = await session.poll()
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
        self._server.logger.info("%s: its held poll was cancelled, closing", session.sid)
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
            await self._server._sessions[kind.sid].upgrade(ws)
        except ProtocolError as exc:
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
