"""The server behind real Hypercorn (trio and asyncio workers) and uvicorn, with real clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

import engineio_sc
from engineio_sc.protocol import PollVerdict

from ..asgi_client import live_sessions, open_info, open_sid, session_ids
from ..rawhttp import post_endless, post_stalled, post_whole
from .conftest import Serve
from .wsclient import Rejected, connect

pytestmark = pytest.mark.anyio

PING, TIMEOUT = 0.3, 0.2


class Echo:
    """An echo server that records its events."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("ping_interval", PING)
        options.setdefault("ping_timeout", TIMEOUT)
        options.setdefault("close_timeout", 0.5)
        self.eio = engineio_sc.AsyncServer(**options)
        self.app = engineio_sc.ASGIApp(self.eio)
        self.disconnects: list[tuple[str, str]] = []
        self.disconnected = anyio.Event()
        self.connected: list[dict[str, Any]] = []

        @self.eio.on("connect")
        def connect(sid: str, environ: dict[str, Any]) -> None:
            self.connected.append(environ)

        @self.eio.on("message")
        async def message(sid: str, data: str | bytes) -> None:
            if data == "disconnect me":
                await self.eio.disconnect(sid)
            else:
                await self.eio.send(sid, data)

        @self.eio.on("disconnect")
        def disconnect(sid: str, reason: str) -> None:
            self.disconnects.append((sid, reason))
            self.disconnected.set()


@asynccontextmanager
async def running(serve: Serve, echo: Echo) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    async with serve(echo.app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield url, http


async def handshake(http: httpx.AsyncClient) -> str:
    response = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 200
    return open_sid(response.text)


def polling(sid: str) -> dict[str, str]:
    return {"EIO": "4", "transport": "polling", "sid": sid}


async def test_handshake_and_polling_echo(serve: Serve) -> None:
    echo = Echo()
    async with running(serve, echo) as (_, http):
        response = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=UTF-8"
        info = open_info(response.text)
        assert info["upgrades"] == ["websocket"]
        assert (info["pingInterval"], info["pingTimeout"]) == (300, 200)
        sid = info["sid"]
        post = await http.post("/engine.io/", params=polling(sid), content="4héllo\x1ebAP8=")
        assert (post.status_code, post.text) == (200, "ok")
        received: list[str] = []
        while len(received) < 2:
            received += (await http.get("/engine.io/", params=polling(sid))).text.split("\x1e")
        assert received == ["4héllo", "bAP8="]
        assert echo.connected[0]["REMOTE_ADDR"] == "127.0.0.1"
        assert echo.connected[0]["wsgi.url_scheme"] == "http"


async def test_websocket_echo_text_and_binary(serve: Serve) -> None:
    echo = Echo()
    async with running(serve, echo) as (url, _):
        ws_url = url.replace("http", "ws") + "/engine.io/?EIO=4&transport=websocket"
        async with connect(ws_url) as ws:
            opening = await ws.receive()
            assert isinstance(opening, str)
            assert json.loads(opening[1:])["upgrades"] == []
            await ws.send("4héllo")
            assert await ws.receive() == "4héllo"
            await ws.send(b"\x00\xff")
            assert await ws.receive() == b"\x00\xff"
        with anyio.fail_after(5):
            await echo.disconnected.wait()
        assert echo.disconnects[0][1] == "transport close"


async def test_upgrade(serve: Serve) -> None:
    echo = Echo()
    async with running(serve, echo) as (url, http):
        sid = await handshake(http)
        ws_url = url.replace("http", "ws") + f"/engine.io/?EIO=4&transport=websocket&sid={sid}"
        async with connect(ws_url) as ws, anyio.create_task_group() as tg:
            pending: list[str] = []

            async def poll() -> None:
                pending.append((await http.get("/engine.io/", params=polling(sid))).text)

            tg.start_soon(poll)
            await ws.send("2probe")
            assert await ws.receive() == "3probe"
            with anyio.fail_after(5):
                while not pending:  # noqa: ASYNC110 - the GET is in flight over the network
                    await anyio.sleep(0.01)
            assert pending == ["6"]
            await ws.send("5")
            await ws.send(b"\x01")
            assert await ws.receive() == b"\x01"
            mismatch = await http.get("/engine.io/", params=polling(sid))
            assert mismatch.status_code == 400
            assert mismatch.json() == {"code": 3, "message": "Bad request"}


RACES = 200


@pytest.mark.parametrize(
    "server_kind",
    [("hypercorn", "trio"), ("uvicorn", "asyncio")],
    ids=["hypercorn-trio", "uvicorn-asyncio"],
)
@pytest.mark.parametrize("order", ["as a client sends it", "the poll read first"])
async def test_a_poll_racing_the_upgrade_is_refused(serve: Serve, order: str) -> None:
    """A client probes and upgrades back to back and at once polls: the poll is
    refused (400, code 3), a second WebSocket is closed at once, and the session
    echoes over its WebSocket. Each time on a new session.

    Sent in that order, the server here reads the frames first; the second order
    makes sure of the other case: the frames go once the poll waits on the server.
    """
    echo = Echo(ping_interval=5, ping_timeout=5)
    refusals: list[tuple[int, Any]] = []
    async with running(serve, echo) as (url, http):
        base = url.replace("http", "ws") + "/engine.io/?EIO=4&transport=websocket&sid="
        with anyio.fail_after(12):
            for i in range(RACES):
                sid = await handshake(http)
                async with connect(base + sid) as ws, anyio.create_task_group() as tg:

                    async def poll(sid: str = sid) -> None:
                        response = await http.get("/engine.io/", params=polling(sid))
                        refusals.append((response.status_code, response.json()))

                    if order == "the poll read first":
                        tg.start_soon(poll)
                        machine = live_sessions(echo.eio)[sid].machine
                        while machine.poll_verdict is not PollVerdict.WAIT:  # noqa: ASYNC110
                            await anyio.sleep(0.001)  # the GET is on its way to the server
                    await ws.send("2probe")
                    await ws.send("5")
                    if order == "as a client sends it":
                        tg.start_soon(poll)
                    assert await ws.receive() == "3probe"
                    async with connect(base + sid) as second:
                        with anyio.fail_after(1):
                            assert await second.receive() is None
                    await ws.send(f"4echo {i}")
                    assert await ws.receive() == f"4echo {i}"
    expected = (400, {"code": 3, "message": "Bad request"})
    assert refusals.count(expected) == RACES, {str(r): refusals.count(r) for r in refusals}


async def test_server_disconnect_on_polling(serve: Serve) -> None:
    echo = Echo()
    async with running(serve, echo) as (_, http):
        sid = await handshake(http)
        await http.post("/engine.io/", params=polling(sid), content="4disconnect me")
        packets: list[str] = []
        while "1" not in packets:
            packets += (await http.get("/engine.io/", params=polling(sid))).text.split("\x1e")
        with anyio.fail_after(5):
            await echo.disconnected.wait()
        assert echo.disconnects == [(sid, "server disconnect")]
        after = await http.get("/engine.io/", params=polling(sid))
        assert (after.status_code, after.json()["code"]) == (400, 1)


async def test_server_disconnect_on_websocket(serve: Serve) -> None:
    echo = Echo()
    async with running(serve, echo) as (url, _):
        async with connect(
            url.replace("http", "ws") + "/engine.io/?EIO=4&transport=websocket"
        ) as ws:
            await ws.receive()
            await ws.send("4before")
            await ws.send("4disconnect me")
            assert await ws.receive() == "4before"
            assert await ws.receive() is None
            assert ws.close_code == 1000
        with anyio.fail_after(5):
            await echo.disconnected.wait()
        assert echo.disconnects[0][1] == "server disconnect"


async def test_client_close_on_polling(serve: Serve) -> None:
    echo = Echo()
    async with running(serve, echo) as (_, http):
        sid = await handshake(http)
        assert (await http.post("/engine.io/", params=polling(sid), content="1")).text == "ok"
        with anyio.fail_after(5):
            await echo.disconnected.wait()
        assert echo.disconnects == [(sid, "client disconnect")]


async def test_ping_timeout_on_polling_and_websocket(serve: Serve) -> None:
    echo = Echo()
    async with running(serve, echo) as (url, http):
        sid = await handshake(http)
        async with connect(
            url.replace("http", "ws") + "/engine.io/?EIO=4&transport=websocket"
        ) as ws:
            await ws.receive()
            start = anyio.current_time()
            assert await ws.receive() == "2"
            assert await ws.receive() is None
            elapsed = anyio.current_time() - start
        assert PING + TIMEOUT - 0.05 < elapsed < PING + TIMEOUT + 0.3
        with anyio.fail_after(5):
            while len(echo.disconnects) < 2:  # noqa: ASYNC110 - two sessions time out
                await anyio.sleep(0.02)
        assert [reason for _, reason in echo.disconnects] == ["ping timeout", "ping timeout"]
        gone = await http.get("/engine.io/", params=polling(sid))
        assert (gone.status_code, gone.json()["code"]) == (400, 1)


@pytest.mark.parametrize(
    ("method", "params", "status", "code"),
    [
        ("GET", {"EIO": "4"}, 400, 0),
        ("GET", {"EIO": "4", "transport": "polling", "sid": "unknown"}, 400, 1),
        ("POST", {"EIO": "4", "transport": "polling"}, 400, 2),
        ("GET", {"EIO": "4", "transport": "websocket"}, 400, 3),
        ("GET", {"EIO": "3", "transport": "polling"}, 400, 5),
    ],
)
async def test_error_responses(
    serve: Serve, method: str, params: dict[str, str], status: int, code: int
) -> None:
    async with running(serve, Echo()) as (_, http):
        response = await http.request(method, "/engine.io/", params=params)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert response.json()["code"] == code


async def test_forbidden_and_oversized_post(serve: Serve) -> None:
    echo = Echo(allow_request=lambda environ: "HTTP_X_DENY" not in environ, max_http_buffer_size=50)
    async with running(serve, echo) as (_, http):
        denied = await http.get(
            "/engine.io/", params={"EIO": "4", "transport": "polling"}, headers={"X-Deny": "1"}
        )
        assert (denied.status_code, denied.json()) == (403, {"code": 4, "message": "Forbidden"})
        sid = await handshake(http)

        too_big = await http.post("/engine.io/", params=polling(sid), content="4" + "x" * 50)
        assert too_big.status_code == 413
        fits = await http.post("/engine.io/", params=polling(sid), content="4" + "x" * 49)
        assert fits.status_code == 200


LIMIT = 100_000
"""``max_http_buffer_size`` of the oversized-POST tests."""


def raw_target(sid: str) -> str:
    return f"/engine.io/?EIO=4&transport=polling&sid={sid}"


async def still_echoes(http: httpx.AsyncClient, sid: str) -> None:
    """The session still works: a small message goes to the server and back."""
    post = await http.post("/engine.io/", params=polling(sid), content="4small")
    assert (post.status_code, post.text) == (200, "ok")
    assert (await http.get("/engine.io/", params=polling(sid))).text == "4small"


@asynccontextmanager
async def oversized_post_session(serve: Serve) -> AsyncIterator[tuple[int, str, httpx.AsyncClient]]:
    """An echo server limited to :data:`LIMIT` bytes a POST and a polling session
    on it (no ping falls due meanwhile): the port, the sid and an HTTP client."""
    echo = Echo(max_http_buffer_size=LIMIT, ping_interval=10, ping_timeout=10)
    async with running(serve, echo) as (url, http):
        sid = await handshake(http)
        yield int(url.rsplit(":", 1)[1]), sid, http
        await still_echoes(http, sid)


@pytest.mark.parametrize("chunk", [False, True], ids=["content-length", "chunked"])
async def test_oversized_post_gets_a_413_it_can_read(serve: Serve, chunk: bool) -> None:
    """A client that writes its whole body, over the limit, before it reads gets
    the 413; the server then closes the connection, and the session lives on."""
    async with oversized_post_session(serve) as (port, sid, _):
        with anyio.fail_after(10):
            reply = await post_whole(port, raw_target(sid), b"4" + b"x" * 149_999, chunk=chunk)
        assert (reply.status, reply.headers.get("connection"), reply.end) == (413, "close", "eof")


async def test_endless_post_is_cut_off(serve: Serve) -> None:
    """A body far beyond what the server throws away is not read to its end:
    the server answers and closes the connection while the client still writes."""
    size = 256 * 2**20
    async with oversized_post_session(serve) as (port, sid, _):
        with anyio.fail_after(10):
            reply = await post_endless(port, raw_target(sid), size)
        assert reply.written < size
        assert reply.status in (413, None)  # a reset may lose the answer


async def test_stalled_post_is_answered_after_close_timeout(serve: Serve) -> None:
    """A client that stops writing in the middle of an over-long body gets its 413
    once ``close_timeout`` (0.5 s) has passed, and the connection closed."""
    async with oversized_post_session(serve) as (port, sid, _):
        with anyio.fail_after(10):
            started = anyio.current_time()
            reply = await post_stalled(port, raw_target(sid), 10 * LIMIT, b"4" * (LIMIT + 1))
            elapsed = anyio.current_time() - started
        assert (reply.status, reply.headers.get("connection"), reply.end) == (413, "close", "eof")
        assert 0.45 < elapsed < 3


async def test_websocket_errors(serve: Serve) -> None:
    async with running(serve, Echo(max_http_buffer_size=10)) as (url, _):
        base = url.replace("http", "ws") + "/engine.io/?EIO=4&transport=websocket"
        with pytest.raises(Rejected) as rejected:
            async with connect(base + "&sid=unknown"):
                pass
        assert rejected.value.status == 400
        assert json.loads(rejected.value.body) == {"code": 1, "message": "Session ID unknown"}
        async with connect(base) as ws:
            await ws.receive()
            await ws.send("4" + "x" * 10)
            assert await ws.receive() is None
            assert ws.close_code == 1009


async def test_concurrent_get_rejected(serve: Serve) -> None:
    echo = Echo(ping_interval=5, ping_timeout=5)
    async with running(serve, echo) as (_, http):
        sid = await handshake(http)
        results: list[httpx.Response] = []
        async with anyio.create_task_group() as tg:

            async def first() -> None:
                results.append(await http.get("/engine.io/", params=polling(sid)))

            tg.start_soon(first)
            with anyio.fail_after(5):
                while (  # noqa: ASYNC110 - the GET is in flight
                    sid not in session_ids(echo.eio)
                    or live_sessions(echo.eio)[sid].machine.poll_verdict is None
                ):
                    await anyio.sleep(0.01)
            second = await http.get("/engine.io/", params=polling(sid))
        assert (second.status_code, second.text) == (400, "")
        assert (results[0].status_code, results[0].text) == (200, "1")


async def test_client_vanishing_mid_frame_and_mid_poll(serve: Serve) -> None:
    from wsproto.events import TextMessage

    from .wsclient import WebSocketClient

    echo = Echo()
    async with running(serve, echo) as (url, http):
        bystander = await handshake(http)
        host, port = url.removeprefix("http://").split(":")
        client = WebSocketClient(await anyio.connect_tcp(host, int(port)))
        await client.handshake(host, "/engine.io/?EIO=4&transport=websocket")
        assert str(await client.receive()).startswith("0")
        frame = client.ws.send(TextMessage(data="4" + "x" * 1000))
        await client.stream.send(frame[: len(frame) // 2])  # half a frame, then gone
        await client.stream.aclose()

        session = live_sessions(echo.eio)[bystander]
        poller = await anyio.connect_tcp(host, int(port))  # a poll whose connection drops
        target = f"/engine.io/?EIO=4&transport=polling&sid={bystander}"
        await poller.send(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        with anyio.fail_after(5):
            while session.machine.poll_verdict is None:  # noqa: ASYNC110 - the GET is in flight
                await anyio.sleep(0.01)
        await poller.aclose()
        with anyio.fail_after(5):
            while session.machine.poll_verdict is not None:  # noqa: ASYNC110 - the server notices the drop
                await anyio.sleep(0.01)
            await echo.disconnected.wait()
        assert echo.disconnects[0][1] == "transport close"
        await http.post("/engine.io/", params=polling(bystander), content="4still here")
        received: list[str] = []
        while "4still here" not in received:
            received += (await http.get("/engine.io/", params=polling(bystander))).text.split(
                "\x1e"
            )
