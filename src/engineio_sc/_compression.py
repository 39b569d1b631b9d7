"""HTTP response compression: gzip or deflate, chosen from ``Accept-Encoding``."""

from __future__ import annotations

import gzip
import zlib

from ._http import HTTPResponse

__all__ = ["choose_coding", "compress"]

_CODINGS = ("gzip", "deflate")  # the order breaks ties


def _weights(accept: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in accept.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            weights[name.strip().lower()] = quality
    return weights


def choose_coding(accept: str | None) -> str | None:
    """The coding to use for ``Accept-Encoding``: the highest q-value wins, gzip
    before deflate on a tie, and a coding with ``q=0`` is never used."""
    if not accept:
        return None
    weights = _weights(accept)
    default = weights.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in _CODINGS:
        quality = weights.get(coding, default)
        if quality > best_q:
            best, best_q = coding, quality
    return best


def compress(response: HTTPResponse, accept: str | None, threshold: int) -> None:
    """Compress ``response`` in place when its body is at least ``threshold`` bytes."""
    if len(response.body) < threshold:
        return
    response.headers.append(("Vary", "Accept-Encoding"))
    coding = choose_coding(accept)
    if coding is None:
        return
    if coding == "gzip":
        response.body = gzip.compress(response.body, compresslevel=6)
    else:
        response.body = zlib.compress(response.body)
    response.headers.append(("Content-Encoding", coding))
