"""Every usage example of the seed API, run with only the import changed.

``import engineio`` becomes ``import engineio_sc as engineio``; the rest of each
example is as the seed writes it, and each test asserts what the example should do.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx
import pytest

import engineio_sc as engineio

from ..asgi_client import open_sid
from .conftest import Serve

pytestmark = pytest.mark.anyio


def polling(sid: str) -> dict[str, str]:
    return {"EIO": "4", "transport": "polling", "sid": sid}


async def test_session_management_examples(serve: Serve) -> None:
    eio = engineio.AsyncServer(close_timeout=0.2)
    results: dict[str, Any] = {}

    @eio.on("message")
    async def message(sid: str, data: str) -> None:
        # Direct async session management
        session_data = await eio.get_session(sid)
        session_data["user_id"] = 123
        await eio.save_session(sid, session_data)

        # Async context manager approach
        async with eio.session(sid) as session:
            session["user_id"] = 123
            session["preferences"] = {"theme": "dark"}
        results["session"] = await eio.get_session(sid)
        await eio.send(sid, "stored")

    async with serve(engineio.ASGIApp(eio)) as url, httpx.AsyncClient(base_url=url) as http:
        handshake = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
        sid = open_sid(handshake.text)
        await http.post("/engine.io/", params=polling(sid), content="4go")
        assert (await http.get("/engine.io/", params=polling(sid))).text == "4stored"
    assert results["session"] == {"user_id": 123, "preferences": {"theme": "dark"}}


async def test_event_handler_examples(serve: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    eio = engineio.AsyncServer(close_timeout=0.2)

    # Async event handlers
    @eio.on("connect")
    async def on_connect(sid: str, environ: dict[str, Any]) -> None:
        print(f"Client {sid} connected")

    @eio.on("message")
    async def on_message(sid: str, data: str) -> None:
        print(f"Received: {data}")
        await eio.send(sid, f"Echo: {data}")

    @eio.on("disconnect")
    async def on_disconnect(sid: str) -> None:
        print(f"Client {sid} disconnected")
        done.set()

    done = anyio.Event()
    async with serve(engineio.ASGIApp(eio)) as url, httpx.AsyncClient(base_url=url) as http:
        handshake = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
        sid = open_sid(handshake.text)
        await http.post("/engine.io/", params=polling(sid), content="4hi")
        assert (await http.get("/engine.io/", params=polling(sid))).text == "4Echo: hi"
        await http.post("/engine.io/", params=polling(sid), content="1")
        with anyio.fail_after(5):
            await done.wait()
    out = capsys.readouterr().out
    assert f"Client {sid} connected\nReceived: hi\nClient {sid} disconnected\n" in out


async def test_sync_handler_example(serve: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    eio = engineio.AsyncServer(close_timeout=0.2)

    # Synchronous handlers also work
    @eio.on("connect")
    def on_connect_sync(sid: str, environ: dict[str, Any]) -> None:
        print(f"Client {sid} connected (sync)")

    async with serve(engineio.ASGIApp(eio)) as url, httpx.AsyncClient(base_url=url) as http:
        handshake = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
        sid = open_sid(handshake.text)
    assert f"Client {sid} connected (sync)" in capsys.readouterr().out


async def test_fastapi_example(serve: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    from fastapi import FastAPI

    # Create async server
    eio = engineio.AsyncServer(async_mode="asgi", close_timeout=0.2)

    @eio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        print(f"Client {sid} connected")

    # Create ASGI app
    app = engineio.ASGIApp(eio)

    # Wrap with FastAPI
    fastapi_app = FastAPI()
    fastapi_app.mount("/", app)

    async with serve(fastapi_app) as url, httpx.AsyncClient(base_url=url) as http:
        handshake = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
        assert handshake.status_code == 200
        sid = open_sid(handshake.text)
        assert eio.running  # opened by the first request: FastAPI's mount forwards no lifespan
    assert f"Client {sid} connected" in capsys.readouterr().out
    with anyio.fail_after(5):
        await eio.shutdown()  # uvicorn cancels the hosting request without waiting for it
    assert not eio.running


async def test_send_to_closed_socket_is_dropped_with_a_warning(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    eio = engineio.AsyncServer(close_timeout=0.2)
    async with serve(engineio.ASGIApp(eio)):
        with caplog.at_level(logging.WARNING, logger="engineio_sc.server"):
            await eio.send("no-such-sid", "hello")  # python-engineio's semantics: no exception
    assert "Cannot send to sid no-such-sid" in caplog.text
