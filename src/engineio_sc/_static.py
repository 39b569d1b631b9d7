"""Static files for ``ASGIApp(static_files=...)``, in python-engineio's mapping format.

``static_files`` maps URL paths to files or folders: ``{'/': 'index.html'}``,
``{'/static': './public'}``, or ``{'/x': {'filename': 'x.bin', 'content_type': '...'}}``.
A URL is matched exactly first, then by its longest matching prefix, whose rest is
appended to the mapped folder; a URL ending in ``/`` gets the ``''`` rule's file or
``index.html``. A rest that climbs out of its folder (``..``) never matches.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

__all__ = ["StaticFile", "find_static_file", "read_static_file"]

Rule = str | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class StaticFile:
    """A file to serve and its content type."""

    filename: str
    content_type: str


def _match(path: str, rules: Mapping[str, Rule]) -> tuple[Rule, str] | None:
    if path in rules:
        return rules[path], ""
    rest = ""
    while path:
        path, last = path.rsplit("/", 1)
        rest = "/" + last + rest
        for candidate in (path, path + "/"):
            if candidate in rules:
                return rules[candidate], rest
    return None


def find_static_file(path: str, rules: Mapping[str, Rule]) -> StaticFile | None:
    """The file a URL path maps to, or ``None``."""
    matched = _match(path, rules)
    if matched is None:
        return None
    rule, rest = matched
    if rest and (".." in rest.split("/") or "\\" in rest or "\x00" in rest):
        return None
    spec: dict[str, str] = {"filename": rule} if isinstance(rule, str) else dict(rule)
    filename = spec["filename"]
    if rest:
        filename = filename.rstrip("/") + "/" + rest.lstrip("/") if filename else rest
    if filename.endswith("/"):
        default = rules.get("", "index.html")
        if isinstance(default, str):
            filename += default
        else:
            filename += default["filename"]
            spec.setdefault("content_type", default.get("content_type", ""))
    if rest and posixpath.normpath(filename).startswith(".."):
        return None
    content_type = spec.get("content_type") or (
        mimetypes.guess_type(filename)[0] or "application/octet-stream"
    )
    return StaticFile(filename, content_type)


async def read_static_file(file: StaticFile) -> bytes | None:
    """Read the file in a worker thread; ``None`` if it is not a readable file."""
    path = anyio.Path(file.filename)
    try:
        if not await path.is_file():
            return None
        return await path.read_bytes()
    except OSError:
        return None


def as_rules(static_files: Mapping[str, Any] | None) -> dict[str, Rule]:
    """Check the ``static_files`` mapping.

    Raises:
        ValueError: a rule is neither a filename nor a dict with ``filename``.
    """
    rules: dict[str, Rule] = {}
    for url, rule in (static_files or {}).items():
        if not isinstance(rule, str) and not (isinstance(rule, Mapping) and "filename" in rule):
            raise ValueError(f"static_files[{url!r}] must be a filename or a dict with one")
        rules[url] = rule
    return rules
