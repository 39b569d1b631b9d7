"""What every framework example must do, as a base class of tests.

Each ``test_<framework>.py`` subclasses :class:`EngineIOScenarios` and names
its example in ``FRAMEWORK``; the conftest's fixtures give the tests ``example``
(that example server, shared by the module's tests) and ``framework`` (its name,
for the tests that start an example of their own).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import engineio
import httpx
import pytest

import engineio_sc
from engineio_sc._http import HTTPConnection, HTTPRequest, HTTPResponse

from ..asgi_client import open_info, open_sid
from ..live.wsclient import Rejected, WebSocketClient, connect
from ..node_driver import MESSAGES, MODES, NODE, NODE_MODULES, check_session, run_client
from ..rawhttp import post_endless, post_stalled, post_whole
from ..servers import REPO_ROOT, RunningServer
from .conftest import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT, running_example

PATH = "/engine.io/"
DEADLINE = 10.0
"""Seconds for a whole test body."""

HANDSHAKE = {"EIO": "4", "transport": "polling"}


def polling(sid: str) -> dict[str, str]:
    return {"EIO": "4", "transport": "polling", "sid": sid}


class Polling:
    """One polling session over httpx; it answers the server's pings."""

    def __init__(self, http: httpx.AsyncClient, path: str = PATH) -> None:
        self.http = http
        self.path = path
        self.sid = ""

    async def open(self) -> dict[str, Any]:
        """The handshake: the OPEN packet's JSON."""
        response = await self.http.get(self.path, params=HANDSHAKE)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/plain; charset=UTF-8"
        assert response.text.startswith("0"), response.text
        info = open_info(response.text)
        self.sid = str(info["sid"])
        return info

    async def post(self, payload: str | bytes) -> httpx.Response:
        content = payload.encode() if isinstance(payload, str) else payload
        return await self.http.post(self.path, params=polling(self.sid), content=content)

    async def get(self) -> httpx.Response:
        return await self.http.get(self.path, params=polling(self.sid))

    async def poll(self) -> list[str]:
        """The packets of the next poll that brings more than pings."""
        while True:
            response = await self.get()
            assert response.status_code == 200, response.text
            packets = response.text.split("\x1e")
            if "2" in packets:
                assert (await self.post("3")).text == "ok"
            others = [packet for packet in packets if packet != "2"]
            if others:
                return others

    async def close(self) -> None:
        response = await self.post("1")
        assert (response.status_code, response.text) == (200, "ok")


async def next_message(ws: WebSocketClient) -> str | bytes | None:
    """The next message that is not a ping (pings are answered); None once closed."""
    while True:
        message = await ws.receive()
        if message == "2":
            await ws.send("3")
            continue
        return message


@asynccontextmanager
async def http_client(example: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=example.url, timeout=DEADLINE) as http:
        yield http


def websocket_url(example: RunningServer, **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in {"EIO": "4", **params}.items())
    return f"{example.ws_url}{PATH}?{query}"


# -- the scenarios ---------------------------------------------------------------


class EngineIOScenarios:
    """Engine.IO through the framework, with real clients."""

    async def test_polling_handshake_and_echo(self, example: RunningServer) -> None:
        """Handshake, a POST with a text and a base64 binary packet, and both back
        through GETs."""
        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                session = Polling(http)
                info = await session.open()
                assert info["upgrades"] == ["websocket"]
                assert info["pingInterval"] == int(PING_INTERVAL * 1000)
                assert info["pingTimeout"] == int(PING_TIMEOUT * 1000)
                assert info["maxPayload"] == MAX_PAYLOAD
                post = await session.post("4héllo ✓\x1ebAP8=")
                assert (post.status_code, post.text) == (200, "ok")
                received: list[str] = []
                while len(received) < 2:
                    received += await session.poll()
                assert received == ["4héllo ✓", "bAP8="]
                await session.close()
                gone = await session.get()
                assert (gone.status_code, gone.json()["code"]) == (400, 1)

    async def test_polling_body_limit(self, example: RunningServer) -> None:
        """A POST body of ``maxPayload`` bytes is taken, one byte more gets 413,
        with a Content-Length or chunked (counted as it arrives)."""

        async def chunked(body: bytes) -> AsyncIterator[bytes]:
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                session = Polling(http)
                await session.open()
                fits = "4" + "x" * (MAX_PAYLOAD - 1)
                too_big = "4" + "x" * MAX_PAYLOAD
                assert (await session.post(too_big)).status_code == 413
                response = await http.post(
                    PATH, params=polling(session.sid), content=chunked(too_big.encode())
                )
                assert response.status_code == 413
                assert (await session.post(fits)).status_code == 200
                assert await session.poll() == [fits]
                response = await http.post(
                    PATH, params=polling(session.sid), content=chunked(b"4chunked")
                )
                assert (response.status_code, response.text) == (200, "ok")
                assert await session.poll() == ["4chunked"]
                await session.close()

    @pytest.mark.parametrize("chunk", [False, True], ids=["content-length", "chunked"])
    async def test_oversized_post_gets_a_413_it_can_read(
        self, example: RunningServer, chunk: bool
    ) -> None:
        """A client that writes its whole body, over the limit, before it reads
        gets the 413; the connection is then closed, and the session lives on."""
        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                session = Polling(http)
                await session.open()
                target = f"{PATH}?EIO=4&transport=polling&sid={session.sid}"
                body = b"4" * (MAX_PAYLOAD * 3 // 2)
                reply = await post_whole(example.port, target, body, chunk=chunk)
                assert (reply.status, reply.headers.get("connection")) == (413, "close")
                assert reply.end == "eof"
                assert (await session.post("4after")).text == "ok"
                assert await session.poll() == ["4after"]
                await session.close()

    async def test_endless_post_is_cut_off(self, example: RunningServer) -> None:
        """A body far beyond what the server throws away is not read to its end:
        the connection is closed while the client still writes."""
        size = 256 * 2**20
        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                session = Polling(http)
                await session.open()
                target = f"{PATH}?EIO=4&transport=polling&sid={session.sid}"
                reply = await post_endless(example.port, target, size)
                assert reply.written < size
                assert (await session.post("4after")).text == "ok"
                assert await session.poll() == ["4after"]
                await session.close()

    async def test_preflight_and_other_methods(self, example: RunningServer) -> None:
        """OPTIONS reaches the server (CORS preflight); PUT is not routed."""
        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                preflight = await http.options(
                    PATH,
                    params=HANDSHAKE,
                    headers={
                        "Origin": "http://example.com",
                        "Access-Control-Request-Method": "POST",
                    },
                )
                assert preflight.status_code == 204
                assert preflight.headers["access-control-allow-origin"] == "http://example.com"
                assert "POST" in preflight.headers["access-control-allow-methods"]
                put = await http.put(PATH, params=HANDSHAKE)
                assert put.status_code == 405

    async def test_websocket_echo(self, example: RunningServer) -> None:
        """A WebSocket session: text and binary messages come back."""
        with anyio.fail_after(DEADLINE):
            async with connect(websocket_url(example, transport="websocket")) as ws:
                opening = await ws.receive()
                assert isinstance(opening, str)
                assert opening.startswith("0")
                assert json.loads(opening[1:])["upgrades"] == []
                await ws.send("4héllo ✓")
                assert await next_message(ws) == "4héllo ✓"
                await ws.send(b"\x00\xff")
                assert await next_message(ws) == b"\x00\xff"
                await ws.send(b"")
                assert await next_message(ws) == b""

    async def test_websocket_message_limit(self, example: RunningServer) -> None:
        """A message of ``maxPayload`` bytes is taken; one byte more closes the
        WebSocket with 1009 (the server's own check, within the framework's limit)."""
        with anyio.fail_after(DEADLINE):
            async with connect(websocket_url(example, transport="websocket")) as ws:
                await ws.receive()
                fits = "4" + "é" * ((MAX_PAYLOAD - 1) // 2)
                assert len(fits.encode()) <= MAX_PAYLOAD
                await ws.send(fits)
                assert await next_message(ws) == fits
                await ws.send(b"\x07" * MAX_PAYLOAD)
                assert await next_message(ws) == b"\x07" * MAX_PAYLOAD
                await ws.send("4" + "x" * MAX_PAYLOAD)
                assert await next_message(ws) is None
                assert ws.close_code == 1009

    async def test_websocket_far_over_limit(self, example: RunningServer) -> None:
        """A message far over the limit is stopped by the framework: 1009 too."""
        with anyio.fail_after(DEADLINE):
            async with connect(websocket_url(example, transport="websocket")) as ws:
                await ws.receive()
                await ws.send(b"\x07" * (MAX_PAYLOAD * 4))
                assert await next_message(ws) is None
                assert ws.close_code == 1009

    async def test_websocket_refused_with_http_status(self, example: RunningServer) -> None:
        """A WebSocket the server refuses gets its HTTP error response, not a 101."""
        with anyio.fail_after(DEADLINE):
            with pytest.raises(Rejected) as unknown:
                async with connect(websocket_url(example, transport="websocket", sid="nope")):
                    pass
            assert unknown.value.status == 400
            assert json.loads(unknown.value.body) == {"code": 1, "message": "Session ID unknown"}
            with pytest.raises(Rejected) as old:
                async with connect(f"{example.ws_url}{PATH}?EIO=3&transport=websocket"):
                    pass
            assert old.value.status == 400
            assert json.loads(old.value.body)["code"] == 5

    async def test_upgrade(self, example: RunningServer) -> None:
        """Polling, then the upgrade (2probe, 3probe, the pending poll gets a
        noop, 5), then echoes over the WebSocket; polling is refused after it."""
        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                session = Polling(http)
                await session.open()
                url = websocket_url(example, transport="websocket", sid=session.sid)
                async with connect(url) as ws, anyio.create_task_group() as tg:
                    noop = anyio.Event()

                    async def pending_poll() -> None:
                        assert await session.poll() == ["6"]
                        noop.set()

                    tg.start_soon(pending_poll)
                    await ws.send("2probe")
                    assert await ws.receive() == "3probe"
                    await noop.wait()
                    await ws.send("5")
                    await ws.send("4upgraded ✓")
                    assert await next_message(ws) == "4upgraded ✓"
                    await ws.send(b"\x01\x02")
                    assert await next_message(ws) == b"\x01\x02"
                    refused = await session.get()
                    assert refused.status_code == 400
                    assert refused.json() == {"code": 3, "message": "Bad request"}

    async def test_python_client_upgrade(self, example: RunningServer) -> None:
        """python-engineio's AsyncClient: a default session (polling, then the
        upgrade), text and binary echoes."""
        client: Any = engineio.AsyncClient(handle_sigint=False)
        received: asyncio.Queue[Any] = asyncio.Queue()
        disconnects: list[str] = []
        client.on("message", received.put_nowait)
        client.on("disconnect", disconnects.append)
        sent: list[str | bytes] = ["hello there", bytes(range(256)) * 4, "héllo ✓ 🎉"]
        try:
            with anyio.fail_after(DEADLINE):
                await client.connect(example.url)
                assert client.transport() == "websocket"
                for message in sent:
                    await client.send(message)
                echoed = [await received.get() for _ in sent]
        finally:
            with anyio.fail_after(DEADLINE):
                await client.disconnect()
        assert echoed == sent
        assert [type(item) for item in echoed] == [type(item) for item in sent]
        assert disconnects == [client.reason.CLIENT_DISCONNECT]

    async def test_environ_has_the_real_client_address(self, example: RunningServer) -> None:
        """The connect handler's environ has the client's address and port."""
        with anyio.fail_after(DEADLINE):
            async with await anyio.connect_tcp("127.0.0.1", example.port) as stream:
                port = stream.extra(anyio.abc.SocketAttribute.local_port)
                await stream.send(
                    f"GET {PATH}?EIO=4&transport=polling HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{example.port}\r\nConnection: close\r\n\r\n".encode()
                )
                reply = b""
                while b'"maxPayload"' not in reply:
                    reply += await stream.receive()
            sid = open_sid(reply.partition(b"\r\n\r\n")[2].decode())
            line = re.compile(rf"Client {re.escape(sid)} connected from 127\.0\.0\.1:(\d+)")
            match = await anyio.to_thread.run_sync(example.log.wait_for, line, 5.0)
            assert match is not None, example.log.text
            assert int(match.group(1)) == port
            async with http_client(example) as http:
                session = Polling(http)
                session.sid = sid
                await session.close()

    @pytest.mark.parametrize("mode", list(MODES))
    @pytest.mark.node
    @pytest.mark.skipif(NODE is None, reason="node is not on PATH")
    @pytest.mark.skipif(
        not (NODE_MODULES / "engine.io-client").is_dir(),
        reason="tests/js/node_modules is missing (run: cd tests/js && npm ci)",
    )
    def test_node_client(self, example: RunningServer, mode: str) -> None:
        """The npm engine.io-client: text and binary echoes (sync: a subprocess)."""
        report = run_client(example.url, MODES[mode], MESSAGES)
        check_session(report, MODES[mode], MESSAGES)

    async def test_client_leaving_mid_body(self, framework: str) -> None:
        """POSTs whose client leaves mid-body (Content-Length or chunked) leave no
        request behind: none is still pending (answered 500) at shutdown."""
        with running_example(framework) as example:
            with anyio.fail_after(DEADLINE):
                async with http_client(example) as http:
                    left = Polling(http)
                    await left.open()
                    target = f"{PATH}?EIO=4&transport=polling&sid={left.sid}"
                    for framing, body in [
                        ("Content-Length: 100", b"4abc"),
                        ("Transfer-Encoding: chunked", b"10\r\n4abc"),
                    ]:
                        async with await anyio.connect_tcp("127.0.0.1", example.port) as stream:
                            await stream.send(
                                f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                f"{framing}\r\n\r\n".encode()
                                + body
                            )
                    session = Polling(http)
                    await session.open()
                    assert (await session.post("4still here")).text == "ok"
                    assert await session.poll() == ["4still here"]
                    await session.close()
                    # Closes the session either way (a POST overlapping one the
                    # server still reads is refused, and ends the session).
                    await left.post("1")
                example.interrupt()
                status = await anyio.to_thread.run_sync(example.wait_exit)
            assert status == 0, example.log.text
            assert not re.search(r"(^|\s)500\s", example.log.text, re.M), example.log.text

    async def test_sigint_closes_open_sessions(self, framework: str) -> None:
        """On SIGINT the example closes its sessions (a WebSocket, a pending
        poll) and exits cleanly and quickly."""
        with running_example(framework) as example:
            with anyio.fail_after(DEADLINE):
                async with (
                    http_client(example) as http,
                    connect(websocket_url(example, transport="websocket")) as ws,
                ):
                    await ws.receive()
                    session = Polling(http)
                    await session.open()
                    async with anyio.create_task_group() as tg:
                        polled: list[list[str]] = []

                        async def poll() -> None:
                            polled.append(await session.poll())

                        tg.start_soon(poll)
                        await ws.send("4before")
                        assert await next_message(ws) == "4before"
                        started = anyio.current_time()
                        example.interrupt()
                        assert await next_message(ws) is None
                    assert polled == [["1"]]
                    status = await anyio.to_thread.run_sync(example.wait_exit)
                    assert status == 0, example.log.text
                    assert anyio.current_time() - started < 3.0


class MountedAtAPath:
    """The scenarios of a framework that mounts the server at ``/engine.io/``
    and reads a body as it comes (not Tornado, which reads it whole first)."""

    async def test_path_without_trailing_slash(self, example: RunningServer) -> None:
        """``/engine.io`` is served too."""
        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                session = Polling(http, "/engine.io")
                await session.open()
                assert (await session.post("4no slash")).text == "ok"
                assert await session.poll() == ["4no slash"]
                await session.close()

    async def test_stalled_post_is_answered(self, example: RunningServer) -> None:
        """A client that stops writing in the middle of an over-long body gets its
        413 once ``close_timeout`` (the examples' default, 5 s) has passed, and the
        connection closed."""
        with anyio.fail_after(DEADLINE):
            async with http_client(example) as http:
                session = Polling(http)
                await session.open()
                target = f"{PATH}?EIO=4&transport=polling&sid={session.sid}"
                started = anyio.current_time()
                reply = await post_stalled(
                    example.port, target, 10 * MAX_PAYLOAD, b"4" * MAX_PAYLOAD * 2
                )
                elapsed = anyio.current_time() - started
                assert (reply.status, reply.headers.get("connection")) == (413, "close")
                assert reply.end == "eof"
                assert 4.9 < elapsed < 8  # the session has timed out meanwhile: no pongs


def run_python(code: str, *, check: bool) -> subprocess.CompletedProcess[str]:
    """``python -c CODE`` in a fresh interpreter, from the repository root."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=check,
    )


def check_import_error(module: str, package: str) -> None:
    """Importing ``engineio_sc.<module>`` without ``package`` names the pip extra."""
    code = f"import sys; sys.modules[{package!r}] = None; import engineio_sc.{module}"
    completed = run_python(code, check=False)
    assert completed.returncode == 1
    assert "ImportError" in completed.stderr
    assert f'pip install "engineio_sc[{module}]"' in completed.stderr, completed.stderr


def check_not_imported_by_package(package: str) -> None:
    """``import engineio_sc`` does not import the framework."""
    code = f"import sys, engineio_sc; print({package!r} in sys.modules)"
    completed = run_python(code, check=True)
    assert completed.stdout.strip() == "False"


class PollProbe(engineio_sc.AsyncServer):
    """A server whose every poll waits for its client to go away.

    For the adapters' ``wait_disconnected`` (or, with Sanic, the framework's
    cancellation of the request when its client leaves).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.started = anyio.Event()
        self.gone = anyio.Event()

    async def handle_http(self, request: HTTPRequest, conn: HTTPConnection) -> HTTPResponse:
        self.started.set()
        try:
            await conn.wait_disconnected()
        finally:
            self.gone.set()
        return HTTPResponse(499)


async def check_poll_ends_when_its_client_leaves(probe: PollProbe, port: int) -> float:
    """A poll that waits for its client, on ``port``, sees it leave: how long
    it took, in seconds."""
    with anyio.fail_after(DEADLINE):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(
                f"GET {PATH}?EIO=4&transport=polling&sid=probe HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\n\r\n".encode()
            )
            await probe.started.wait()
            assert not probe.gone.is_set()
        left = anyio.current_time()
        await probe.gone.wait()
        return anyio.current_time() - left
