"""Server settings shared by the benchmark apps, overridable through the environment.

``BENCH_PING_INTERVAL`` and ``BENCH_PING_TIMEOUT`` (seconds) default to 25 and 20,
generous enough that no ping happens during a short echo run; the idle-memory
scenario sets them to 5 and 5 so that every session sees at least one ping.
``BENCH_MAX_PAYLOAD`` (bytes) is the largest message accepted.
``BENCH_GC_THRESHOLD`` (``"700,10,10"``: the three thresholds of
:func:`gc.set_threshold`), when set, tunes the collector of every app alike.
"""

from __future__ import annotations

import gc
import os


def ping_interval() -> float:
    """Seconds between the server's pings."""
    return float(os.environ.get("BENCH_PING_INTERVAL", "25"))


def ping_timeout() -> float:
    """Seconds a client has to answer a ping."""
    return float(os.environ.get("BENCH_PING_TIMEOUT", "20"))


def max_payload() -> int:
    """The largest message or POST body accepted, in bytes."""
    return int(os.environ.get("BENCH_MAX_PAYLOAD", "1000000"))


def tune_gc() -> None:
    """Set the collector's thresholds from ``BENCH_GC_THRESHOLD``, if it is set."""
    value = os.environ.get("BENCH_GC_THRESHOLD")
    if value:
        gc.set_threshold(*(int(part) for part in value.split(",")))
