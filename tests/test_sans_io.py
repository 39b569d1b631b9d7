"""The protocol core is sans-IO: it imports only the standard library and itself.

The check reads the source with :mod:`ast`, so it sees every import: at module
level, in functions, under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import engineio_sc

PACKAGE_DIR = Path(engineio_sc.__file__).resolve().parent
PROTOCOL_DIR = PACKAGE_DIR / "protocol"

# Standard-library modules that do I/O, run an event loop or read a clock.
FORBIDDEN_STDLIB = frozenset(
    {
        "asyncio",
        "time",
        "datetime",
        "socket",
        "ssl",
        "select",
        "selectors",
        "threading",
        "multiprocessing",
        "concurrent",
        "subprocess",
        "signal",
        "importlib",
        "http",
        "urllib",
        "os",
        "io",
        "random",
        "secrets",
    }
)

PROTOCOL = "engineio_sc.protocol"

EXPECTED_PROTOCOL_MODULES = {
    "__init__",
    "_handshake",
    "_packets",
    "_payload",
    "_session",
    "_state",
}


def core_files() -> list[Path]:
    return [*sorted(PROTOCOL_DIR.glob("*.py")), PACKAGE_DIR / "exceptions.py"]


def package_of(path: Path) -> str:
    """The dotted package a source file belongs to (its ``__package__``)."""
    return ".".join(path.relative_to(PACKAGE_DIR.parent).parts[:-1])


def allowed_internal(name: str, package: str) -> bool:
    """Internal modules the core may import.

    A protocol module may import the other protocol modules and the exceptions; the
    exceptions module is a leaf and imports nothing of the package.
    """
    if package != PROTOCOL:
        return False
    if name == "engineio_sc.exceptions":
        return True
    prefix = "engineio_sc.protocol."
    return name.startswith(prefix) and name[len(prefix) :] in {
        p.stem for p in PROTOCOL_DIR.glob("*.py") if p.stem != "__init__"
    }


def violations(source: str, package: str) -> list[str]:
    """Every import of ``source`` (in ``package``) that the sans-IO core may not make."""
    found: list[str] = []

    def check_absolute(name: str, line: int) -> None:
        top = name.partition(".")[0]
        if top not in sys.stdlib_module_names:
            found.append(f"line {line}: {name} is not in the standard library")
        elif top in FORBIDDEN_STDLIB:
            found.append(f"line {line}: {name} does I/O or reads a clock")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_absolute(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                check_absolute(node.module, node.lineno)
                continue
            base = package.split(".")
            if node.level > 1:
                base = base[: -(node.level - 1)]
            if node.module is not None:
                targets = [".".join([*base, node.module])]
            else:
                targets = [".".join([*base, alias.name]) for alias in node.names]
            for target in targets:
                if not allowed_internal(target, package):
                    found.append(f"line {node.lineno}: relative import of {target}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"__import__", "eval", "exec"}
        ):
            found.append(f"line {node.lineno}: dynamic {node.func.id}()")
    return found


def test_core_files_are_found() -> None:
    files = core_files()
    assert {p.stem for p in files if p.parent == PROTOCOL_DIR} >= EXPECTED_PROTOCOL_MODULES
    assert all(p.is_file() for p in files)
    assert package_of(PROTOCOL_DIR / "_packets.py") == "engineio_sc.protocol"
    assert package_of(PROTOCOL_DIR / "__init__.py") == "engineio_sc.protocol"
    assert package_of(PACKAGE_DIR / "exceptions.py") == "engineio_sc"


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.name)
def test_core_imports_only_stdlib_and_itself(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), package_of(path)) == []


# -- the checker itself ------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import json, enum, base64, binascii",
        "from collections.abc import Callable",
        "from dataclasses import dataclass",
        "from ._packets import Packet",
        "from . import _state",
        "from ..exceptions import ProtocolError",
        "from .. import exceptions",
        "def f():\n    import json",
    ],
)
def test_checker_accepts(source: str) -> None:
    assert violations(source, PROTOCOL) == []


@pytest.mark.parametrize(
    "source",
    [
        "import anyio",
        "import trio",
        "import hypercorn.config",
        "from sniffio import current_async_library",
        "import asyncio",
        "import time",
        "from time import monotonic",
        "import datetime",
        "import socket",
        "import engineio_sc",
        "from engineio_sc import _server",
        "from engineio_sc.protocol import _packets",
        "from .. import _server",
        "from .._session import Session",
        "from ._nonexistent import x",
        "from ... import something",
        "if TYPE_CHECKING:\n    import anyio",
        "def f():\n    from time import monotonic",
        "m = __import__('time')",
    ],
)
def test_checker_rejects(source: str) -> None:
    assert violations(source, PROTOCOL) != []


def test_checker_for_the_exceptions_module() -> None:
    assert violations("import enum", "engineio_sc") == []
    assert violations("from .protocol._state import Transport", "engineio_sc") != []
    assert violations("from ._server import AsyncServer", "engineio_sc") != []
    assert violations("import anyio", "engineio_sc") != []
