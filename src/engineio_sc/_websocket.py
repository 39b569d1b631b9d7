"""The WebSocket transport of a session: its reader, its writer, and the upgrade
from polling.

One writer at a time uses the socket. When nothing is queued and nothing is
being written, a sender writes its packet from its own task (which keeps the
order and saves a hand-off); otherwise its packet is queued and a writer task of
the session's group writes the queue in order, then ends once it is empty, so an
idle session holds no writer. :class:`WebSocketTransport` is the one owner of
that rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from ._dispatcher import Data
from ._http import WebSocket, WebSocketClosed
from ._reasons import DisconnectReason
from .exceptions import ProtocolError
from .protocol import Packet, decode_binary_frame, decode_text

if TYPE_CHECKING:
    from ._backend import BackendEvent
    from ._session import Session

__all__ = ["WebSocketTransport", "upgrade"]

WS_MESSAGE_TOO_BIG = 1009
WS_PROTOCOL_ERROR = 1002


class WebSocketTransport:
    """A session on one WebSocket."""

    __slots__ = ("_direct", "_direct_done", "_session", "_writer", "ws")

    def __init__(self, session: Session, ws: WebSocket) -> None:
        self._session = session
        self.ws = ws
        self._writer: anyio.CancelScope | None = None  # the running writer's scope
        self._direct = False  # a sender is writing on the socket itself
        self._direct_done: BackendEvent | None = None

    # -- writing -------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Whether nothing is being written: a sender may write at once."""
        return self._writer is None and not self._direct

    async def write_now(self, packet: Packet) -> bool:
        """Write ``packet`` from the caller's task (the socket is :attr:`idle`);
        ``False`` if the socket is closed (and the session closed with it)."""
        self._direct = True
        try:
            await self.ws.send(packet.encode())
        except WebSocketClosed:
            self._session.close(DisconnectReason.TRANSPORT_CLOSE, abort=True)
            return False
        finally:
            self._direct = False
            if self._direct_done is not None:
                self._direct_done.set()
                self._direct_done = None
        return True

    def queued(self) -> None:
        """Packets wait in the session's queue: make sure a writer takes them."""
        if self._writer is None:
            self._writer = anyio.CancelScope()
            self._session.group.start_soon(self._write_queue, self._writer)

    async def _write_queue(self, scope: anyio.CancelScope) -> None:
        """Write what is queued, then end. Once the session is closed and its queue
        delivered, close the socket too (the reader then sees it end)."""
        session, ws = self._session, self.ws
        end = False
        with scope:
            try:
                while (packet := session.next_queued()) is not None:
                    await self._direct_written()
                    await ws.send(packet.encode())
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                await self._direct_written()  # a sender's last write goes out first
                session.mark_drained()
                end = True
            except WebSocketClosed:
                pass
            finally:
                self._writer = None
        if end:
            await close_websocket(ws, session.options.close_timeout)

    async def _direct_written(self) -> None:
        """Wait while a sender writes on the socket itself (its write goes first)."""
        while self._direct:
            self._direct_done = self._direct_done or self._session.event()
            await self._direct_done.wait()

    # -- reading -------------------------------------------------------------------

    async def read(self) -> None:
        """Read the socket (in this task) until it closes, then close the session.
        A client that never answers the close is cut off when the session's group
        ends."""
        session, ws = self._session, self.ws
        machine = session.machine
        limit = session.options.max_http_buffer_size
        short = limit // 4  # no longer than this: within the limit even in UTF-8
        session.ws = self
        if machine.closed or session.holding or session.backlog():
            self.queued()  # what polling left goes first; a closed session ends
        gone = False  # the client closed the socket: nothing to close
        try:
            while True:
                try:
                    data = await ws.receive()
                except WebSocketClosed:
                    gone = True
                    return
                if len(data) > short and _too_long(data, limit):
                    session.log.warning("%s: WebSocket message over %d bytes", session.sid, limit)
                    await ws.close(WS_MESSAGE_TOO_BIG)
                    return
                if type(data) is str and (text := machine.text_message(data)) is not None:
                    await session.message(text)
                    continue
                try:
                    await session.receive(decode_frame(data))
                except ProtocolError as exc:
                    session.log.warning("%s: bad WebSocket packet (%s), closing", session.sid, exc)
                    session.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
                    await ws.close(WS_PROTOCOL_ERROR)
                    return
        except Exception:  # the transport failed: the session's run() logs it
            session.close(DisconnectReason.TRANSPORT_ERROR, abort=True)
            raise
        finally:
            session.ws = None  # ending: no new writer
            if self._writer is not None:
                self._writer.cancel()
            session.close(DisconnectReason.TRANSPORT_CLOSE, abort=True)
            if not gone:
                await close_websocket(ws, session.options.close_timeout)

    @property
    def busy(self) -> bool:
        """Whether a writer task runs."""
        return self._writer is not None


async def upgrade(session: Session, ws: WebSocket) -> None:
    """Take ``ws`` for an upgrade of ``session``, accept it, probe and upgrade,
    then serve the session on it until the session is done.

    The upgrade is in progress from before the ``101`` until its outcome (see
    :mod:`engineio_sc.protocol` for what polls get meanwhile). A WebSocket that
    comes when the session cannot upgrade (another upgrade is in progress, or the
    session is on WebSocket) is accepted and closed at once. A failed probe
    (anything but ``2probe`` then ``5``, or nothing within ``upgrade_timeout``)
    closes the new WebSocket; the session stays on polling. Closing the session
    closes a joining WebSocket too.
    """
    machine = session.machine
    try:
        machine.join()
    except ProtocolError as exc:
        session.log.info("%s: WebSocket refused (%s)", session.sid, exc)
        await ws.accept([])
        await ws.close()
        return
    upgraded = False
    try:
        with anyio.fail_after(session.options.upgrade_timeout) as session.joining:
            await ws.accept([])
            reply = machine.probe(decode_frame(await ws.receive()), session.now())
            session.reschedule()  # a waiting GET's release deadline
            await ws.send(reply.encode())
            session.wake_poll()  # a GET held since before the upgrade gets a noop
            machine.upgrade(decode_frame(await ws.receive()))
            upgraded = True
    except (TimeoutError, ProtocolError, WebSocketClosed) as exc:
        session.log.info("%s: upgrade failed (%s)", session.sid, exc or type(exc).__name__)
    finally:
        session.joining = None
        machine.upgrade_failed()  # unless it upgraded, or the session closed
        session.wake_poll()
    if upgraded and machine.active:
        await _serve_upgraded(session, ws)
    else:
        await ws.close()


async def _serve_upgraded(session: Session, ws: WebSocket) -> None:
    """Run the reader in the session's group; the calling request task waits
    meanwhile, until the session is done."""
    reader = anyio.CancelScope()
    session.group.start_soon(_read_in, WebSocketTransport(session, ws), reader)
    done = session.done
    try:
        await done.wait()
    finally:
        if not done.is_set():  # this request is cancelled: its WebSocket is gone
            reader.cancel()


async def _read_in(transport: WebSocketTransport, scope: anyio.CancelScope) -> None:
    with scope:
        await transport.read()


async def close_websocket(ws: WebSocket, timeout: float) -> None:
    """Close a WebSocket, within ``timeout`` (a client that reads nothing cannot
    hold it) and even in a cancelled task."""
    with anyio.move_on_after(timeout, shield=True):
        await ws.close()


def decode_frame(data: Data) -> Packet:
    """The packet of one WebSocket message."""
    if isinstance(data, str):
        return decode_text(data)
    return decode_binary_frame(data)


def _too_long(data: Data, limit: int) -> bool:
    size = len(data)
    if size > limit:
        return True
    if isinstance(data, str) and size * 4 > limit:
        return len(data.encode("utf-8")) > limit
    return False
