"""One session: its life, its outbound queue and its heartbeat, in a task group.

A :class:`Session` lives from its handshake until it is closed and drained. A
session opened on polling runs in the server's task group (it outlives each
request); one opened on WebSocket runs in the task of its WebSocket request, which
has nothing else to do meanwhile. Its own task group (trio's nursery on trio,
anyio's task group on asyncio) holds:

- the session's main task, which is its heartbeat while the session is open: it
  waits on a wake-up whose deadline the protocol machine sets, sends pings and
  closes the session when a pong is late; then it winds the session down;
- the dispatcher's task (:mod:`engineio_sc._dispatcher`), started with the first
  message;
- on WebSocket, the reader task, and the writer task while packets wait for it
  (:mod:`engineio_sc._websocket`).

Polling requests run in their own request tasks and meet the session through
its bounded outbound queue (:mod:`engineio_sc._polling`). Queues are only waited
on when they are empty (or full): a packet that can go through at once does,
without a trip through the event loop.

Where the session is in its life is the protocol machine's state alone
(:class:`~engineio_sc.protocol.SessionMachine`): closing, drained, accepted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._backend import (
    BackendEvent,
    CancelScope,
    TaskGroup,
    Wakeup,
    cancel_scope,
    clock,
    event_type,
    task_group,
    wakeup_type,
)
from ._dispatcher import Data, Dispatcher
from ._handlers import Handlers
from ._heartbeats import Heartbeats
from ._http import WebSocket
from ._options import Options
from ._polling import CLOSE, NOOP, PollingTransport
from ._reasons import DisconnectReason
from ._registry import SessionRegistry
from ._statistics import SessionStatistics
from ._websocket import WebSocketTransport
from .exceptions import ProtocolError, QueueFullError, SocketIsClosedError
from .protocol import (
    ClientClosed,
    MessageReceived,
    Packet,
    PacketType,
    PayloadBuilder,
    PingDue,
    PingTimedOut,
    PollReleased,
    SessionMachine,
    SessionState,
    Transport,
)

__all__ = ["Session", "SessionContext"]

PING = Packet(PacketType.PING)

Outbound = tuple[MemoryObjectSendStream[Packet], MemoryObjectReceiveStream[Packet]]


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What every session of a server is given: its settings, logger, the
    application's handlers, and the registry it leaves when it ends."""

    options: Options
    logger: logging.Logger
    handlers: Handlers
    registry: SessionRegistry
    heartbeats: Heartbeats


class Session:
    """One Engine.IO session and the tasks that serve it.

    Attributes:
        sid: the session id.
        data: the user session (``get_session``/``save_session``).
        machine: the protocol state.
        polling: the polling side, for a session opened on polling.
        ws: the WebSocket it is on, while it is on one.
        joining: the cancel scope of a WebSocket joining it for an upgrade.
    """

    __slots__ = (
        "_context",
        "_dispatcher",
        "_done",
        "_drained",
        "_held",
        "_out",
        "_pinging",
        "_reason",
        "_room",
        "_tasks",
        "_tg",
        "_timer",
        "_told",
        "_wake",
        "_wound_down",
        "data",
        "ended",
        "event",
        "joining",
        "log",
        "machine",
        "messages_in",
        "messages_out",
        "now",
        "options",
        "polling",
        "sid",
        "ws",
    )

    def __init__(self, context: SessionContext, sid: str, transport: Transport) -> None:
        options = context.options
        self.sid = sid
        self.data: dict[str, Any] = {}
        self.machine = SessionMachine(
            transport, ping_interval=options.ping_interval, ping_timeout=options.ping_timeout
        )
        self._context = context
        self.options = options
        self.log: logging.Logger = context.logger
        self.now = clock()
        self.event = event_type()
        self._out: Outbound | None = None  # created when first needed (see _outbound)
        self._held: Packet | None = None  # taken from the queue, not yet sent
        self._room: BackendEvent | None = None  # made when a sender waits for room
        self._dispatcher: Dispatcher | None = None  # made with the first message
        self._tg: TaskGroup | None = None
        self._tasks = 0  # tasks started by start_task that still run
        self._wound_down = False  # the group takes no more tasks
        self._drained: BackendEvent | None = None  # made when the wind-down waits for it
        self.ended = False  # run() has returned, or the session never ran
        self._done: BackendEvent | None = None  # made for those who wait for the end
        self._reason = DisconnectReason.SERVER_DISCONNECT
        self._told = False  # the disconnect handler has been run
        self._wake: Wakeup | None = None  # wakes the heartbeat: its deadline came, or closing
        self._timer = context.heartbeats.timer(self)  # keeps the deadline for the heartbeat
        self._pinging: CancelScope | None = None  # a ping waiting to be written
        self.joining: anyio.CancelScope | None = None
        self.ws: WebSocketTransport | None = None
        self.polling: PollingTransport | None = None
        self.messages_in = 0
        self.messages_out = 0
        if transport is Transport.POLLING:
            self.polling = PollingTransport(self)
            self._outbound()  # every poll reads it

    # -- life --------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """The current transport."""
        return self.machine.transport

    @property
    def group(self) -> TaskGroup:
        """The session's task group (it runs)."""
        assert self._tg is not None
        return self._tg

    @property
    def done(self) -> BackendEvent:
        """Set once the session has ended (:meth:`run` has returned)."""
        if self._done is None:
            self._done = self.event()
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
        frame, not a nested one: an idle session is mostly this wait). It waits
        with no deadline: the server's :class:`Heartbeats` wakes it when the
        session's deadline comes."""
        machine = self.machine
        now = self.now
        try:
            async with task_group() as tg:
                self._tg = tg
                try:
                    task_status.started()
                    if ws is not None:
                        tg.start_soon(WebSocketTransport(self, ws).read)
                    self._wake = wake = wakeup_type()()
                    while not machine.closed:
                        deadline = machine.deadline
                        if deadline is None or deadline > now():
                            await wake.wait()
                        if not machine.closed:
                            await self._beat()
                    await self._wind_down()
                finally:
                    self._wound_down = True  # the group is closing: start_task refuses
                if self._busy():
                    tg.cancel_scope.cancel()
        except Exception:
            # A transport raised what none of its errors say (a framework's bug, or
            # its misuse): this session ends, the server and its other sessions go on.
            self.log.exception("%s: the session failed, closing it", self.sid)
            self.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
            with anyio.move_on_after(self.options.close_timeout):
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

    def start_task(self, func: Callable[..., Awaitable[object]], args: tuple[object, ...]) -> bool:
        """Run ``func(*args)`` in the session's group, its errors logged; returns
        ``False`` (and runs nothing) before the session runs or once it has wound
        down. A task still running once the session has wound down is cancelled."""
        if self._tg is None or self._wound_down:
            return False
        self._tasks += 1
        self._tg.start_soon(self._run_task, func, args)
        return True

    async def _run_task(
        self, func: Callable[..., Awaitable[object]], args: tuple[object, ...]
    ) -> None:
        try:
            await func(*args)
        except Exception:
            self.log.exception("%s: a session task failed", self.sid)
        finally:
            self._tasks -= 1

    def _busy(self) -> bool:
        """Whether a task of the session is still running: the dispatcher (in a
        handler that outlived ``close_timeout``), a task of :meth:`start_task`, or
        a WebSocket reader or writer."""
        dispatching = self._dispatcher is not None and self._dispatcher.busy
        return dispatching or self._tasks > 0 or self.ws is not None

    async def _wind_down(self) -> None:
        """Let the handlers finish what was received, tell the disconnect handler,
        and give the client ``close_timeout`` to take what is queued."""
        timeout = self.options.close_timeout
        if self._dispatcher is not None:
            with anyio.move_on_after(timeout):
                await self._dispatcher.wait_done()
        await self._tell_disconnect()
        if self.machine.state is not SessionState.CLOSED:
            self._drained = self.event()
            with anyio.move_on_after(timeout):
                await self._drained.wait()

    async def _tell_disconnect(self) -> None:
        """Run the disconnect handler of an accepted session, once."""
        if self.machine.accepted and not self._told:
            self._told = True
            await self._context.handlers.disconnect(self.sid, self._reason)

    def accept(self) -> None:
        """The connect handler accepted: start the heartbeat."""
        self.machine.accept(self.now())
        self.reschedule()

    @property
    def deadline(self) -> float | None:
        """When the heartbeat must next wake (see :class:`Heartbeats`)."""
        return self.machine.deadline

    def reschedule(self) -> None:
        """The heartbeat's deadline moved: it is woken when the new one comes."""
        self._timer.schedule()

    def deadline_passed(self) -> None:
        """The deadline has come (called by :class:`Heartbeats`): wake the heartbeat,
        and give up a ping still waiting to be written, its pong now being late."""
        if self._pinging is not None:
            self._pinging.cancel()
        self._wake_heartbeat()

    def _wake_heartbeat(self) -> None:
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
        if self._dispatcher is not None:
            self._dispatcher.close()
        if self._out is not None:
            self._out[0].close()
        polling = self.polling
        if abort or self.machine.state is SessionState.CLOSED:
            self._discard_outbound()
            self.mark_drained()
            if polling is not None:
                polling.release_with(release)
        elif polling is not None:
            polling.wake()  # a pending GET is answered as a closed session's
        if self.joining is not None:  # a joining WebSocket is closed
            self.joining.cancel()
        if self.ws is not None:
            self.ws.queued()  # the writer delivers the rest and ends it
        self._made_room()  # who waits for room gives up
        self._wake_heartbeat()  # the main task moves on to winding down

    def conflict(self, error: ProtocolError) -> ProtocolError:
        """A client sent overlapping requests: close the session, return the error."""
        self.log.warning("%s: %s, closing the session", self.sid, error)
        self.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
        return error

    def wake_poll(self) -> None:
        """The machine may have changed the pending ``GET``'s verdict."""
        if self.polling is not None:
            self.polling.wake()

    def mark_drained(self) -> None:
        """Everything is delivered or dropped: the sid stops being routable."""
        self.machine.drained()
        if self._drained is not None:
            self._drained.set()

    def end(self) -> None:
        """The session is over: forget its sid and wake those waiting for the end.
        Called by :meth:`run`, or instead of it for a session refused before it ran."""
        self._context.registry.remove(self)
        self._timer.cancel()
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
            self._out = anyio.create_memory_object_stream[Packet](self.options.max_queue_size)
            if self.machine.closed:
                self._out[0].close()
        return self._out

    def backlog(self) -> int:
        """How many packets wait in the outbound stream."""
        return 0 if self._out is None else self._out[0].statistics().current_buffer_used

    def room(self) -> int:
        """How many more packets the outbound queue takes now."""
        return self.options.max_queue_size - self.backlog()

    async def send(self, packet: Packet) -> bool:
        """Send a packet: written at once on an idle WebSocket, else queued. When
        the queue is full, wait, raise or disconnect, as ``queue_full`` says.

        Returns:
            ``False`` if the session is closing or closed: the packet is dropped.

        Raises:
            QueueFullError: the queue is full and ``queue_full`` is ``'raise'``.
            SocketIsClosedError: the queue is full and ``queue_full`` is
                ``'disconnect'``: the session was just closed for being too slow.
        """
        ws = self.ws
        if ws is not None and ws.idle and not self.machine.closed:
            if not await ws.write_now(packet):
                return False
        else:
            try:
                await self._enqueue(packet, self.options.queue_full)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return False
        if packet.type is PacketType.MESSAGE:
            self.messages_out += 1
        return True

    async def send_many(self, packets: Sequence[Packet]) -> bool:
        """Send packets in a row, with no other sender's packet in between;
        otherwise as :meth:`send` (``queue_full='wait'`` waits for room for all of
        them at once).

        Raises:
            ValueError: more packets than ``max_queue_size``.
        """
        count = len(packets)
        if count == 1:
            return await self.send(packets[0])
        if count > self.options.max_queue_size:
            raise ValueError(f"{count} packets are more than max_queue_size")
        while not self.machine.closed:
            ws = self.ws
            if ws is not None and ws.idle:
                for packet in packets:  # written from this task, one right after another
                    if not await ws.write_now(packet):
                        return False
                self.messages_out += sum(p.type is PacketType.MESSAGE for p in packets)
                return True
            if self.room() >= count:
                return self.send_many_nowait(packets)
            if self.options.queue_full != "wait":
                await self._when_full(packets[0], self.options.queue_full)
            await self.wait_room(count)
        return False

    def send_many_nowait(self, packets: Sequence[Packet]) -> bool:
        """Queue packets in a row if the queue has room for all of them.

        Returns:
            ``False`` if the session is closing or closed (the packets are dropped).

        Raises:
            anyio.WouldBlock: the queue has no room for them all; nothing is queued.
        """
        if self.machine.closed:
            return False
        if self.room() < len(packets):
            raise anyio.WouldBlock
        stream = self._outbound()[0]
        for packet in packets:
            stream.send_nowait(packet)
        self.messages_out += sum(p.type is PacketType.MESSAGE for p in packets)
        self._queued()
        return True

    async def wait_room(self, count: int = 1) -> None:
        """Return once the queue takes ``count`` more packets, or the session is
        closing."""
        while self.room() < count and not self.machine.closed:
            if self._room is None:
                self._room = self.event()
            await self._room.wait()

    def _made_room(self) -> None:
        """Packets left the queue (or the session closed): wake who waits for room."""
        if self._room is not None:
            self._room.set()
            self._room = None

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
        size = self.options.max_queue_size
        if policy == "raise":
            raise QueueFullError(f"session {self.sid} has {size} packets queued")
        self.log.warning("%s: %d packets queued, disconnecting the slow client", self.sid, size)
        self.close(DisconnectReason.SERVER_DISCONNECT, abort=True)
        raise SocketIsClosedError(f"session {self.sid} was closed: its queue is full")

    def _queued(self) -> None:
        """Packets are queued: on WebSocket, make sure a writer is taking them."""
        if self.ws is not None:
            self.ws.queued()

    def _discard_outbound(self) -> None:
        self._held = None
        if self._out is None:
            return
        while True:
            try:
                self._out[1].receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return

    @property
    def holding(self) -> bool:
        """Whether a packet was taken from the queue and waits to be sent."""
        return self._held is not None

    def take_next_nowait(self) -> bool:
        """Take the next queued packet into the hold, if there is one: whether a
        packet is held now."""
        if self._held is None:
            try:
                self._held = self._outbound()[1].receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return False
            self._made_room()
        return True

    async def take_next(self) -> bool:
        """Wait for the next queued packet and hold it: ``False`` if the queue
        ended (the session is closed) first."""
        try:
            self._held = await self._outbound()[1].receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return False
        self._made_room()
        return True

    def next_queued(self) -> Packet | None:
        """The held or next queued packet, ``None`` when nothing is queued.

        Raises:
            anyio.EndOfStream: the queue has ended (the session is closed).
        """
        if self._held is not None:
            packet, self._held = self._held, None
            return packet
        try:
            packet = self._outbound()[1].receive_nowait()
        except anyio.WouldBlock:
            return None
        if self._room is not None:
            self._made_room()
        return packet

    def payload(self, first: Packet | None = None) -> str:
        """A polling body: ``first``, then what is queued, up to
        ``max_http_buffer_size`` bytes (always at least one packet). Once the
        queue has ended, the close packet comes last and the session is drained."""
        body = PayloadBuilder(self.options.max_http_buffer_size)
        if first is not None:
            body.add(first)
        while True:
            try:
                packet = self.next_queued()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                body.add(CLOSE)
                self.mark_drained()
                break
            if packet is None:
                break
            if not body.add(packet):
                self._held = packet
                break
        return body.text()

    def statistics(self) -> SessionStatistics:
        """Queue depths and message counts of this session."""
        return SessionStatistics(
            sid=self.sid,
            transport=self.transport.value,
            state=self.machine.state.value,
            queued=self.backlog() + (self._held is not None),
            room=self.room(),
            unhandled=0 if self._dispatcher is None else self._dispatcher.waiting,
            messages_in=self.messages_in,
            messages_out=self.messages_out,
        )

    # -- inbound ---------------------------------------------------------------

    async def receive(self, packet: Packet) -> None:
        """Take one packet from the client, as the machine decides."""
        event = self.machine.receive(packet, self.now())
        if event is None:
            if packet.type is PacketType.PONG:
                self.reschedule()
        elif isinstance(event, MessageReceived):
            await self.message(event.data)
        elif isinstance(event, ClientClosed):
            self.close(DisconnectReason.CLIENT_DISCONNECT, abort=True, release=NOOP)

    async def message(self, data: Data) -> None:
        """A message from the client, for the ``message`` handler: through the
        dispatcher (``async_handlers``), or right here."""
        self.messages_in += 1
        handlers = self._context.handlers
        if not self.options.async_handlers:
            await handlers.message(self.sid, data)
            return
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(
                partial(handlers.message, self.sid), self.options.max_queue_size, self.group
            )
        await self._dispatcher.put(data)

    # -- heartbeat -------------------------------------------------------------

    async def _beat(self) -> None:
        """The heartbeat woke (its deadline came, or moved): ping on time, close the
        session when a pong is late, or release a poll waiting on an upgrade."""
        machine = self.machine
        event = machine.on_timer(self.now())
        if isinstance(event, PingDue):
            self.reschedule()  # the pong's deadline, which cancels the ping if still waiting
            self._pinging = cancel_scope()
            with self._pinging:
                await self._ping()
            self._pinging = None
        elif isinstance(event, PingTimedOut):
            self.log.info("%s: no pong within %ss", self.sid, machine.ping_timeout)
            self.close(DisconnectReason.PING_TIMEOUT, abort=True)
        elif isinstance(event, PollReleased):
            self.wake_poll()

    async def _ping(self) -> None:
        """Send a ping: written at once when the WebSocket is idle, queued
        otherwise, waiting for room when the queue is full."""
        ws = self.ws
        if ws is not None and ws.idle:
            await self.send(PING)
            return
        with contextlib.suppress(anyio.ClosedResourceError):
            await self._enqueue(PING, "wait")
