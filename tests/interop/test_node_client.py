"""The official npm ``engine.io-client`` (via tests/js/client.mjs) against the echo server."""

from __future__ import annotations

import pytest

from ..node_driver import MESSAGES, MODES, NODE, NODE_MODULES, check_session, run_client, text
from ..servers import RunningServer

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="node is not on PATH"),
    pytest.mark.skipif(
        not (NODE_MODULES / "engine.io-client").is_dir(),
        reason="tests/js/node_modules is missing (run: cd tests/js && npm ci)",
    ),
]

MIXED = [*MESSAGES, text("plain ascii")]


@pytest.mark.parametrize("mode_name", list(MODES))
def test_echo_text_and_binary(echo_server: RunningServer, mode_name: str) -> None:
    mode = MODES[mode_name]
    report = run_client(echo_server.url, mode, MIXED)
    check_session(report, mode, MIXED)


def test_many_messages_over_polling(echo_server: RunningServer) -> None:
    """50 messages sent in one go come back, in order, over as many polls as it takes."""
    mode = MODES["polling"]
    sent = [text(f"message {i:02d} ✓ " + "x" * i) for i in range(50)]
    report = run_client(echo_server.url, mode, sent)
    check_session(report, mode, sent)
