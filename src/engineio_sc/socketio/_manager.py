"""Who is in which room, and emitting to them: :class:`AsyncManager`.

The manager owns the rooms of every namespace (python-socketio's
``client manager``). It encodes an emit once and hands the messages to its
server's :class:`Outlet`, which puts them on each recipient's queue: no task per
recipient. A manager that spans processes subclasses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from .protocol import Packet, PacketType

__all__ = ["AsyncManager", "Messages", "Outlet"]

Messages = list[str | bytes]
"""The Engine.IO messages of one packet: its text, then its attachments."""

Callback = Callable[..., Any]


class Outlet(Protocol):
    """What a manager needs of its server: encoding, delivery and acks."""

    def encode(self, packet: Packet) -> Messages:
        """The messages that carry ``packet``."""
        ...

    async def deliver(self, eio_sid: str, namespace: str, messages: Messages) -> None:
        """Send to one client, as the engine's ``queue_full`` says."""
        ...

    async def broadcast(
        self, recipients: Sequence[str], namespace: str, messages: Messages
    ) -> None:
        """Send the same messages to many clients, without a task per recipient."""
        ...

    def add_callback(self, eio_sid: str, callback: Callback) -> int | None:
        """Register ``callback`` for the client's next ack; its id, or ``None`` if
        the client is gone."""
        ...


def _args(data: Any) -> list[Any]:
    """An emit's ``data`` as the event's arguments: a tuple is several."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


Room = str | None


class AsyncManager:
    """The rooms of each namespace, and emits to them, in one process.

    Every connected client is in the room named after its sid, and in the room
    ``None`` (everyone in the namespace).
    """

    def __init__(self) -> None:
        self.server: Any = None
        self._outlet: Outlet | None = None
        self.rooms: dict[str, dict[Room, dict[str, str]]] = {}

    def set_server(self, server: Any) -> None:
        """Called by the server the manager serves."""
        self.server = server
        self._outlet = server.outlet

    def initialize(self) -> None:
        """Called when the first client connects; a place for subclasses to start."""

    @property
    def outlet(self) -> Outlet:
        """The server's outlet."""
        if self._outlet is None:
            raise RuntimeError("the manager has no server")
        return self._outlet

    def get_namespaces(self) -> list[str]:
        """The namespaces that have (or had) clients."""
        return list(self.rooms)

    def get_participants(
        self, namespace: str, room: Room | Sequence[str]
    ) -> Iterator[tuple[str, str]]:
        """``(sid, eio_sid)`` of each client in ``room`` (or in any of a list of rooms)."""
        rooms = self.rooms.get(namespace)
        if not rooms:
            return
        if room is None or isinstance(room, str):
            yield from list(rooms.get(room, {}).items())
            return
        seen: set[str] = set()
        for name in room:
            for sid, eio_sid in list(rooms.get(name, {}).items()):
                if sid not in seen:
                    seen.add(sid)
                    yield sid, eio_sid

    def connect(self, eio_sid: str, namespace: str, sid: str) -> None:
        """``sid`` (of Engine.IO session ``eio_sid``) joins ``namespace``."""
        rooms = self.rooms.setdefault(namespace, {})
        rooms.setdefault(None, {})[sid] = eio_sid
        rooms.setdefault(sid, {})[sid] = eio_sid

    def is_connected(self, sid: str, namespace: str) -> bool:
        """Whether ``sid`` is in ``namespace``."""
        return sid in self.rooms.get(namespace, {}).get(None, {})

    def eio_sid_from_sid(self, sid: str, namespace: str) -> str | None:
        """The Engine.IO session of ``sid``."""
        return self.rooms.get(namespace, {}).get(None, {}).get(sid)

    def basic_disconnect(self, sid: str, namespace: str) -> None:
        """Take ``sid`` out of every room of ``namespace``."""
        rooms = self.rooms.get(namespace)
        if rooms is None:
            return
        for name in [name for name, members in rooms.items() if sid in members]:
            self.basic_leave_room(sid, namespace, name)

    async def disconnect(
        self, sid: str, namespace: str, ignore_queue: bool = False, **kwargs: Any
    ) -> None:
        """Take ``sid`` out of ``namespace``'s rooms (the server's call once the
        client has left, with ``ignore_queue``: this process only)."""
        self.basic_disconnect(sid, namespace)

    async def can_disconnect(self, sid: str, namespace: str | None) -> bool:
        """Whether ``sid`` is connected to this process (to ``namespace``, or to any
        if ``None``). The server asks it of a sid that none of its clients has: a
        manager that spans processes then asks the others to disconnect it."""
        if namespace is None:
            return any(sid in rooms.get(None, {}) for rooms in self.rooms.values())
        return self.is_connected(sid, namespace)

    def forget_callback(self, callback: Callback) -> None:
        """``callback`` waits for acks no more (its ``call()`` is over). The server
        forgets its own clients' callbacks; a manager that spans processes, those
        it keeps for other processes' clients."""

    def basic_enter_room(
        self, sid: str, namespace: str, room: str, eio_sid: str | None = None
    ) -> None:
        """Put ``sid`` in ``room``."""
        eio_sid = eio_sid or self.eio_sid_from_sid(sid, namespace)
        if eio_sid is None:
            return
        self.rooms.setdefault(namespace, {}).setdefault(room, {})[sid] = eio_sid

    def basic_leave_room(self, sid: str, namespace: str, room: Room) -> None:
        """Take ``sid`` out of ``room``; an empty room goes."""
        members = self.rooms.get(namespace, {}).get(room)
        if members is None:
            return
        members.pop(sid, None)
        if not members:
            del self.rooms[namespace][room]

    def basic_close_room(self, room: str, namespace: str) -> None:
        """Empty ``room``."""
        self.rooms.get(namespace, {}).pop(room, None)

    async def enter_room(
        self, sid: str, namespace: str, room: str, eio_sid: str | None = None
    ) -> None:
        """Put ``sid`` in ``room``."""
        self.basic_enter_room(sid, namespace, room, eio_sid)

    async def leave_room(self, sid: str, namespace: str, room: str) -> None:
        """Take ``sid`` out of ``room``."""
        self.basic_leave_room(sid, namespace, room)

    async def close_room(self, room: str, namespace: str) -> None:
        """Empty ``room``."""
        self.basic_close_room(room, namespace)

    def get_rooms(self, sid: str, namespace: str) -> list[str]:
        """The rooms ``sid`` is in, its own included."""
        rooms = self.rooms.get(namespace, {})
        return [name for name, members in rooms.items() if name is not None and sid in members]

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Room | Sequence[str] = None,
        skip_sid: str | Iterable[str] | None = None,
        callback: Callback | None = None,
        to: Room | Sequence[str] = None,
        ignore_queue: bool = False,
        **kwargs: Any,
    ) -> None:
        """Emit ``event`` to the clients of ``room`` (``to``), or of the whole
        namespace, but ``skip_sid``. The packet is encoded once; with a
        ``callback``, each recipient gets its own ack id. ``ignore_queue`` (keep it
        to this process) changes nothing here: this manager is one process's.

        To one client by its sid, a full queue is handled as the engine's
        ``queue_full`` says for a send (wait, or raise to the emitter); to a room,
        however many it holds, as for a broadcast (wait, or skip or disconnect that
        client, logged)."""
        target = to if to is not None else room
        skip = {skip_sid} if isinstance(skip_sid, str) else set(skip_sid or ())
        recipients = [
            eio_sid for sid, eio_sid in self.get_participants(namespace, target) if sid not in skip
        ]
        outlet = self.outlet
        packet = Packet(PacketType.EVENT, namespace, [event, *_args(data)])
        if callback is None:
            messages = outlet.encode(packet)
            if isinstance(target, str) and self.is_connected(target, namespace):
                # to one client by its sid: a full queue is the emitter's to handle
                if recipients:
                    await outlet.deliver(recipients[0], namespace, messages)
            elif recipients:  # a room, however many are in it
                await outlet.broadcast(recipients, namespace, messages)
            return
        for eio_sid in recipients:
            ack_id = outlet.add_callback(eio_sid, callback)
            if ack_id is not None:
                acked = Packet(PacketType.EVENT, namespace, packet.data, ack_id)
                await outlet.deliver(eio_sid, namespace, outlet.encode(acked))
