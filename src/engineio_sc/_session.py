"""One session's task group: its outbound stream, heartbeat, dispatcher and transports.

A :class:`Session` lives from its handshake until it is closed and drained. A
session opened on polling runs in the server's task group (it outlives each
request); one opened on WebSocket runs in the task of its WebSocket request, which
has nothing else to do meanwhile. Its own task group (trio's nursery on trio,
anyio's task group on asyncio) holds:

- the session's main task, which is its heartbeat while the session is open: it
  waits on a wake-up whose deadline the protocol machine sets, sends pings and
  closes the session when a pong is late; then it winds the session down;
- the dispatcher task, started with the first message: it hands received
  messages to the ``message`` handler, one at a time and in order (with
  ``async_handlers``);
- on WebSocket, the reader task, and the writer task while packets wait for it.

Queues are only waited on when they are empty (or full): a packet that can go
through at once does, without a trip through the event loop. On WebSocket a
sender writes its packet itself when nothing is queued or being written; when
something is, the packet is queued and a writer task writes the queue in order,
ending once it is empty (so an idle session holds no writer).

Polling ``GET`` and ``POST`` requests run in their own request tasks and meet the
session through its bounded outbound stream and a few cancel scopes.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._backend import Event, Signal, TaskGroup, clock, event_type, signal_type, task_group
from ._http import WebSocket, WebSocketClosed
from ._options import Options
from ._reasons import DisconnectReason
from ._statistics import SessionStatistics
from .exceptions import ErrorCode, ProtocolError, QueueFullError, SocketIsClosedError
from .protocol import (
    SEPARATOR,
    ClientClosed,
    MessageReceived,
    Packet,
    PacketType,
    PingDue,
    PingTimedOut,
    PollReleased,
    PollVerdict,
    SessionMachine,
    SessionState,
    Transport,
    decode_binary_frame,
    decode_payload,
    decode_text,
    encode_polling,
)

if TYPE_CHECKING:
    from ._server import AsyncServer

__all__ = ["Session"]

PING = Packet(PacketType.PING)
CLOSE = Packet(PacketType.CLOSE)
NOOP = Packet(PacketType.NOOP)
CLOSE_TEXT = encode_polling(CLOSE)
NOOP_TEXT = encode_polling(NOOP)

WS_MESSAGE_TOO_BIG = 1009
WS_PROTOCOL_ERROR = 1002

Message = str | bytes
Outbound = tuple[MemoryObjectSendStream[Packet], MemoryObjectReceiveStream[Packet]]


class Session:
    """One Engine.IO session and the tasks that serve it."""

    __slots__ = (
        "_closing",
        "_direct",
        "_direct_done",
        "_dispatched",
        "_done",
        "_drained",
        "_drained_event",
        "_event",
        "_held",
        "_inbound",
        "_inbound_ready",
        "_inbound_space",
        "_log",
        "_now",
        "_options",
        "_out",
        "_poll",
        "_posting",
        "_reason",
        "_release",
        "_server",
        "_tg",
        "_told",
        "_upgrading",
        "_wake",
        "_writer",
        "_ws",
        "accepted",
        "data",
        "ended",
        "machine",
        "messages_in",
        "messages_out",
        "sid",
    )

    def __init__(self, server: AsyncServer, sid: str, transport: Transport) -> None:
        options: Options = server.options
        self.sid = sid
        self.data: dict[str, Any] = {}
        self.machine = SessionMachine(
            transport, ping_interval=options.ping_interval, ping_timeout=options.ping_timeout
        )
        self._server = server
        self._options = options
        self._log: logging.Logger = server.logger
        self._now = clock()
        self._event = event_type()
        self._out: Outbound | None = None  # created when first needed (see _outbound)
        self._inbound: deque[Message] | None = None  # received, for the dispatcher
        self._inbound_ready: Signal | None = None  # wakes the dispatcher, once it runs
        self._inbound_space: Event | None = None  # the reader waits for room
        self._tg: TaskGroup | None = None
        self._closing = False
        self._drained = False
        self._drained_event: Event | None = None
        self._dispatched: Event | None = None
        self.ended = False  # run() has returned, or the session never ran
        self._done: Event | None = None  # created for those who wait for the end
        self._reason = DisconnectReason.SERVER_DISCONNECT
        self.accepted = False
        self._told = False  # the disconnect handler has been run
        self._wake: Signal | None = None  # wakes the heartbeat: its deadline moved, or closing
        self._poll: anyio.CancelScope | None = None  # a pending GET waits in it
        self._release: Packet | None = None
        self._posting = False
        self._upgrading: anyio.CancelScope | None = None  # a WebSocket joining
        self._held: Packet | None = None
        self._ws: WebSocket | None = None  # the WebSocket, while the session is on it
        self._writer: anyio.CancelScope | None = None  # the running writer's scope
        self._direct = False  # a sender is writing on the WebSocket itself
        self._direct_done: Event | None = None
        self.messages_in = 0
        self.messages_out = 0
        if transport is Transport.POLLING:
            self._outbound()  # every poll reads it

    # -- life --------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """The current transport."""
        return self.machine.transport

    @property
    def done(self) -> Event:
        """Set once the session has ended (:meth:`run` has returned)."""
        if self._done is None:
            self._done = self._event()
            if self.ended:
                self._done.set()
        return self._done

    async def run(
        self,
        ws: WebSocket | None = None,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve the session until it is closed and drained: in the server's group
        for a polling session, in its request's task, on ``ws``, for a WebSocket one.

        This task is the session's heartbeat while the session is open (in this
        frame, not a nested one: an idle session is mostly this wait)."""
        try:
            async with task_group() as tg:
                self._tg = tg
                task_status.started()
                if ws is not None:
                    tg.start_soon(self._websocket, ws)
                machine = self.machine
                self._wake = wake = signal_type()()
                while not self._closing:
                    await wake.wait(machine.deadline or math.inf)
                    if not self._closing:
                        await self._beat()
                await self._wind_down()
                if self._busy():
                    tg.cancel_scope.cancel()
        except Exception:
            # A transport raised what none of its errors say (a framework's bug, or
            # its misuse): this session ends, the server and its other sessions go on.
            self._log.exception("%s: the session failed, closing it", self.sid)
            self.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
            with anyio.move_on_after(self._options.close_timeout):
                await self._tell_disconnect()
        finally:
            self.end()

    def cancel(self) -> bool:
        """Cancel what is left of the session's tasks (the server is shutting
        down). Returns whether they were running."""
        if self._tg is None or self.ended:
            return False
        self._tg.cancel_scope.cancel()
        return True

    def _busy(self) -> bool:
        """Whether a task of the session is still running: the dispatcher (in a
        handler that outlived ``close_timeout``), or a WebSocket reader or writer."""
        dispatching = self._dispatched is not None and not self._dispatched.is_set()
        return dispatching or self._ws is not None or self._writer is not None

    async def _wind_down(self) -> None:
        """Let the handlers finish what was received, tell the disconnect handler,
        and give the client ``close_timeout`` to take what is queued."""
        timeout = self._options.close_timeout
        if self._dispatched is not None:
            with anyio.move_on_after(timeout):
                await self._dispatched.wait()
        await self._tell_disconnect()
        if not self._drained:
            self._drained_event = self._event()
            with anyio.move_on_after(timeout):
                await self._drained_event.wait()

    async def _tell_disconnect(self) -> None:
        """Run the disconnect handler of an accepted session, once."""
        if self.accepted and not self._told:
            self._told = True
            await self._server._fire_disconnect(self.sid, self._reason)

    def accept(self) -> None:
        """The connect handler accepted: start the heartbeat."""
        self.machine.accept(self._now())
        self.accepted = True
        self._reschedule()

    def _reschedule(self) -> None:
        """The heartbeat's deadline moved: it waits for the new one."""
        if self._wake is not None:
            self._wake.set()

    def close(self, reason: str, *, abort: bool = False, release: Packet = CLOSE) -> None:
        """Close the session (does nothing if it is already closing).

        Args:
            reason: the reason given to the disconnect handler.
            abort: drop what is queued and forget the sid at once, instead of
                delivering the queue and the close packet first (within
                ``close_timeout``).
            release: what a pending polling ``GET`` is answered with on abort.
        """
        if not self.machine.close():
            return
        self._reason = reason
        self._closing = True
        self._wake_dispatcher()
        if self._inbound_space is not None:  # a reader waiting for room gives up
            self._inbound_space.set()
        if self._out is not None:
            self._out[0].close()
        if abort or self.machine.state is SessionState.CLOSED:
            self._discard_outbound()
            self._mark_drained()
            self._release = release
        self._wake_poll()  # a pending GET is answered as a closed session's
        if self._upgrading is not None:  # a joining WebSocket is closed
            self._upgrading.cancel()
        self._queued()  # on WebSocket, the writer delivers the rest and ends it
        if self._wake is not None:
            self._wake.set()  # the main task moves on to winding down

    def _discard_outbound(self) -> None:
        self._held = None
        if self._out is None:
            return
        while True:
            try:
                self._out[1].receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return

    def _mark_drained(self) -> None:
        """Everything is delivered or dropped: the sid stops being routable."""
        self._drained = True
        if self._drained_event is not None:
            self._drained_event.set()
        self.machine.drained()

    def end(self) -> None:
        """The session is over: forget its sid and wake those waiting for the end.
        Called by :meth:`run`, or instead of it for a session refused before it ran."""
        self._server._session_ended(self)
        self.machine.drained()
        if self._out is not None:
            self._out[1].close()
        self.ended = True
        if self._done is not None:
            self._done.set()

    # -- outbound --------------------------------------------------------------

    def _outbound(self) -> Outbound:
        """The outbound stream, created when first needed: a WebSocket session whose
        sends all go straight out never needs one. Once the session is closing, the
        stream is closed, even if it is only now created."""
        if self._out is None:
            self._out = anyio.create_memory_object_stream[Packet](self._options.max_queue_size)
            if self._closing:
                self._out[0].close()
        return self._out

    def _backlog(self) -> int:
        """How many packets wait in the outbound stream."""
        return 0 if self._out is None else self._out[0].statistics().current_buffer_used

    async def send(self, packet: Packet) -> bool:
        """Queue a packet. When the queue is full, wait, raise or disconnect, as
        the ``queue_full`` option says.

        Returns:
            ``False`` if the session is closing or closed: the packet is dropped.

        Raises:
            QueueFullError: the queue is full and ``queue_full`` is ``'raise'``.
            SocketIsClosedError: the queue is full and ``queue_full`` is
                ``'disconnect'``: the session was just closed for being too slow.
        """
        ws = self._ws
        try:
            if ws is not None and self._writer is None and not self._direct and not self._closing:
                # Nothing is queued or being written: write from this task, which
                # keeps the order and saves the writer's hop.
                self._direct = True
                try:
                    await ws.send(packet.encode())
                except WebSocketClosed:
                    self.close(DisconnectReason.TRANSPORT_CLOSE, abort=True)
                    return False
                finally:
                    self._direct = False
                    if self._direct_done is not None:
                        self._direct_done.set()
                        self._direct_done = None
            else:
                await self._enqueue(packet, self._options.queue_full)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        if packet.type is PacketType.MESSAGE:
            self.messages_out += 1
        return True

    async def _enqueue(self, packet: Packet, policy: str) -> None:
        """Queue a packet; when the queue is full, wait, raise or disconnect."""
        try:
            self._outbound()[0].send_nowait(packet)
        except anyio.WouldBlock:
            await self._when_full(packet, policy)
        self._queued()

    async def _when_full(self, packet: Packet, policy: str) -> None:
        if policy == "wait":
            await self._outbound()[0].send(packet)
            return
        size = self._options.max_queue_size
        if policy == "raise":
            raise QueueFullError(f"session {self.sid} has {size} packets queued")
        self._log.warning("%s: %d packets queued, disconnecting the slow client", self.sid, size)
        self.close(DisconnectReason.SERVER_DISCONNECT, abort=True)
        raise SocketIsClosedError(f"session {self.sid} was closed: its queue is full")

    def _queued(self) -> None:
        """Packets are queued: on WebSocket, make sure a writer is taking them."""
        if self._ws is not None and self._writer is None and self._tg is not None:
            self._writer = anyio.CancelScope()
            self._tg.start_soon(self._ws_writer, self._ws, self._writer)

    def _next_nowait(self) -> Packet:
        if self._held is not None:
            packet, self._held = self._held, None
            return packet
        return self._outbound()[1].receive_nowait()

    def take_payload(self, items: list[str]) -> str:
        """A polling body: ``items`` and then what is queued, up to
        ``max_http_buffer_size`` bytes (always at least one packet)."""
        budget = self._options.max_http_buffer_size
        size = sum(len(item.encode()) + 1 for item in items)
        while True:
            try:
                packet = self._next_nowait()
            except anyio.WouldBlock:
                break
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                items.append(CLOSE_TEXT)
                self._mark_drained()
                break
            item = encode_polling(packet)
            cost = (len(item) if item.isascii() else len(item.encode())) + 1
            if items and size + cost > budget:
                self._held = packet
                break
            items.append(item)
            size += cost
        return SEPARATOR.join(items)

    def statistics(self) -> SessionStatistics:
        """Queue depths and message counts of this session."""
        return SessionStatistics(
            sid=self.sid,
            transport=self.transport.value,
            state=self.machine.state.value,
            queued=self._backlog() + (self._held is not None),
            unhandled=0 if self._inbound is None else len(self._inbound),
            messages_in=self.messages_in,
            messages_out=self.messages_out,
        )

    # -- inbound ---------------------------------------------------------------

    async def _receive(self, packet: Packet) -> None:
        event = self.machine.receive(packet, self._now())
        if event is None:
            if packet.type is PacketType.PONG:
                self._reschedule()
        elif isinstance(event, MessageReceived):
            await self._message(event.data)
        elif isinstance(event, ClientClosed):
            self.close(DisconnectReason.CLIENT_DISCONNECT, abort=True, release=NOOP)

    async def _message(self, data: Message) -> None:
        self.messages_in += 1
        if self._options.async_handlers:
            await self._to_dispatcher(data)
        else:
            await self._server._fire_message(self.sid, data)

    async def _to_dispatcher(self, data: Message) -> None:
        """Queue a message for the dispatcher (started with the first one); wait
        while ``max_queue_size`` messages are already waiting for their handler."""
        if self._inbound is None:
            self._inbound = deque()
            self._inbound_ready = signal_type()()
            self._dispatched = self._event()
            assert self._tg is not None
            self._tg.start_soon(self._dispatch, self._inbound, self._inbound_ready)
        inbound = self._inbound
        while len(inbound) >= self._options.max_queue_size and not self._closing:
            self._inbound_space = self._event()
            await self._inbound_space.wait()
        if self._closing:
            return  # the session takes no more messages
        inbound.append(data)
        self._wake_dispatcher()

    def _wake_dispatcher(self) -> None:
        if self._inbound_ready is not None:
            self._inbound_ready.set()

    async def _dispatch(self, inbound: deque[Message], ready: Signal) -> None:
        """Run the message handler on each received message, in order, until the
        session closes and what was received is handled."""
        fire = self._server._fire_message
        try:
            while True:
                if inbound:
                    data = inbound.popleft()
                    if self._inbound_space is not None:
                        self._inbound_space.set()
                        self._inbound_space = None
                    await fire(self.sid, data)
                elif self._closing:
                    return
                else:
                    await ready.wait()
        finally:
            assert self._dispatched is not None
            self._dispatched.set()

    async def _beat(self) -> None:
        """The heartbeat woke (its deadline came, or moved): ping on time, or close
        the session when a pong is late."""
        machine = self.machine
        event = machine.on_timer(self._now())
        if isinstance(event, PingDue):
            with anyio.move_on_after(machine.ping_timeout):  # until the pong's deadline
                await self._ping()
        elif isinstance(event, PingTimedOut):
            self._log.info("%s: no pong within %ss", self.sid, machine.ping_timeout)
            self.close(DisconnectReason.PING_TIMEOUT, abort=True)
        elif isinstance(event, PollReleased):
            self._wake_poll()

    async def _ping(self) -> None:
        """Send a ping: written at once when the WebSocket is free (no writer task
        needed), queued otherwise, waiting for room when the queue is full."""
        if self._ws is not None and self._writer is None and not self._direct:
            await self.send(PING)
            return
        with contextlib.suppress(anyio.ClosedResourceError):
            await self._enqueue(PING, "wait")

    # -- polling ---------------------------------------------------------------

    def _conflict(self, error: ProtocolError) -> ProtocolError:
        self._log.warning("%s: %s, closing the session", self.sid, error)
        self.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
        return error

    def poll_ready(self) -> str | None:
        """The body of a ``GET`` that has no need to wait, or ``None`` if it would
        wait (or must be refused: :meth:`poll` decides)."""
        if not self.machine.ordinary_poll:
            return None
        if self._held is None:
            try:
                self._held = self._outbound()[1].receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return None
        return self.take_payload([])

    async def poll(self) -> str:
        """Serve a long-poll ``GET``: as the protocol machine decides, wait for
        packets and take what is queued (as much as one body may hold), or wait for
        the outcome of the upgrade in progress. Returns the encoded body.

        Raises:
            ProtocolError: another ``GET`` is pending (the session is closed), or
                the session upgraded to WebSocket meanwhile.
        """
        machine = self.machine
        verdict: PollVerdict | None
        try:
            verdict = machine.poll(self._now())
        except ProtocolError as exc:
            raise self._conflict(exc) from None
        try:
            if verdict is PollVerdict.WAIT:
                self._reschedule()  # the heartbeat keeps the release deadline too
            while True:  # each wake-up, look at the verdict again
                if verdict is PollVerdict.WAIT:
                    with anyio.CancelScope() as self._poll:
                        await anyio.sleep_forever()
                elif verdict is PollVerdict.SERVE and self._held is None and self._release is None:
                    with anyio.CancelScope() as self._poll:
                        try:
                            self._held = await self._outbound()[1].receive()
                        except (anyio.EndOfStream, anyio.ClosedResourceError):
                            break
                else:
                    break
                verdict = machine.poll_verdict
        finally:
            self._poll = None
            machine.poll_done()
        if verdict is PollVerdict.NOOP:
            return NOOP_TEXT
        if verdict is PollVerdict.MISMATCH:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="transport mismatch")
        if self._held is not None:
            return self.take_payload([])
        if self._release is not None:
            return encode_polling(self._release)
        self._mark_drained()
        return CLOSE_TEXT

    def _wake_poll(self) -> None:
        """The machine may have changed the pending ``GET``'s verdict: it looks again."""
        if self._poll is not None:
            self._poll.cancel()

    async def post(self, read_body: Callable[[int, float], Awaitable[bytes]]) -> None:
        """Serve a ``POST``: read the body and take its packets in order.

        ``read_body(limit, discard_for)`` is the request's
        :meth:`~engineio_sc._http.HTTPConnection.read_body`: an over-long body is
        thrown away for up to ``close_timeout`` seconds before the error.

        Raises:
            ContentTooLongError: the body is over ``max_http_buffer_size``.
            ProtocolError: another ``POST`` is pending, or the payload is bad (the
                session is closed after the good packets before the bad one).
        """
        if self._posting:
            raise self._conflict(ProtocolError(None, detail="overlapping POST requests"))
        self._posting = True
        try:
            options = self._options
            body = await read_body(options.max_http_buffer_size, options.close_timeout)
            packets, error = decode_payload(body)
            for packet in packets:
                await self._receive(packet)
            if error is not None:
                raise error
        except ProtocolError:
            self.close(DisconnectReason.SERVER_DISCONNECT, abort=True)
            raise
        finally:
            self._posting = False

    # -- websocket -------------------------------------------------------------

    async def upgrade(self, ws: WebSocket) -> None:
        """Take ``ws`` for an upgrade, accept it, probe and upgrade, then serve the
        session on it.

        The upgrade is in progress from before the ``101`` until its outcome (see
        :mod:`engineio_sc.protocol` for what polls get meanwhile). A WebSocket that
        comes when the session cannot upgrade (another upgrade is in progress, or
        the session is on WebSocket) is accepted and closed at once. A failed probe
        (anything but ``2probe`` then ``5``, or nothing within ``upgrade_timeout``)
        closes the new WebSocket; the session stays on polling. Closing the session
        closes a joining WebSocket too.
        """
        machine = self.machine
        try:
            machine.join()
        except ProtocolError as exc:
            self._log.info("%s: WebSocket refused (%s)", self.sid, exc)
            await ws.accept([])
            await ws.close()
            return
        upgraded = False
        try:
            with anyio.fail_after(self._options.upgrade_timeout) as self._upgrading:
                await ws.accept([])
                reply = machine.probe(_decode_frame(await ws.receive()), self._now())
                self._reschedule()  # a waiting GET's release deadline
                await ws.send(reply.encode())
                self._wake_poll()  # a GET held since before the upgrade gets a noop
                machine.upgrade(_decode_frame(await ws.receive()))
                upgraded = True
        except (TimeoutError, ProtocolError, WebSocketClosed) as exc:
            self._log.info("%s: upgrade failed (%s)", self.sid, exc or type(exc).__name__)
        finally:
            self._upgrading = None
            machine.upgrade_failed()  # unless it upgraded, or the session closed
            self._wake_poll()
        if upgraded:
            await self.serve_websocket(ws)
        else:
            await ws.close()

    async def serve_websocket(self, ws: WebSocket) -> None:
        """Run the WebSocket reader and writer in the session's group (the session
        has upgraded to it); the calling request task waits meanwhile, until the
        session is done."""
        if self._tg is None or not self.machine.active:
            await ws.close()
            return
        reader = anyio.CancelScope()
        self._tg.start_soon(self._read_upgraded, ws, reader)
        done = self.done
        try:
            await done.wait()
        finally:
            if not done.is_set():  # this request is cancelled: its WebSocket is gone
                reader.cancel()

    async def _read_upgraded(self, ws: WebSocket, scope: anyio.CancelScope) -> None:
        with scope:
            await self._websocket(ws)

    async def _websocket(self, ws: WebSocket) -> None:
        """Read the WebSocket (in this task) until it closes, then close the
        session. What is queued meanwhile goes out through a writer task, started
        when packets wait and ending once they are written; the writer closes the
        WebSocket once a closed session's queue is delivered. A client that never
        answers that close is cut off when the session's group ends."""
        limit = self._options.max_http_buffer_size
        short = limit // 4  # no longer than this: within the limit even in UTF-8
        self._ws = ws
        if self._closing or self._held is not None or self._backlog():
            self._queued()  # what polling left goes first; a closed session ends
        gone = False  # the client closed the WebSocket: nothing to close
        try:
            while True:
                try:
                    data = await ws.receive()
                except WebSocketClosed:
                    gone = True
                    return
                if len(data) > short and _too_long(data, limit):
                    self._log.warning("%s: WebSocket message over %d bytes", self.sid, limit)
                    await ws.close(WS_MESSAGE_TOO_BIG)
                    return
                if type(data) is str and data[:1] == "4" and self.machine.active:
                    # A text message, the common case: the machine would only
                    # check that the session is active and hand the text over.
                    await self._message(data[1:])
                    continue
                try:
                    await self._receive(_decode_frame(data))
                except ProtocolError as exc:
                    self._log.warning("%s: bad WebSocket packet (%s), closing", self.sid, exc)
                    self.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
                    await ws.close(WS_PROTOCOL_ERROR)
                    return
        except Exception:  # the transport failed: run() logs it
            self.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
            raise
        finally:
            self._ws = None  # ending: no new writer
            if self._writer is not None:
                self._writer.cancel()
            self.close(DisconnectReason.TRANSPORT_CLOSE, abort=True)
            if not gone:
                await _close_websocket(ws, self._options.close_timeout)

    async def _ws_writer(self, ws: WebSocket, scope: anyio.CancelScope) -> None:
        """Write what is queued, then end. Once the session is closed and its queue
        delivered, close the WebSocket too (the reader then sees it end)."""
        recv = self._outbound()[1]
        end = False
        with scope:
            try:
                while True:
                    if self._held is not None:
                        packet, self._held = self._held, None
                    else:
                        try:
                            packet = recv.receive_nowait()
                        except anyio.WouldBlock:
                            break
                    await self._direct_written()
                    await ws.send(packet.encode())
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                await self._direct_written()  # a sender's last write goes out first
                self._mark_drained()
                end = True
            except WebSocketClosed:
                pass
            finally:
                self._writer = None
        if end:
            await _close_websocket(ws, self._options.close_timeout)

    async def _direct_written(self) -> None:
        """Wait while a sender writes on the WebSocket itself (its write goes first)."""
        while self._direct:
            self._direct_done = self._direct_done or self._event()
            await self._direct_done.wait()


async def _close_websocket(ws: WebSocket, timeout: float) -> None:
    """Close a WebSocket, within ``timeout`` (a client that reads nothing cannot
    hold it) and even in a cancelled task."""
    with anyio.move_on_after(timeout, shield=True):
        await ws.close()


def _decode_frame(data: Message) -> Packet:
    if isinstance(data, str):
        return decode_text(data)
    return decode_binary_frame(data)


def _too_long(data: Message, limit: int) -> bool:
    size = len(data)
    if size > limit:
        return True
    if isinstance(data, str) and size * 4 > limit:
        return len(data.encode("utf-8")) > limit
    return False
