"""The echo examples' settings, read from environment variables.

The defaults are the server's own; the tests set the variables to run the
examples with short timings, a small size limit and a free port.

- ``EIO_PING_INTERVAL`` and ``EIO_PING_TIMEOUT``: seconds (default 25 and 20);
- ``EIO_MAX_PAYLOAD``: bytes (default 1000000);
- ``EIO_HOST`` and ``EIO_PORT``: where the framework examples listen
  (default ``127.0.0.1:5000``).
"""

from __future__ import annotations

import os
from typing import TypedDict


class ServerOptions(TypedDict):
    """The ``AsyncServer`` keyword arguments that the environment sets."""

    ping_interval: float
    ping_timeout: float
    max_http_buffer_size: int


def server_options() -> ServerOptions:
    """Keyword arguments for ``AsyncServer``, from the environment."""
    return ServerOptions(
        ping_interval=float(os.environ.get("EIO_PING_INTERVAL", "25")),
        ping_timeout=float(os.environ.get("EIO_PING_TIMEOUT", "20")),
        max_http_buffer_size=int(os.environ.get("EIO_MAX_PAYLOAD", "1000000")),
    )


def address() -> tuple[str, int]:
    """The host and port to listen on, from the environment."""
    return os.environ.get("EIO_HOST", "127.0.0.1"), int(os.environ.get("EIO_PORT", "5000"))
