"""The Socket.IO chat with rooms (examples/socketio_chat) end to end: Hypercorn's
trio worker, four pages of headless Chromium driven by
``tests/e2e/socketio_chat.mjs`` (its steps, and why what a page lacks is known
when it is captured, are in its header). What the browser tests share: see
:mod:`tests.e2e.harness`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..servers import REPO_ROOT, RunningServer
from .harness import (
    check_refuses_to_start_without_bundle,
    check_screenshots,
    needs_browser,
    run_driver,
    running_example,
)

BUNDLE = REPO_ROOT / "examples/socketio_chat/node_modules/socket.io-client/dist/socket.io.min.js"

CLOSED_WHILE_UPGRADING = re.compile(
    r"console warning: WebSocket connection to 'ws://[^']+/socket\.io/\?[^']+' failed: "
    r"WebSocket is closed before the connection is established\."
    r"|HTTP 400: http://\S+/socket\.io/\?EIO=4&transport=polling&\S+"
    r"|console error: Failed to load resource: the server responded with a status of 400 \(\)"
)
"""What the refused page may log, by chance. Refused, the client closes its
connection at once, while its upgrade has begun: it closes the WebSocket still
opening, and it sends its close packet beside a new poll, which the server may
get after the close (a 400: unknown session, as the reference server answers)."""


@pytest.fixture
def socketio_chat() -> Iterator[RunningServer]:
    """``hypercorn examples.socketio_chat.app:app --worker-class trio`` (see
    :func:`~tests.e2e.harness.running_example`)."""
    with running_example("socketio_chat") as server:
        yield server


def mine(name: str, text: str) -> dict[str, Any]:
    """A message the page sent, and the server acknowledged."""
    return {"from": name, "text": text, "ack": "delivered"}


def theirs(name: str, text: str) -> dict[str, Any]:
    """A message from someone else in the room."""
    return {"from": name, "text": text, "ack": None}


def expected_pages(sent: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What each page must show when it is captured (see the driver's steps)."""
    red_1, blue_1, red_2, blue_2 = sent["RED_1"], sent["BLUE_1"], sent["RED_2"], sent["BLUE_2"]
    connected = {"state": "connected", "transport": "websocket", "canConnect": False}
    return {
        "A": {
            **connected,
            "stateText": "connected as Ada",
            "room": "none",
            "members": [],
            "notices": ["you joined red", "Bob joined", "Bob left", "you left red"],
            "messages": [mine("Ada", red_1), mine("Ada", red_2)],
            "canJoin": True,
            "canSend": False,
        },
        "B": {
            **connected,
            "stateText": "connected as Bob",
            "room": "blue",
            "members": ["Bob"],
            "notices": ["you joined red", "you joined blue", "Cleo left"],
            "messages": [theirs("Ada", red_1), theirs("Cleo", blue_2)],
            "canJoin": True,
            "canSend": True,
        },
        "C": {
            **connected,
            "stateText": "connected as Cleo",
            "room": "blue",
            "members": ["Bob", "Cleo"],
            "notices": ["you joined blue", "Bob joined"],
            "messages": [mine("Cleo", blue_1), mine("Cleo", blue_2)],
            "canJoin": True,
            "canSend": True,
        },
        "D": {
            "state": "refused",
            "stateText": "refused: a name is required",
            "room": "none",
            "members": [],
            "notices": [],
            "messages": [],
            "canConnect": True,
            "canJoin": False,
            "canSend": False,
        },
    }


@needs_browser("socketio_chat", BUNDLE)
def test_rooms_in_three_pages(socketio_chat: RunningServer, tmp_path: Path) -> None:
    """A and B in "red", C in "blue": A's message reaches A and B, not C; C's only
    C. B moves to "blue": it gets C's next message, not A's. A page without a name
    is refused; a page that closes leaves its room."""
    report = run_driver("socketio_chat.mjs", f"{socketio_chat.url}/", tmp_path)
    for name, expected in expected_pages(report["sent"]).items():
        page = report["pages"][name]
        assert page["ioGlobal"] == "function", f"page {name}: the bundle did not load: {page}"
        errors = page["errors"]
        if name == "D":
            errors = [error for error in errors if not CLOSED_WHILE_UPGRADING.fullmatch(error)]
        assert errors == [], f"page {name}: {page['errors']}"
        assert page["markupInMessages"] == 0, f"page {name} rendered a message as HTML: {page}"
        assert {key: page[key] for key in expected} == expected, f"page {name}"
    check_screenshots(report, tmp_path, ["C", "D", "A", "B"])


def test_refuses_to_start_without_the_bundle(tmp_path: Path) -> None:
    """A copy of the app with no node_modules beside it says which npm command to run."""
    check_refuses_to_start_without_bundle(
        "socketio_chat", tmp_path, "the socket.io-client browser bundle is missing"
    )
