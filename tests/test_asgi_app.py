"""``ASGIApp``: routing, static files, the lifespan and its hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import hypothesis
import pytest
from hypothesis import strategies as st

import engineio_sc
from engineio_sc._http import parse_query

from .asgi_client import ASGIClient, lifespan

pytestmark = pytest.mark.anyio


async def other_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        body = f"other {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def public(tmp_path: Path) -> Path:
    (tmp_path / "public" / "css").mkdir(parents=True)
    (tmp_path / "public" / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "public" / "css" / "site.css").write_text("h1 {}")
    (tmp_path / "public" / "app.mjs").write_text("export {}")
    (tmp_path / "secret.txt").write_text("do not serve")
    return tmp_path


async def test_routing_to_engineio_other_app_and_404() -> None:
    server = engineio_sc.AsyncServer(close_timeout=0.2)
    async with server:
        with_other = ASGIClient(engineio_sc.ASGIApp(server, other_app))
        assert (await with_other.get("EIO=4&transport=polling")).status == 200
        assert (await with_other.get("", path="/engine.io")).json()["code"] == 0
        assert (await with_other.get("", path="/elsewhere")).text == "other /elsewhere"
        assert (await with_other.get("", path="/engine.iox")).text == "other /engine.iox"
        alone = ASGIClient(engineio_sc.ASGIApp(server))
        missing = await alone.get("", path="/elsewhere")
        assert (missing.status, missing.text) == (404, "Not Found")


async def test_custom_and_no_engineio_path() -> None:
    server = engineio_sc.AsyncServer(close_timeout=0.2)
    async with server:
        custom = ASGIClient(engineio_sc.ASGIApp(server, engineio_path="/chat/"), path="/chat/")
        assert (await custom.get("EIO=4&transport=polling")).status == 200
        assert (await custom.get("", path="/engine.io/")).status == 404
        anywhere = ASGIClient(engineio_sc.ASGIApp(server, other_app, engineio_path=None), path="/x")
        assert (await anywhere.get("EIO=4&transport=polling")).status == 200


async def test_static_files(public: Path) -> None:
    root = str(public / "public")
    rules = {
        "/": root + "/index.html",
        "/static": root,
        "/raw": {"filename": root + "/app.mjs", "content_type": "text/x-custom"},
    }
    server = engineio_sc.AsyncServer()
    client = ASGIClient(engineio_sc.ASGIApp(server, other_app, static_files=rules))
    home = await client.get("", path="/")
    assert (home.status, home.text, home.headers["content-type"]) == (
        200,
        "<h1>home</h1>",
        "text/html",
    )
    css = await client.get("", path="/static/css/site.css")
    assert (css.text, css.headers["content-type"]) == ("h1 {}", "text/css")
    index = await client.get("", path="/static/")
    assert index.text == "<h1>home</h1>"
    module = await client.get("", path="/static/app.mjs")
    assert module.headers["content-type"] == "text/javascript"
    raw = await client.get("", path="/raw")
    assert raw.headers["content-type"] == "text/x-custom"
    head = await client.request("HEAD", "", path="/static/css/site.css")
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "5")
    for attack in ("/static/../secret.txt", "/static/css/../../secret.txt", "/static/..\\x"):
        response = await client.get("", path=attack)
        assert response.text == f"other {attack}"
    assert (await client.get("", path="/static/nope.css")).text == "other /static/nope.css"
    assert (await client.post("", "x", path="/static/css/site.css")).text.startswith("other")


def test_static_default_file_rule(public: Path) -> None:
    from engineio_sc._static import find_static_file

    rules: dict[str, Any] = {
        "/docs/": str(public / "public") + "/",
        "": {"filename": "index.html", "content_type": "text/plain"},
    }
    found = find_static_file("/docs/", rules)
    assert found is not None
    assert found.filename.endswith("public/index.html")
    assert found.content_type == "text/plain"
    with pytest.raises(ValueError, match="static_files"):
        engineio_sc.ASGIApp(engineio_sc.AsyncServer(), static_files={"/": 42})


async def run_lifespan(app: engineio_sc.ASGIApp) -> list[str]:
    async with lifespan(app) as replies:
        pass
    return replies


async def test_hooks_sync_and_async() -> None:
    events: list[str] = []
    server = engineio_sc.AsyncServer()

    async def started() -> None:
        assert server.running
        events.append("up")

    app = engineio_sc.ASGIApp(server, on_startup=started, on_shutdown=lambda: events.append("down"))
    assert await run_lifespan(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["up", "down"]
    assert not server.running


async def test_failing_startup_hook() -> None:
    def broken() -> None:
        raise RuntimeError("no database")

    server = engineio_sc.AsyncServer()
    app = engineio_sc.ASGIApp(server, on_startup=broken)
    assert await run_lifespan(app) == ["lifespan.startup.failed"]
    assert not server.running


async def test_other_app_without_lifespan_support() -> None:
    async def http_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] != "lifespan", "no lifespan here"

    server = engineio_sc.AsyncServer()
    app = engineio_sc.ASGIApp(server, http_only)
    assert await run_lifespan(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_other_app_startup_failure_is_reported() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "nope"})

    server = engineio_sc.AsyncServer()
    app = engineio_sc.ASGIApp(server, failing, on_startup=lambda: None)
    assert await run_lifespan(app) == ["lifespan.startup.failed"]


@hypothesis.given(st.text(alphabet="ab=&%+2x0 \xe9;", max_size=40))
def test_query_strings_read_as_parse_qsl_reads_them(text: str) -> None:
    expected: dict[str, str] = {}
    for key, value in parse_qsl(text):
        expected.setdefault(key, value)
    assert parse_query(text) == expected
