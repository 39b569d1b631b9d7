"""What the two bare applications (``bare_echo.py``, ``bare_sio.py``) share: the ASGI
types they use, the lifespan, a short HTTP reply, and the Engine.IO open packet.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import _settings

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def open_packet(sid: str) -> str:
    """The Engine.IO open packet of a new session ``sid``: no upgrades, and the ping
    settings and payload limit of ``_settings`` (the bare applications never ping)."""
    return "0" + json.dumps(
        {
            "sid": sid,
            "upgrades": [],
            "pingInterval": round(_settings.ping_interval() * 1000),
            "pingTimeout": round(_settings.ping_timeout() * 1000),
            "maxPayload": _settings.max_payload(),
        }
    )


async def lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def reply(send: Send, body: bytes, content_type: bytes = b"text/plain") -> None:
    """A complete 200 response carrying ``body``."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
