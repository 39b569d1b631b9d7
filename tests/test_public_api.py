"""The public surface: exactly the names we mean to export."""

from __future__ import annotations

import ast
from pathlib import Path

import engineio_sc
from engineio_sc import exceptions

ADAPTERS = {"asgi.py", "aiohttp.py", "sanic.py", "tornado.py"}


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


ENGINE_SERVER = "engineio_sc._server"


def _server_imports(tree: ast.Module, package: str) -> list[tuple[int, bool]]:
    """``(line, under TYPE_CHECKING)`` of each import of the engine's ``_server``
    module by a module of ``package`` (relative imports resolved)."""
    typing_only = {
        id(node)
        for guard in ast.walk(tree)
        if isinstance(guard, ast.If) and ast.unparse(guard.test) == "TYPE_CHECKING"
        for statement in guard.body
        for node in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, [base, node.module or ""]))
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if ENGINE_SERVER in names:
            found.append((node.lineno, id(node) in typing_only))
    return found


def test_only_the_face_and_the_adapters_types_import_the_server() -> None:
    """The server's module is imported by the package's ``__init__`` and, for
    their annotations only, by the framework adapters; everything else is given
    what it needs (adapters go through the public ``RequestServer`` seam)."""
    package = Path(engineio_sc.__file__).parent
    seen: dict[str, list[tuple[int, bool]]] = {}
    for path in sorted(package.rglob("*.py")):
        dotted = ".".join(["engineio_sc", *path.parent.relative_to(package).parts])
        imports = _server_imports(ast.parse(path.read_text(encoding="utf-8")), dotted)
        if imports and path.name != "_server.py":
            seen[str(path.relative_to(package))] = imports
    assert set(seen) == {"__init__.py", *ADAPTERS}
    del seen["__init__.py"]
    assert all(typing_only for imports in seen.values() for _, typing_only in imports)
