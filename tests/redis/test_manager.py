"""AsyncRedisManager's API where no Redis is needed: what a write-only manager
refuses, what a server's refuses, and the name it is exported under."""

from __future__ import annotations

import pytest

from engineio_sc import socketio

pytestmark = pytest.mark.anyio


def test_it_is_exported() -> None:
    assert "AsyncRedisManager" in socketio.__all__
    assert issubclass(socketio.AsyncRedisManager, socketio.AsyncManager)


def test_a_write_only_manager_serves_no_server() -> None:
    with pytest.raises(ValueError, match="write-only"):
        socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(write_only=True))


async def test_a_write_only_manager_takes_no_callback() -> None:
    manager = socketio.AsyncRedisManager(write_only=True)
    with pytest.raises(RuntimeError, match="acks"):
        await manager.emit("event", 1, to="sid", callback=print)


async def test_only_a_write_only_manager_is_entered() -> None:
    manager = socketio.AsyncRedisManager()
    with pytest.raises(RuntimeError, match="write-only"):
        async with manager:
            pass
