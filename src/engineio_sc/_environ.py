"""The python-engineio-compatible WSGI-style ``environ`` for connect handlers.

Built here, at the edge, from an ASGI scope; nothing inside the server reads it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["asgi_environ"]

_SCHEMES = {"ws": "http", "wss": "https"}


def asgi_environ(scope: dict[str, Any]) -> dict[str, Any]:
    """Build the environ of an ASGI ``http`` or ``websocket`` scope.

    Unlike python-engineio, ``REMOTE_ADDR``/``REMOTE_PORT`` hold the real client
    address and ``wsgi.url_scheme`` the real scheme of the connection.
    """
    scheme = scope.get("scheme", "http")
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 0)
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope.get("path", "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.get("method", "GET"),
        "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": path + ("?" + query if query else ""),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "SERVER_NAME": server[0] or "",
        "SERVER_PORT": str(server[1] or ""),
        "REMOTE_ADDR": client[0] or "",
        "REMOTE_PORT": str(client[1] or ""),
        "wsgi.url_scheme": _SCHEMES.get(scheme, scheme),
        "asgi.scope": scope,
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            environ[name] = value
            continue
        key = "HTTP_" + name
        environ[key] = environ[key] + "," + value if key in environ else value
    return environ
