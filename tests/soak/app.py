"""The soak test's server: an echo server plus ``/stats`` (sessions, tasks, memory)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
from typing import Any

import trio

import engineio_sc

eio = engineio_sc.AsyncServer(
    ping_interval=float(os.environ.get("EIO_PING_INTERVAL", "5")),
    ping_timeout=float(os.environ.get("EIO_PING_TIMEOUT", "5")),
    max_sessions=None,
)


reasons: dict[str, int] = {}


@eio.on("message")
async def message(sid: str, data: str | bytes) -> None:
    """Echo."""
    await eio.send(sid, data)


@eio.on("disconnect")
def disconnect(sid: str, reason: str) -> None:
    """Count why sessions end."""
    reasons[reason] = reasons.get(reason, 0) + 1


def _tasks() -> int:
    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(c) for nursery in task.child_nurseries for c in nursery.child_tasks)

    try:
        root = trio.lowlevel.current_root_task()
    except RuntimeError:  # Hypercorn's asyncio worker
        return len(asyncio.all_tasks())
    return 0 if root is None else count(root)


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def stats(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``GET /stats``: what the soak test reports."""
    if scope["type"] != "http":
        return
    if b"collect=1" in scope.get("query_string", b""):
        gc.collect()
    figures = eio.statistics()
    body = json.dumps(
        {
            "sessions": len(figures.sessions),
            "opened": figures.sessions_opened,
            "closed": figures.sessions_closed,
            "messages_in": figures.messages_in,
            "messages_out": figures.messages_out,
            "queued": figures.queued,
            "tasks": _tasks(),
            "rss_kib": _rss_kib(),
            "objects": len(gc.get_objects()),
            "reasons": reasons,
        }
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


app = engineio_sc.ASGIApp(eio, stats)
