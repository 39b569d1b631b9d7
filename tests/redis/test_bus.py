"""The bus messages and the link's state (engineio_sc.socketio._bus): no I/O, no
clock. The messages are python-socketio's: what its managers publish is read here,
and what is published here is what they read."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from socketio.async_pubsub_manager import AsyncPubSubManager

from engineio_sc.socketio import _bus
from engineio_sc.socketio._bus import (
    AckRef,
    Answer,
    CloseRoom,
    Disconnect,
    Emit,
    EnterRoom,
    LeaveRoom,
    Link,
    Message,
    Outage,
    dumps,
    loads,
)

from ..test_sans_io import FORBIDDEN_STDLIB

HOST = "f" * 32


def test_the_bus_module_is_sans_io() -> None:
    """It imports the standard library (nothing that does I/O or reads a clock)
    and the Socket.IO protocol core, nothing else."""
    tree = ast.parse(Path(_bus.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    relative = {name for name in imported if name.startswith(".")}
    assert relative == {".protocol"}
    tops = {name.partition(".")[0] for name in imported - relative}
    assert tops <= set(sys.stdlib_module_names) - FORBIDDEN_STDLIB, tops


MESSAGES: list[Message] = [
    Emit(HOST, "news", {"n": 1}, "/", "lobby", "sid1"),
    Emit(HOST, "news", (1, "two", [3]), "/chat", ["a", "b"], ["s1", "s2"], AckRef("a", "/chat", 7)),
    Emit(HOST, "blob", (b"\x00\xff", {"inner": [b"x", 2]}), "/", None, None),
    Emit(HOST, "nothing", None, "/"),
    Disconnect(HOST, "sid1", "/"),
    Disconnect(HOST, "sid1", None),
    EnterRoom(HOST, "sid1", "/", "room"),
    LeaveRoom(HOST, "sid1", "/chat", "room"),
    CloseRoom(HOST, "room", "/"),
    Answer(HOST, "sid1", "/", 3, [1, {"two": 2}]),
    Answer(HOST, ["r1", "r2"], "/", 4, [b"\x01", "x"], final=False),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_a_message_reads_back_as_published(message: Message) -> None:
    assert loads(dumps(message)) == message


def test_an_emit_is_python_socketio_s() -> None:
    body = json.loads(dumps(MESSAGES[2]))
    assert body == {
        "method": "emit",
        "event": "blob",
        "data": [
            [{"_placeholder": True, "num": 0}, {"inner": [{"_placeholder": True, "num": 1}, 2]}],
            "AP8=",
            "eA==",
        ],
        "binary": True,
        "namespace": "/",
        "room": None,
        "skip_sid": None,
        "callback": None,
        "host_id": HOST,
    }


class Captured(AsyncPubSubManager):  # type: ignore[misc]
    """python-socketio's write-only manager, keeping what it publishes."""

    def __init__(self) -> None:
        super().__init__(write_only=True)
        self.published: list[dict[str, Any]] = []

    async def _publish(self, data: dict[str, Any]) -> None:
        self.published.append(data)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_python_socketio_s_messages_are_read() -> None:
    manager = Captured()
    await manager.emit("news", (b"\x00", {"k": [1, b"\xff"]}), room="lobby", skip_sid="s1")
    await manager.emit("plain", {"n": 1}, namespace="/chat", to=["r1", "r2"])
    await manager.enter_room("s1", "/", "room")
    await manager.leave_room("s1", "/chat", "room")
    await manager.close_room("room", "/")
    await manager.can_disconnect("s1", "/chat")
    host = manager.host_id
    read = [loads(json.dumps(message)) for message in manager.published]
    assert read == [
        Emit(host, "news", (b"\x00", {"k": [1, b"\xff"]}), "/", "lobby", "s1"),
        Emit(host, "plain", {"n": 1}, "/chat", ["r1", "r2"]),
        EnterRoom(host, "s1", "/", "room"),
        LeaveRoom(host, "s1", "/chat", "room"),
        CloseRoom(host, "room", "/"),
        Disconnect(host, "s1", "/chat"),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'{"method": "emit"}',
        b'{"method": "dance", "host_id": "h"}',
        b'{"method": "emit", "host_id": "h", "event": 1, "data": [], "namespace": "/"}',
        b'{"method": "emit", "host_id": "h", "event": "e", "data": {}, "namespace": "/"}',
        b'{"method": "emit", "host_id": "h", "event": "e", "data": [1], "room": 5}',
        b'{"method": "emit", "host_id": "h", "event": "e", "data": [1], "room": [5]}',
        b'{"method": "emit", "host_id": "h", "event": "e", "data": [1], "callback": [1, 2]}',
        b'{"method": "emit", "host_id": "h", "event": "e", "data": [[1], "@@"], "binary": true}',
        b'{"method": "emit", "host_id": "h", "event": "e", "data": [1], "binary": true}',
        b'{"method": "emit", "host_id": "h", "event": "e", "data": [[{"_placeholder": true, '
        b'"num": 3}]], "binary": true}',
        b'{"method": "disconnect", "host_id": "h", "sid": "s", "namespace": 1}',
        b'{"method": "enter_room", "host_id": "h", "sid": "s", "namespace": "/"}',
        b'{"method": "callback", "host_id": "h", "sid": "s", "namespace": "/", "id": "1", '
        b'"args": []}',
        b'{"method": "callback", "host_id": "h", "sid": "s", "namespace": "/", "id": 1, '
        b'"args": [], "final": 1}',
        b"[" * 100_000,
    ],
)
def test_anything_else_is_not_a_message(payload: bytes) -> None:
    assert loads(payload) is None


def test_a_python_socketio_answer_is_final() -> None:
    payload = b'{"method": "callback", "host_id": "h", "sid": "s", "namespace": "/", "id": 1, '
    assert loads(payload + b'"args": [2]}') == Answer("h", "s", "/", 1, [2], final=True)


# -- the link -------------------------------------------------------------------


def test_an_outage_begins_once_and_the_delay_doubles_up_to_its_bound() -> None:
    link = Link(first_delay=0.5, max_delay=5)
    assert link.up
    assert link.may_try(0)
    began = [link.failed(now) for now in (10, 10.5, 11.5, 13.5, 17.5, 22.5, 27.5)]
    assert began == [True, False, False, False, False, False, False]
    assert link.retry_at == 32.5  # 0.5, 1, 2, 4, 5, 5, 5
    assert not link.may_try(32.4)
    assert link.may_try(32.5)


def test_a_failure_before_the_next_try_changes_nothing() -> None:
    link = Link(first_delay=1, max_delay=8)
    link.failed(0)
    assert not link.failed(0.5)  # another attempt of before the outage
    assert link.retry_at == 1
    link.failed(1)
    assert link.retry_at == 3


def test_success_ends_the_outage_with_its_count_of_dropped_messages() -> None:
    link = Link()
    assert link.succeeded() is None
    link.failed(3)
    link.dropped()
    link.dropped()
    assert link.succeeded() == Outage(began=3, dropped=2)
    assert link.up
    assert link.succeeded() is None
    assert link.failed(10)  # a new outage, with the first delay again
    assert link.retry_at == 10.5
    assert link.succeeded() == Outage(began=10, dropped=0)


@pytest.mark.parametrize(("first", "most"), [(0, 1), (-1, 1), (2, 1)])
def test_the_delays_are_checked(first: float, most: float) -> None:
    with pytest.raises(ValueError, match="delays"):
        Link(first, most)
