"""The browser chat (examples/chat, on Engine.IO) end to end: Hypercorn's trio
worker, two pages of headless Chromium driven by ``tests/e2e/chat.mjs``. What the
browser tests share (the app's run and clean exit, the driver, the screenshots):
see :mod:`tests.e2e.harness`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..servers import REPO_ROOT, RunningServer, ServerLog
from .harness import (
    check_refuses_to_start_without_bundle,
    check_screenshots,
    needs_browser,
    run_driver,
    running_example,
)

BUNDLE = REPO_ROOT / "examples/chat/node_modules/engine.io-client/dist/engine.io.min.js"

LOG_DEADLINE = 10.0
"""Seconds for an expected line to show up in the app's log."""


@pytest.fixture
def chat_app() -> Iterator[RunningServer]:
    """``hypercorn examples.chat.app:app --worker-class trio`` (see
    :func:`~tests.e2e.harness.running_example`)."""
    with running_example("chat") as server:
        yield server


def _counts(log: ServerLog, event: str) -> list[int]:
    """The connected counts that the app logged in its ``event`` lines, in order."""
    pattern = rf"^chat: \S+ {event} .*\((\d+) connected\)$"
    return [int(n) for n in re.findall(pattern, log.text, re.MULTILINE)]


def check_page(name: str, page: dict[str, Any], sent: list[str]) -> None:
    """What one page shows once ``sent`` went round: both messages, over websocket."""
    assert page["eioGlobal"] == "function", f"page {name}: the bundle did not load: {page}"
    assert page["errors"] == [], f"page {name}: {page['errors']}"
    assert page["state"] == "open", f"page {name}: {page}"
    assert page["transport"] == "websocket", f"page {name}: {page}"
    assert page["upgrades"] == "websocket", f"page {name}: {page}"
    assert page["notices"] == ["connected over polling", "upgraded to websocket"], page
    assert page["messages"] == sent, f"page {name}: {page}"
    assert page["markupInMessages"] == 0, f"page {name} rendered a message as HTML: {page}"
    assert page["inputValue"] == "", f"page {name}: {page}"


@needs_browser("chat", BUNDLE)
def test_two_pages_chat(chat_app: RunningServer, tmp_path: Path) -> None:
    """A sends, both pages show it; B sends, both show it; A leaves, B still chats."""
    report = run_driver("chat.mjs", f"{chat_app.url}/", tmp_path)
    sent = report["sent"]
    for name in ("A", "B"):
        check_page(name, report["pages"][name], [sent["A"], sent["B"]])
    check_page("B after A left", report["afterLeave"], [sent["A"], sent["B"], sent["C"]])
    check_screenshots(report, tmp_path, ["A", "B"])

    # The app's set of sids: both joined; A's leaving took it out, then B's.
    gone = re.compile(r"^chat: \S+ left: .*\(0 connected\)$")
    assert chat_app.log.wait_for(gone, LOG_DEADLINE), chat_app.log.text
    assert _counts(chat_app.log, "joined") == [1, 2], chat_app.log.text
    assert _counts(chat_app.log, "left:") == [1, 0], chat_app.log.text


def test_refuses_to_start_without_the_bundle(tmp_path: Path) -> None:
    """A copy of the app with no node_modules beside it says which npm command to run."""
    check_refuses_to_start_without_bundle(
        "chat", tmp_path, "the engine.io-client browser bundle is missing"
    )
