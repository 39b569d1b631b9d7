"""Cross-origin resource sharing: which origins may talk to the server, and the headers."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from ._http import Headers, HTTPRequest
from ._proxies import TrustedProxies

__all__ = ["CORSPolicy", "Origins"]

Origins = str | Sequence[str] | Callable[..., Any] | None

_ALLOW_METHODS = ("Access-Control-Allow-Methods", "OPTIONS, GET, POST")
_VISIBLE = re.compile(r"^[\x21-\x7e]*$")  # what a header value may echo back


def _first(value: str) -> str:
    return value.split(",", 1)[0].strip()


class CORSPolicy:
    """The ``cors_allowed_origins`` and ``cors_credentials`` options, decided once.

    - ``None``: the server's own origin only: the real scheme and ``Host``, plus
      the origin that ``X-Forwarded-Proto``/``X-Forwarded-Host`` describe when the
      request comes from a peer that ``trusted_proxies`` trusts (the
      ``forwarded_allow_ips`` option);
    - ``'*'`` (or a list holding it): any origin;
    - a string or a list: those origins;
    - ``[]``: CORS handling off (no check, no headers);
    - a callable ``f(origin)`` or ``f(origin, environ)``: called once per request
      that carries an ``Origin``.
    """

    def __init__(
        self, allowed: Origins, credentials: bool, *, trusted_proxies: TrustedProxies
    ) -> None:
        self.credentials = credentials
        self._proxies = trusted_proxies
        self.enabled = not (
            isinstance(allowed, Sequence) and not isinstance(allowed, str) and len(allowed) == 0
        )
        self._any = allowed == "*" or (
            isinstance(allowed, Sequence) and not isinstance(allowed, str) and "*" in allowed
        )
        self._callable: Callable[..., Any] | None = None
        self._with_environ = False
        self._origins: frozenset[str] | None = None
        if callable(allowed):
            self._callable = allowed
            self._with_environ = _takes_two(allowed)
        elif isinstance(allowed, str):
            self._origins = frozenset([allowed])
        elif allowed is not None:
            self._origins = frozenset(allowed)

    def _same_origin(self, origin: str, request: HTTPRequest) -> bool:
        host = request.headers.get("host")
        if host is None:
            return False
        if origin == f"{request.scheme}://{host}":
            return True
        proto = request.headers.get("x-forwarded-proto")
        forwarded_host = request.headers.get("x-forwarded-host")
        if proto is None and forwarded_host is None:
            return False
        scheme = _first(proto) if proto else request.scheme
        if origin != f"{scheme}://{_first(forwarded_host) if forwarded_host else host}":
            return False
        # The neutral request carries the peer's address only in the environ's
        # REMOTE_ADDR, as each adapter reports it; it is built only when needed.
        return self._proxies.trusts(request.environ().get("REMOTE_ADDR"))

    def allows(self, origin: str, request: HTTPRequest) -> bool:
        """Whether ``origin`` may use the server."""
        if not _VISIBLE.match(origin):
            return False
        if self._any:
            return True
        if self._callable is not None:
            if self._with_environ:
                return bool(self._callable(origin, request.environ()))
            return bool(self._callable(origin))
        if self._origins is not None:
            return origin in self._origins
        return self._same_origin(origin, request)

    def check(self, request: HTTPRequest) -> Headers | None:
        """The CORS headers for a request, or ``None`` when its origin is refused."""
        origin = request.headers.get("origin")
        if not self.enabled or origin is None:
            return []
        if not self.allows(origin, request):
            return None
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight(self, request: HTTPRequest) -> Headers:
        """The extra headers of an ``OPTIONS`` answer."""
        if not self.enabled:
            return []
        headers = [_ALLOW_METHODS]
        wanted = request.headers.get("access-control-request-headers")
        if wanted is not None and _VISIBLE.match(wanted.replace(" ", "")):
            headers.append(("Access-Control-Allow-Headers", wanted))
        return headers


def _takes_two(fn: Callable[..., Any]) -> bool:
    try:
        inspect.signature(fn).bind("origin", {})
    except TypeError:
        return False
    except ValueError:
        return True
    return True
