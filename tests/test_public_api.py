"""The public surface: exactly the names we mean to export."""

from __future__ import annotations

import engineio_sc
from engineio_sc import exceptions


def test_exported_members() -> None:
    public = {name for name in dir(engineio_sc) if not name.startswith("_")}
    assert set(engineio_sc.__all__) - {"__version__"} <= public
    assert sorted(engineio_sc.__all__) == [
        "ASGIApp",
        "AsyncServer",
        "BackgroundTask",
        "DisconnectReason",
        "Packet",
        "PacketType",
        "ServerStatistics",
        "SessionStatistics",
        "__version__",
        "exceptions",
    ]
    for name in engineio_sc.__all__:
        member = getattr(engineio_sc, name)
        if isinstance(member, type):
            assert member.__module__.startswith("engineio_sc")


def test_exceptions_module() -> None:
    assert sorted(exceptions.__all__) == [
        "ConnectionError",
        "ContentTooLongError",
        "EngineIOError",
        "ErrorCode",
        "ProtocolError",
        "QueueEmpty",
        "QueueFullError",
        "RequestRefused",
        "SocketIsClosedError",
        "UnknownPacketError",
    ]
    assert issubclass(exceptions.ProtocolError, exceptions.RequestRefused)


def test_reasons_keep_python_engineio_strings() -> None:
    reason = engineio_sc.AsyncServer.reason
    assert (
        reason.SERVER_DISCONNECT,
        reason.CLIENT_DISCONNECT,
        reason.PING_TIMEOUT,
        reason.TRANSPORT_CLOSE,
        reason.TRANSPORT_ERROR,
    ) == (
        "server disconnect",
        "client disconnect",
        "ping timeout",
        "transport close",
        "transport error",
    )


def test_tornado_handler_is_available_lazily() -> None:
    from engineio_sc.tornado import get_tornado_handler

    assert engineio_sc.get_tornado_handler is get_tornado_handler
