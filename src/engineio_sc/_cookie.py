"""The session cookie (``cookie`` option), for load balancers with sticky sessions."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, Morsel
from typing import Any

__all__ = ["SessionCookie"]

_ATTRIBUTES = {
    "path": "path",
    "domain": "domain",
    "secure": "secure",
    "httponly": "httponly",
    "samesite": "samesite",
    "max_age": "max-age",
}
_FORBIDDEN = set(";\r\n\x00")


class SessionCookie:
    """The ``Set-Cookie`` header carrying a new session's sid.

    ``cookie`` is a name (``<name>=<sid>; Path=/; SameSite=Lax``) or a dict with
    ``name`` (default ``io``) and any of ``path`` (default ``/``), ``domain``,
    ``secure``, ``httponly``, ``samesite`` (default ``Lax``) and ``max_age``; a
    value may be a callable, called for each new session.

    Raises:
        ValueError: an unknown attribute, or a value that could inject headers.
    """

    def __init__(self, cookie: str | Mapping[str, Any]) -> None:
        spec = {"name": cookie} if isinstance(cookie, str) else dict(cookie)
        self.name = str(spec.pop("name", "io"))
        spec.setdefault("path", "/")
        spec.setdefault("samesite", "Lax")
        unknown = set(spec) - set(_ATTRIBUTES)
        if unknown:
            raise ValueError(f"unknown cookie attributes: {', '.join(sorted(unknown))}")
        self._attributes: dict[str, Any] = spec
        self.header("probe")  # fail now, not at the first handshake

    def header(self, sid: str) -> tuple[str, str]:
        """The ``Set-Cookie`` header for ``sid``."""
        morsel: Morsel[str] = Morsel()
        try:
            morsel.set(self.name, sid, sid)
        except CookieError as exc:
            raise ValueError(f"invalid cookie name {self.name!r}") from exc
        for key, value in self._attributes.items():
            if callable(value):
                value = value()
            if value is None or value is False:
                continue
            if value is not True and _FORBIDDEN & set(str(value)):
                raise ValueError(f"cookie attribute {key} holds a forbidden character")
            morsel[_ATTRIBUTES[key]] = value
        return ("Set-Cookie", morsel.OutputString())
