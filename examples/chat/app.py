"""A browser chat: every text message goes to every connected session, the sender's too.

Install the browser bundle of the official ``engine.io-client`` once, then run it
from the repository root and open http://127.0.0.1:3000/ in two browser tabs::

    npm ci --prefix examples/chat
    hypercorn examples.chat.app:app --worker-class trio --bind 127.0.0.1:3000

The page (``index.html``, at ``/``) loads the bundle from ``/engine.io.js`` and
talks to the server at ``/engine.io/``, on the same origin: the server keeps the
default ``cors_allowed_origins`` (same origin only).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import anyio

import engineio_sc
from engineio_sc.exceptions import SocketIsClosedError

HERE = Path(__file__).resolve().parent
INDEX = HERE / "index.html"
DIST = HERE / "node_modules" / "engine.io-client" / "dist"
BUNDLE = DIST / "engine.io.min.js"
"""The UMD browser bundle: it defines the global ``eio``."""
NPM_INSTALL = "npm ci --prefix examples/chat"
"""How to install the bundle, from the repository root."""


def _require_bundle() -> None:
    """Refuse to start without the browser bundle: the page would be useless."""
    if not BUNDLE.is_file():
        raise SystemExit(
            f"examples/chat: the engine.io-client browser bundle is missing ({BUNDLE}).\n"
            f"Install it from the repository root with: {NPM_INSTALL}"
        )


_require_bundle()

eio = engineio_sc.AsyncServer()
connected: set[str] = set()
"""The sids of the connected sessions."""


@eio.on("connect")
async def connect(sid: str, environ: dict[str, Any]) -> None:
    """Add the session to the chat."""
    connected.add(sid)
    print(f"chat: {sid} joined ({len(connected)} connected)", flush=True)


@eio.on("disconnect")
async def disconnect(sid: str, reason: str) -> None:
    """Take the session out of the chat."""
    connected.discard(sid)
    print(f"chat: {sid} left: {reason} ({len(connected)} connected)", flush=True)


async def _deliver(sid: str, text: str) -> None:
    # A session may close after the snapshot below: its disconnect handler removes it.
    with contextlib.suppress(SocketIsClosedError):
        await eio.send(sid, text)


@eio.on("message")
async def message(sid: str, data: str | bytes) -> None:
    """Relay a text message to every connected session, the sender included.

    Each session gets it from its own task, so that one slow client (whose queue
    is full) does not hold up the others. Binary messages are ignored.
    """
    if not isinstance(data, str):
        return
    async with anyio.create_task_group() as tg:
        for target in list(connected):
            tg.start_soon(_deliver, target, data)


app = engineio_sc.ASGIApp(
    eio,
    static_files={
        "/": {"filename": str(INDEX), "content_type": "text/html; charset=utf-8"},
        "/engine.io.js": {"filename": str(BUNDLE), "content_type": "text/javascript"},
        # The bundle's sourceMappingURL, resolved against /engine.io.js (for devtools).
        "/engine.io.min.js.map": {
            "filename": str(DIST / "engine.io.min.js.map"),
            "content_type": "application/json",
        },
    },
)
