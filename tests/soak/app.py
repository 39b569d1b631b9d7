"""The soak test's server: an echo server plus ``/stats`` (sessions, tasks, memory)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

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


def _task_names() -> list[str]:
    """The names of the tasks running in the server (the current request's among them)."""

    def names(task: trio.lowlevel.Task) -> list[str]:
        below = [names(c) for nursery in task.child_nurseries for c in nursery.child_tasks]
        return [task.name, *(name for child in below for name in child)]

    try:
        root = trio.lowlevel.current_root_task()
    except RuntimeError:  # Hypercorn's asyncio worker
        tasks = asyncio.all_tasks()
        return [getattr(t.get_coro(), "__qualname__", t.get_name()) for t in tasks]
    return [] if root is None else names(root)


def _memory_kib() -> dict[str, int]:
    """The resident set size now and its high-water mark, from ``/proc/self/status``."""
    figures = {"VmRSS": 0, "VmHWM": 0}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in figures:
                figures[key] = int(value.split()[0])
    return figures


def _arenas_kib() -> int:
    """The memory in pymalloc's arenas, from ``sys._debugmallocstats()`` (it writes to fd 2)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        match = re.search(r"arenas \* \d+ bytes/arena\s+=\s+([\d,]+)", out.read())
    return 0 if match is None else int(match.group(1).replace(",", "")) // 1024


def _reset_peak() -> bool:
    """Reset the high-water mark to the current RSS (Linux 4.0 and later)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "malloc_trim"):
        return None
    malloc_trim = libc.malloc_trim
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int
    return malloc_trim


_malloc_trim = _load_malloc_trim()


def _trim() -> dict[str, Any]:
    """Give the C allocator's free pages back to the system; RSS before and after."""
    if _malloc_trim is None:
        return {"available": False}
    before = _memory_kib()["VmRSS"]
    released = _malloc_trim(0)
    return {
        "available": True,
        "released": bool(released),
        "rss_before_kib": before,
        "rss_after_kib": _memory_kib()["VmRSS"],
    }


async def stats(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``GET /stats``: what the soak test reports.

    Options in the query: ``collect=1`` runs ``gc.collect()`` first and adds the size of
    pymalloc's arenas (``arenas_kib``) and the running tasks by name. ``trim=1`` does the
    same and then calls glibc's ``malloc_trim(0)`` (a measurement aid: what the C allocator
    keeps but the server no longer holds). ``reset_peak=1`` resets the RSS high-water mark
    afterwards.
    """
    if scope["type"] != "http":
        return
    query = parse_qs(scope.get("query_string", b"").decode())
    trim = query.get("trim") == ["1"]
    collect = trim or query.get("collect") == ["1"]
    if collect:
        gc.collect()
    figures = eio.statistics()
    memory = _memory_kib()
    tasks = _task_names()
    report: dict[str, Any] = {
        "sessions": len(figures.sessions),
        "opened": figures.sessions_opened,
        "closed": figures.sessions_closed,
        "messages_in": figures.messages_in,
        "messages_out": figures.messages_out,
        "queued": figures.queued,
        "tasks": len(tasks),
        "rss_kib": memory["VmRSS"],
        "rss_peak_kib": memory["VmHWM"],
        "objects": len(gc.get_objects()),
        "blocks": sys.getallocatedblocks(),
        "reasons": reasons,
    }
    if collect:
        report["arenas_kib"] = _arenas_kib()
        report["task_names"] = dict(Counter(tasks))
    if trim:
        report["trim"] = _trim()
    if query.get("reset_peak") == ["1"]:
        report["peak_reset"] = _reset_peak()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(report).encode()})


app = engineio_sc.ASGIApp(eio, stats)
