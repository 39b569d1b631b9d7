"""Latency histograms from several processes, and medians with their spread."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any


@dataclass
class Histogram:
    """The load generator's log-bucketed latency histogram (bucket i ends at base**i us)."""

    base: float
    buckets: dict[int, int]
    count: int
    min_us: float | None
    max_us: float | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        """Read one process's ``latency`` object."""
        buckets = {int(index): int(n) for index, n in data["buckets"].items()}
        return cls(float(data["base"]), buckets, int(data["count"]), data["min_us"], data["max_us"])

    @classmethod
    def merge(cls, parts: list[Histogram]) -> Histogram:
        """One histogram holding every value of ``parts`` (all with the same base)."""
        merged = cls(parts[0].base if parts else 1.01, {}, 0, None, None)
        for part in parts:
            for index, n in part.buckets.items():
                merged.buckets[index] = merged.buckets.get(index, 0) + n
            merged.count += part.count
            merged.min_us = _pick(min, merged.min_us, part.min_us)
            merged.max_us = _pick(max, merged.max_us, part.max_us)
        return merged

    def quantile_ms(self, q: float) -> float | None:
        """The upper edge of the bucket holding quantile ``q`` (at most 1 % high), in ms."""
        if self.count == 0 or self.max_us is None:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(self.base**index, self.max_us) / 1000
        return self.max_us / 1000


def _pick(choose: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(choose(a, b))


@dataclass(frozen=True)
class Spread:
    """The median of some repetitions and their range."""

    median: float
    low: float
    high: float
    n: int


def spread(values: list[float | None]) -> Spread | None:
    """Median, min and max of the values that are not ``None`` (``None`` if there are none)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return Spread(statistics.median(present), min(present), max(present), len(present))
