"""The messages that Socket.IO servers pass to each other over a pub/sub bus, and
the state of the link to that bus: no I/O, no clock (the caller passes ``now``).

The messages are JSON objects in python-socketio's format, so that its
``AsyncRedisManager`` (a server or a write-only emitter) and this package's
understand each other on the same channel. Each names its ``method`` and the
``host_id`` of the server that sent it (of the one it answers, for a
``callback``)::

    {"method": "emit", "event": ..., "data": [...], "binary": false,
     "namespace": "/", "room": ..., "skip_sid": ..., "callback": [to, namespace, id],
     "host_id": ...}
    {"method": "disconnect", "sid": ..., "namespace": ..., "host_id": ...}
    {"method": "enter_room" | "leave_room", "sid": ..., "room": ..., "namespace": ..., ...}
    {"method": "close_room", "room": ..., "namespace": ..., "host_id": ...}
    {"method": "callback", "host_id": ..., "sid": ..., "namespace": ..., "id": ..., "args": [...],
     "final": true}

An emit's ``data`` holds its arguments; with ``binary``, its first item holds them
with placeholders where bytes were and the items after it are those bytes in
base64. A ``callback``'s ``args`` carry bytes the same way, with ``binary``. Its
``final`` (this package's; python-socketio's answers have none, and are final)
says whether the emit was to that one client, and no other answer will come.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .protocol import ProtocolViolation, deconstruct, reconstruct

__all__ = [
    "AckRef",
    "Answer",
    "CloseRoom",
    "Disconnect",
    "Emit",
    "EnterRoom",
    "LeaveRoom",
    "Link",
    "Message",
    "Outage",
    "dumps",
    "loads",
]

Target = str | list[str] | None
"""A room, a list of rooms, or ``None`` for the whole namespace."""


@dataclass(frozen=True, slots=True)
class AckRef:
    """Where an emit's ack goes back to, on the server ``host_id`` of the emit.

    Attributes:
        to: the emit's target, as python-socketio puts it in the answer's ``sid``.
        namespace: the emit's namespace.
        id: the id under which the emitting server keeps the callback.
    """

    to: Target
    namespace: str
    id: int


@dataclass(frozen=True, slots=True)
class Emit:
    """Emit ``event`` to the clients of ``room`` but ``skip_sid``.

    Attributes:
        data: the emit's data: a tuple is several arguments, ``None`` none.
        callback: where each recipient's ack goes, or ``None``.
    """

    host_id: str
    event: str
    data: Any
    namespace: str
    room: Target = None
    skip_sid: Target = None
    callback: AckRef | None = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Disconnect ``sid`` (from ``namespace``, or from its namespace if ``None``)."""

    host_id: str
    sid: str
    namespace: str | None


@dataclass(frozen=True, slots=True)
class EnterRoom:
    """Put ``sid`` in ``room``."""

    host_id: str
    sid: str
    namespace: str
    room: str


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    """Take ``sid`` out of ``room``."""

    host_id: str
    sid: str
    namespace: str
    room: str


@dataclass(frozen=True, slots=True)
class CloseRoom:
    """Empty ``room``."""

    host_id: str
    room: str
    namespace: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A client's ack, for the callback ``id`` of the server ``host_id``.

    Attributes:
        final: the emit was to this one client: no other ack will come for ``id``.
    """

    host_id: str
    sid: Target
    namespace: str
    id: int
    args: list[Any]
    final: bool = True


Message = Emit | Disconnect | EnterRoom | LeaveRoom | CloseRoom | Answer

Dumps = Callable[[Any], str]
Loads = Callable[[str | bytes], Any]


def _pack(values: list[Any]) -> tuple[list[Any], bool]:
    """``values`` for JSON, and whether it holds bytes (see the module's docstring)."""
    plain, buffers = deconstruct(values)
    if not buffers:
        return values, False
    return [plain, *(base64.b64encode(buffer).decode("ascii") for buffer in buffers)], True


def _unpack(values: list[Any], binary: bool) -> list[Any]:
    """What :func:`_pack` was given.

    Raises:
        ValueError: not in that form.
    """
    if not binary:
        return values
    if not values or not isinstance(values[0], list):
        raise ValueError("binary data without its arguments")
    try:
        buffers = [base64.b64decode(item, validate=True) for item in values[1:]]
        unpacked = reconstruct(values[0], buffers)
    except (TypeError, binascii.Error, ProtocolViolation) as exc:
        raise ValueError(str(exc)) from None
    assert isinstance(unpacked, list)
    return unpacked


def _emit_args(data: Any) -> list[Any]:
    """An emit's data as python-socketio puts it on the bus: a tuple's items, or
    the one value (``None`` too)."""
    return list(data) if isinstance(data, tuple) else [data]


def _emit_data(args: list[Any]) -> Any:
    """What :func:`_emit_args` was given, as python-socketio reads it back: one
    item is the value, several a tuple."""
    return args[0] if len(args) == 1 else tuple(args)


_compact = json.JSONEncoder(separators=(",", ":")).encode


def dumps(message: Message, encode: Dumps | None = None) -> bytes:
    """``message`` as the bytes to publish, in JSON made by ``encode`` (compact
    JSON of :mod:`json` by default).

    Raises:
        TypeError: its data is not JSON (as ``encode`` says).
    """
    body: dict[str, Any]
    if isinstance(message, Emit):
        data, binary = _pack(_emit_args(message.data))
        ack = message.callback
        body = {
            "method": "emit",
            "event": message.event,
            "data": data,
            "binary": binary,
            "namespace": message.namespace,
            "room": message.room,
            "skip_sid": message.skip_sid,
            "callback": None if ack is None else [ack.to, ack.namespace, ack.id],
        }
    elif isinstance(message, Disconnect):
        body = {"method": "disconnect", "sid": message.sid, "namespace": message.namespace}
    elif isinstance(message, EnterRoom | LeaveRoom):
        method = "enter_room" if isinstance(message, EnterRoom) else "leave_room"
        body = {
            "method": method,
            "sid": message.sid,
            "room": message.room,
            "namespace": message.namespace,
        }
    elif isinstance(message, CloseRoom):
        body = {"method": "close_room", "room": message.room, "namespace": message.namespace}
    else:
        args, binary = _pack(message.args)
        body = {
            "method": "callback",
            "sid": message.sid,
            "namespace": message.namespace,
            "id": message.id,
            "args": args,
            "final": message.final,
        }
        if binary:
            body["binary"] = True
    body["host_id"] = message.host_id
    return (encode or _compact)(body).encode()


def _target(value: Any) -> Target:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError("not a room, a list of rooms or null")


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is not a string")
    return value


def _integer(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if type(value) is not int:
        raise ValueError(f"{key!r} is not an integer")
    return value


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise ValueError(f"{key!r} is not a list")
    return value


def _ack_ref(value: Any) -> AckRef | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("'callback' is not [to, namespace, id]")
    to, namespace, ack_id = value
    if not isinstance(namespace, str) or type(ack_id) is not int:
        raise ValueError("'callback' is not [to, namespace, id]")
    return AckRef(_target(to), namespace, ack_id)


def _decode(body: dict[str, Any]) -> Message | None:
    method = body.get("method")
    host_id = _text(body, "host_id")
    if method == "emit":
        args = _unpack(_list(body, "data"), body.get("binary") is True)
        namespace = body.get("namespace")
        return Emit(
            host_id,
            _text(body, "event"),
            _emit_data(args),
            "/" if namespace is None else _text(body, "namespace"),
            _target(body.get("room")),
            _target(body.get("skip_sid")),
            _ack_ref(body.get("callback")),
        )
    if method == "disconnect":
        namespace = body.get("namespace")
        if namespace is not None and not isinstance(namespace, str):
            raise ValueError("'namespace' is not a string")
        return Disconnect(host_id, _text(body, "sid"), namespace)
    if method in ("enter_room", "leave_room"):
        kind = EnterRoom if method == "enter_room" else LeaveRoom
        return kind(host_id, _text(body, "sid"), _text(body, "namespace"), _text(body, "room"))
    if method == "close_room":
        return CloseRoom(host_id, _text(body, "room"), _text(body, "namespace"))
    if method == "callback":
        args = _unpack(_list(body, "args"), body.get("binary") is True)
        final = body.get("final", True)
        if not isinstance(final, bool):
            raise ValueError("'final' is not a boolean")
        return Answer(
            host_id,
            _target(body.get("sid")),
            _text(body, "namespace"),
            _integer(body, "id"),
            args,
            final,
        )
    return None


def loads(payload: str | bytes, decode: Loads = json.loads) -> Message | None:
    """The message published as ``payload``; ``None`` for one that is not one of
    :data:`Message` (not JSON, an unknown method, a field of the wrong type)."""
    try:
        body = decode(payload)
        if not isinstance(body, dict):
            return None
        return _decode(body)
    except (ValueError, RecursionError):
        return None


@dataclass(frozen=True, slots=True)
class Outage:
    """An outage that has ended.

    Attributes:
        began: when the first failure was seen.
        dropped: how many messages were dropped meanwhile.
    """

    began: float
    dropped: int


class Link:
    """Whether the bus answers, and when to try it again: the bus is down from
    a failure to the next success, and meanwhile it is tried again after a delay
    that doubles from ``first_delay`` up to ``max_delay``.

    Messages to publish while the bus is down and its next try has not come are
    dropped (pub/sub delivers at most once: none are kept for later).
    """

    def __init__(self, first_delay: float = 0.5, max_delay: float = 5.0) -> None:
        if not 0 < first_delay <= max_delay:
            raise ValueError("the delays must be 0 < first_delay <= max_delay")
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.up = True
        self.retry_at = 0.0
        self._delay = first_delay
        self._began = 0.0
        self._dropped = 0

    def failed(self, now: float) -> bool:
        """An attempt failed at ``now``: the next one waits. Whether this failure
        begins an outage (to be reported, once)."""
        began = self.up
        if began:
            self.up = False
            self._began = now
            self._dropped = 0
            self._delay = self.first_delay
        elif now < self.retry_at:  # an attempt made before the last failure ended
            return False
        self.retry_at = now + self._delay
        self._delay = min(self._delay * 2, self.max_delay)
        return began

    def succeeded(self) -> Outage | None:
        """An attempt succeeded: the outage it ends, if the bus was down."""
        if self.up:
            return None
        self.up = True
        return Outage(self._began, self._dropped)

    def may_try(self, now: float) -> bool:
        """Whether to try the bus at ``now``: it is up, or its next try has come."""
        return self.up or now >= self.retry_at

    def dropped(self) -> None:
        """Count a message dropped during the outage."""
        self._dropped += 1
