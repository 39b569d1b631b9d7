"""Long-polling: a session's ``GET`` and ``POST`` requests.

Each request runs in its own request task and meets the session through its
outbound queue. What a ``GET`` gets, and when a second ``GET`` or ``POST`` is a
conflict, is the protocol machine's decision
(:meth:`~engineio_sc.protocol.SessionMachine.poll`,
:meth:`~engineio_sc.protocol.SessionMachine.post`); this carries it out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from ._reasons import DisconnectReason
from .exceptions import ErrorCode, ProtocolError
from .protocol import Packet, PacketType, PollVerdict, decode_payload, encode_polling

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["CLOSE", "CLOSE_TEXT", "NOOP", "PollingTransport"]

CLOSE = Packet(PacketType.CLOSE)
NOOP = Packet(PacketType.NOOP)
CLOSE_TEXT = encode_polling(CLOSE)
NOOP_TEXT = encode_polling(NOOP)


class PollingTransport:
    """The polling side of one session (opened on polling; kept after an
    upgrade, so that a late ``GET`` is refused as the machine says)."""

    __slots__ = ("_pending", "_release", "_session")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._pending: anyio.CancelScope | None = None  # a held GET waits in it
        self._release: Packet | None = None  # what a closed session's GET gets

    def release_with(self, packet: Packet) -> None:
        """The session closed at once: a pending ``GET`` is answered ``packet``."""
        self._release = packet
        self.wake()

    def wake(self) -> None:
        """The machine may have changed the pending ``GET``'s verdict: it looks again."""
        if self._pending is not None:
            self._pending.cancel()

    def ready(self) -> str | None:
        """The body of a ``GET`` that has no need to wait, or ``None`` if it would
        wait (or must be refused: :meth:`poll` decides)."""
        session = self._session
        if not session.machine.ordinary_poll or not session.take_next_nowait():
            return None
        return session.payload()

    async def poll(self) -> str:
        """Serve a long-poll ``GET``: as the protocol machine decides, wait for
        packets and take what is queued (as much as one body may hold), or wait for
        the outcome of the upgrade in progress. Returns the encoded body.

        Raises:
            ProtocolError: another ``GET`` is pending (the session is closed), or
                the session upgraded to WebSocket meanwhile.
        """
        session = self._session
        machine = session.machine
        verdict: PollVerdict | None
        try:
            verdict = machine.poll(session.now())
        except ProtocolError as exc:
            raise session.conflict(exc) from None
        try:
            if verdict is PollVerdict.WAIT:
                session.reschedule()  # the heartbeat keeps the release deadline too
            while True:  # each wake-up, look at the verdict again
                if verdict is PollVerdict.WAIT:
                    with anyio.CancelScope() as self._pending:
                        await anyio.sleep_forever()
                elif verdict is PollVerdict.SERVE and not session.holding and self._release is None:
                    with anyio.CancelScope() as self._pending:
                        if not await session.take_next():
                            break
                else:
                    break
                verdict = machine.poll_verdict
        finally:
            self._pending = None
            machine.poll_done()
        if verdict is PollVerdict.NOOP:
            return NOOP_TEXT
        if verdict is PollVerdict.MISMATCH:
            raise ProtocolError(ErrorCode.BAD_REQUEST, detail="transport mismatch")
        if session.holding:
            return session.payload()
        if self._release is not None:
            return encode_polling(self._release)
        session.mark_drained()
        return CLOSE_TEXT

    async def post(self, read_body: Callable[[int, float], Awaitable[bytes]]) -> None:
        """Serve a ``POST``: read the body and take its packets in order.

        ``read_body(limit, discard_for)`` is the request's
        :meth:`~engineio_sc._http.HTTPConnection.read_body`: an over-long body is
        thrown away for up to ``close_timeout`` seconds before the error.

        Raises:
            ContentTooLongError: the body is over ``max_http_buffer_size``.
            ProtocolError: another ``POST`` is in progress, or the payload is bad
                (the session is closed after the good packets before the bad one).
        """
        session = self._session
        machine = session.machine
        try:
            machine.post()
        except ProtocolError as exc:
            raise session.conflict(exc) from None
        try:
            options = session.options
            body = await read_body(options.max_http_buffer_size, options.close_timeout)
            packets, error = decode_payload(body)
            for packet in packets:
                await session.receive(packet)
            if error is not None:
                raise error
        except ProtocolError:
            session.close(DisconnectReason.SERVER_DISCONNECT, abort=True)
            raise
        finally:
            machine.post_done()
