"""Server settings shared by the benchmark apps, overridable through the environment.

``BENCH_PING_INTERVAL`` and ``BENCH_PING_TIMEOUT`` (seconds) default to 25 and 20,
generous enough that no ping happens during a short echo run; the idle-memory
scenario sets them to 5 and 5 so that every session sees at least one ping.
``BENCH_MAX_PAYLOAD`` (bytes) is the largest message accepted.
``BENCH_GC_THRESHOLD`` (``"700,10,10"``: the three thresholds of
:func:`gc.set_threshold`), when set, tunes the collector of every app alike.
``BENCH_GC_STATS`` (a file path), when set, times every collection with
:data:`gc.callbacks`; on ``SIGUSR1`` the app writes the totals so far to that
file as JSON: ``{"seq": n, "gc_s": seconds, "collections": [gen0, gen1, gen2]}``.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from typing import Any


def ping_interval() -> float:
    """Seconds between the server's pings."""
    return float(os.environ.get("BENCH_PING_INTERVAL", "25"))


def ping_timeout() -> float:
    """Seconds a client has to answer a ping."""
    return float(os.environ.get("BENCH_PING_TIMEOUT", "20"))


def max_payload() -> int:
    """The largest message or POST body accepted, in bytes."""
    return int(os.environ.get("BENCH_MAX_PAYLOAD", "1000000"))


def server_options() -> dict[str, Any]:
    """The options every benchmark server is built with: its pings, its largest
    message, and any origin."""
    return {
        "ping_interval": ping_interval(),
        "ping_timeout": ping_timeout(),
        "max_http_buffer_size": max_payload(),
        "cors_allowed_origins": "*",
    }


def tune_gc() -> None:
    """Set the collector's thresholds from ``BENCH_GC_THRESHOLD``, if it is set, and
    time its collections when ``BENCH_GC_STATS`` is set."""
    value = os.environ.get("BENCH_GC_THRESHOLD")
    if value:
        gc.set_threshold(*(int(part) for part in value.split(",")))
    path = os.environ.get("BENCH_GC_STATS")
    if path:
        _watch_gc(path)


def _watch_gc(path: str) -> None:
    """Add up the time of every collection; write the totals on ``SIGUSR1``."""
    totals = {"seq": 0, "gc_s": 0.0, "collections": [0, 0, 0]}
    started = [0.0]
    clock = time.perf_counter

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = clock()
        else:
            totals["gc_s"] += clock() - started[0]
            totals["collections"][info["generation"]] += 1

    def dump(signum: int, frame: object) -> None:
        totals["seq"] += 1
        partial = f"{path}.tmp"
        with open(partial, "w") as out:
            json.dump(totals, out)
        os.replace(partial, path)

    gc.callbacks.append(timed)
    signal.signal(signal.SIGUSR1, dump)
