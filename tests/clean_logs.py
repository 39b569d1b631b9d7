"""The ``clean_logs`` fixture of the live Socket.IO suites: capture the logs of
both sides at WARNING, and check at the end of a test that nothing was logged at
WARNING or above, and that no server wrote a traceback, an error or a warning to
stderr (uvicorn's and Hypercorn's own loggers write there rather than propagate).

A conftest makes it available with ``from ..clean_logs import clean_logs as clean_logs``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest

LOGGERS = (
    "socketio.server",
    "socketio.client",
    "engineio.client",
    "engineio_sc.server",
    "engineio_sc.asgi",
    "engineio_sc.socketio",
)
"""The loggers of both sides that set their own level (python-socketio and the
engines set ERROR on theirs unless a level is set already); the others inherit
the root's."""

STDERR_MARKERS = ("Traceback", "ERROR", "WARNING", "CRITICAL")

CLIENT_SAW_CLOSE = re.compile(r"Server sent (close|\d+) packet data None, aborting")
"""The one warning allowed: python-engineio's client logs it when the server
closes the WebSocket of a session that the client itself is closing (after it
sent its close packet). Its server does the same, and gets the same warning."""


def _allowed(record: logging.LogRecord) -> bool:
    return record.name == "engineio.client" and bool(
        CLIENT_SAW_CLOSE.fullmatch(record.getMessage())
    )


@pytest.fixture
def clean_logs(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Callable[[], None]:
    """Capture at WARNING; call the result at the end of a test to check that
    neither side logged a warning (but :data:`CLIENT_SAW_CLOSE`), an error or a
    traceback."""
    caplog.set_level(logging.WARNING)
    for name in LOGGERS:
        caplog.set_level(logging.WARNING, logger=name)

    def check() -> None:
        logged = [
            f"{record.name} {record.levelname}: {record.getMessage()}"
            for record in caplog.records
            if record.levelno >= logging.WARNING and not _allowed(record)
        ]
        assert logged == [], caplog.text
        stderr = capsys.readouterr().err
        assert not any(marker in stderr for marker in STDERR_MARKERS), stderr

    return check
