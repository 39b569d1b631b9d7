"""The server driven in process (no sockets), on trio's virtual clock and on asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import anyio
import anyio.abc
import pytest
import trio
import trio.testing

import engineio_sc
from engineio_sc._http import DISCARD_MIN
from engineio_sc.protocol import POLL_RELEASE_DELAY, PollVerdict, SessionState

from .asgi_client import (
    ASGIClient,
    FakeWebSocket,
    HTTPExchange,
    Response,
    live_sessions,
    open_info,
    pending,
    polling,
    served,
    session_ids,
)

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]

PING, TIMEOUT = 0.2, 0.1


@pytest.fixture
def virtual(anyio_backend: Any) -> bool:
    return isinstance(anyio_backend, tuple)


def close_to(actual: float, expected: float, virtual: bool) -> bool:
    return abs(actual - expected) < (1e-6 if virtual else 0.08)


class Recorder:
    """Handlers that record what they see."""

    def __init__(self, eio: engineio_sc.AsyncServer) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.disconnected = anyio.Event()
        eio.on("connect", self.connect)
        eio.on("message", self.message)
        eio.on("disconnect", self.disconnect)
        self.eio = eio

    def connect(self, sid: str, environ: dict[str, Any]) -> None:
        self.events.append(("connect", sid))

    async def message(self, sid: str, data: str | bytes) -> None:
        self.events.append(("message", sid, data))
        await self.eio.send(sid, data)

    async def disconnect(self, sid: str, reason: str) -> None:
        self.events.append(("disconnect", sid, reason))
        self.disconnected.set()


async def check_session_ended(
    recorder: Recorder, client: ASGIClient, sid: str, reason: str
) -> None:
    """The session ended for ``reason``, and its sid is unknown from then on."""
    await recorder.disconnected.wait()
    assert recorder.events[-1] == ("disconnect", sid, reason)
    assert (await client.get(polling(sid))).json()["code"] == 1


@pytest.fixture
async def eio() -> AsyncIterator[engineio_sc.AsyncServer]:
    server = engineio_sc.AsyncServer(ping_interval=PING, ping_timeout=TIMEOUT, close_timeout=0.5)
    with anyio.fail_after(30):
        async with server:
            yield server
    assert not server.running


@pytest.fixture
def client(eio: engineio_sc.AsyncServer) -> ASGIClient:
    return ASGIClient(engineio_sc.ASGIApp(eio))


async def test_handshake_open_packet(client: ASGIClient) -> None:
    response = await client.get("EIO=4&transport=polling")
    assert response.status == 200
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    assert response.text.startswith("0")
    info = open_info(response.text)
    assert set(info) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert info["upgrades"] == ["websocket"]
    assert info["pingInterval"] == 200
    assert info["pingTimeout"] == 100
    assert info["maxPayload"] == 1_000_000
    assert len(info["sid"]) == 20


async def test_polling_echo_text_and_binary(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    assert (await client.post(polling(sid), "4héllo\x1ebAQID")).text == "ok"
    await anyio.wait_all_tasks_blocked()
    response = await client.get(polling(sid))
    assert response.packets == ["4héllo", "bAQID"]
    assert recorder.events[1:] == [("message", sid, "héllo"), ("message", sid, b"\x01\x02\x03")]


async def test_text_is_never_json_decoded(eio: engineio_sc.AsyncServer, client: ASGIClient) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    await client.post(polling(sid), '4{"a":1}\x1e4123\x1e4true\x1e4')
    await anyio.wait_all_tasks_blocked()
    await client.get(polling(sid))
    assert [e[2] for e in recorder.events[1:]] == ['{"a":1}', "123", "true", ""]


async def test_send_types(eio: engineio_sc.AsyncServer, client: ASGIClient) -> None:
    sid, _ = await client.handshake()
    await eio.send(sid, {"a": [1, 2]})
    await eio.send(sid, [1, "x"])
    await eio.send(sid, bytearray(b"\xff"))
    with pytest.raises(TypeError):
        await eio.send(sid, 1.5)  # type: ignore[arg-type]
    response = await client.get(polling(sid))
    assert response.packets == ['4{"a":[1,2]}', '4[1,"x"]', "b/w=="]


async def test_ping_sent_on_time_and_pong_keeps_session(client: ASGIClient, virtual: bool) -> None:
    sid, _ = await client.handshake()
    start = anyio.current_time()
    for _ in range(3):
        response = await client.get(polling(sid))
        assert response.packets == ["2"]
        assert close_to(anyio.current_time() - start, PING, virtual)
        assert (await client.post(polling(sid), "3")).text == "ok"
        start = anyio.current_time()


async def test_ping_timeout_closes_on_time(
    eio: engineio_sc.AsyncServer, client: ASGIClient, virtual: bool
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    start = anyio.current_time()
    assert (await client.get(polling(sid))).packets == ["2"]
    await recorder.disconnected.wait()
    assert close_to(anyio.current_time() - start, PING + TIMEOUT, virtual)
    assert recorder.events[-1] == ("disconnect", sid, "ping timeout")
    response = await client.get(polling(sid))
    assert response.status == 400
    assert response.json() == {"code": 1, "message": "Session ID unknown"}


async def test_pending_get_gets_close_on_ping_timeout(client: ASGIClient) -> None:
    sid, _ = await client.handshake()
    assert (await client.get(polling(sid))).packets == ["2"]
    assert (await client.get(polling(sid))).packets == ["1"]


@pytest.mark.parametrize(
    ("query", "method", "status", "code"),
    [
        ("EIO=4", "GET", 400, 0),
        ("EIO=4&transport=abc", "GET", 400, 0),
        ("EIO=4&transport=polling&sid=nope", "GET", 400, 1),
        ("EIO=4&transport=polling&sid=nope", "POST", 400, 1),
        ("EIO=4&transport=polling", "POST", 400, 2),
        ("EIO=4&transport=polling", "PUT", 400, 2),
        ("EIO=4&transport=websocket", "GET", 400, 3),
        ("EIO=3&transport=polling", "GET", 400, 5),
        ("transport=polling", "GET", 400, 5),
        ("EIO=abc&transport=polling", "GET", 400, 5),
    ],
)
async def test_error_responses(
    client: ASGIClient, query: str, method: str, status: int, code: int
) -> None:
    response = await client.request(method, query)
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    messages = {
        0: "Transport unknown",
        1: "Session ID unknown",
        2: "Bad handshake method",
        3: "Bad request",
        5: "Unsupported protocol version",
    }
    assert response.json() == {"code": code, "message": messages[code]}


async def test_forbidden_by_allow_request() -> None:
    async def allow(environ: dict[str, Any]) -> bool | str:
        return "go away" if environ["HTTP_X_TOKEN"] == "bad" else True

    server = engineio_sc.AsyncServer(allow_request=allow)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        bad = await client.get("EIO=4&transport=polling", headers=[("X-Token", "bad")])
        assert bad.status == 403
        assert bad.json() == {"code": 4, "message": "go away"}
        good = await client.get("EIO=4&transport=polling", headers=[("X-Token", "ok")])
        assert good.status == 200


async def test_method_not_allowed_with_sid(client: ASGIClient) -> None:
    sid, _ = await client.handshake()
    response = await client.request("PUT", polling(sid))
    assert response.status == 405


async def test_post_over_limit_is_413_and_keeps_session() -> None:
    """The rest of the body is read (and thrown away) before the 413, which
    closes the connection; the session stays open."""
    server = engineio_sc.AsyncServer(max_http_buffer_size=10, close_timeout=0.3)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, info = await client.handshake()
        assert info["maxPayload"] == 10
        query = polling(sid)
        exchange = HTTPExchange()
        too_long = await client.post(query, "4" + "x" * 999, chunks=100, exchange=exchange)
        assert (too_long.status, too_long.headers["connection"]) == (413, "close")
        assert exchange.received == 1000
        fits = await client.post(query, "4" + "x" * 9)
        assert fits.status == 200
        assert "connection" not in fits.headers
        await server.disconnect(sid)


async def test_post_far_over_limit_is_not_read_to_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Beyond the limit, at most max(limit, DISCARD_MIN) more bytes are read."""
    server = engineio_sc.AsyncServer(max_http_buffer_size=10, close_timeout=0.3)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, _ = await client.handshake()
        exchange = HTTPExchange()
        body = b"4" * (DISCARD_MIN * 4)
        query = polling(sid)
        response = await client.post(query, body, chunks=len(body) // 1000, exchange=exchange)
        assert (response.status, response.headers["connection"]) == (413, "close")
        assert 10 + DISCARD_MIN <= exchange.received <= 10 + DISCARD_MIN + 1000
        assert "POST refused: body over 10 bytes (the rest left unread)" in caplog.text
        assert (await client.post(query, "4fits")).status == 200
        await server.disconnect(sid)


async def test_post_stalled_over_limit_is_answered_after_close_timeout(virtual: bool) -> None:
    """A body that stops coming once it is over the limit is given
    ``close_timeout`` seconds to end, then answered 413."""
    server = engineio_sc.AsyncServer(max_http_buffer_size=10, close_timeout=0.3)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, _ = await client.handshake()
        exchange = HTTPExchange(body_sent=anyio.Event())  # the last part never comes
        start = anyio.current_time()
        query = polling(sid)
        response = await client.post(query, "4" * 40, chunks=4, exchange=exchange)
        assert close_to(anyio.current_time() - start, 0.3, virtual)
        assert (response.status, response.headers["connection"]) == (413, "close")
        assert exchange.received == 30
        await server.disconnect(sid)


@pytest.mark.parametrize("size", [50, 500])
async def test_client_leaving_mid_post_is_logged_not_refused(
    size: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that leaves in the middle of a body under the limit is logged as
    gone, not refused with a 413; one that leaves while the rest of an over-long
    body is thrown away is refused, as if it had stayed. Either way no packet of
    the unfinished body is taken, and the session is untouched."""
    caplog.set_level(logging.INFO, logger="engineio_sc.server")
    server = engineio_sc.AsyncServer(max_http_buffer_size=100, close_timeout=0.3)
    recorder = Recorder(server)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, _ = await client.handshake()
        query = f"EIO=4&transport=polling&sid={sid}"
        exchange = HTTPExchange(leave_after=3)
        response = await client.post(query, "4" * size, chunks=10, exchange=exchange)
        assert exchange.parts_received == 3
        assert response.status == (499 if size < 100 else 413)
        assert ("went away during its POST body" in caplog.text) is (size < 100)
        assert ("POST refused" in caplog.text) is (size >= 100)
        assert (await client.post(query, "4still here")).status == 200
        assert (await client.get(query)).packets == ["4still here"]
        assert recorder.events == [("connect", sid), ("message", sid, "still here")]
        await server.disconnect(sid)


async def test_bad_payload_delivers_good_packets_then_closes(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    response = await client.post(polling(sid), "4a\x1e4b\x1ex")
    assert response.status == 400
    await recorder.disconnected.wait()
    assert recorder.events[1:] == [
        ("message", sid, "a"),
        ("message", sid, "b"),
        ("disconnect", sid, "server disconnect"),
    ]


async def test_client_ping_is_an_error(eio: engineio_sc.AsyncServer, client: ASGIClient) -> None:
    sid, _ = await client.handshake()
    assert (await client.post(polling(sid), "2")).status == 400
    assert (await client.get(polling(sid))).json()["code"] == 1


async def test_concurrent_get_is_rejected_and_first_gets_close(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    query = polling(sid)
    async with pending(lambda: client.get(query)) as first:
        second = await client.get(query)
    assert second.status == 400
    assert second.body == b""
    assert first.response.packets == ["1"]
    await check_session_ended(recorder, client, sid, "transport error")


async def test_client_close_releases_pending_get_with_noop(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    query = polling(sid)
    async with pending(lambda: client.get(query)) as poll:
        assert (await client.post(query, "1")).text == "ok"
    assert poll.response.packets == ["6"]
    await check_session_ended(recorder, client, sid, "client disconnect")


async def test_server_disconnect_delivers_queue_then_close(
    eio: engineio_sc.AsyncServer, client: ASGIClient, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    query = polling(sid)
    await eio.send(sid, "last words")
    with anyio.fail_after(0.05):  # returns promptly: the client is not polling
        await eio.disconnect(sid)
    with caplog.at_level(logging.WARNING, logger="engineio_sc.server"):
        await eio.send(sid, "too late")  # dropped, with a warning, as python-engineio does
    assert f"Cannot send to sid {sid}" in caplog.text
    assert (await client.get(query)).packets == ["4last words", "1"]
    await check_session_ended(recorder, client, sid, "server disconnect")


async def test_disconnect_of_absent_polling_client_returns_and_expires(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    session = live_sessions(eio)[sid]
    await eio.disconnect(sid)
    await recorder.disconnected.wait()
    with anyio.fail_after(5):
        await session.done.wait()
    assert sid not in session_ids(eio)
    assert (await client.get(polling(sid))).json()["code"] == 1


async def test_dropped_poll_loses_nothing(eio: engineio_sc.AsyncServer, client: ASGIClient) -> None:
    sid, _ = await client.handshake()
    query = polling(sid)
    exchange = HTTPExchange()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: client.get(query, exchange=exchange))
        await anyio.wait_all_tasks_blocked()
        exchange.disconnect()
    await eio.send(sid, "kept")
    assert (await client.get(query)).packets == ["4kept"]


async def test_connect_handler_sends_are_in_handshake(eio: engineio_sc.AsyncServer) -> None:
    client = ASGIClient(engineio_sc.ASGIApp(eio))

    @eio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        assert environ["REMOTE_ADDR"] == "127.0.0.9"
        assert environ["QUERY_STRING"] == "EIO=4&transport=polling"
        assert environ["asgi.scope"]["type"] == "http"
        await eio.send(sid, "welcome")

    response = await client.get("EIO=4&transport=polling")
    assert response.packets[1:] == ["4welcome"]


@pytest.mark.parametrize(
    ("verdict", "body"),
    [(False, "Unauthorized"), ({"no": 1}, {"no": 1}), ("nope", "nope"), (0, "Unauthorized")],
)
async def test_connect_refusal_is_401(
    eio: engineio_sc.AsyncServer, verdict: Any, body: Any
) -> None:
    client = ASGIClient(engineio_sc.ASGIApp(eio))
    seen: list[str] = []
    eio.on("connect", lambda sid, environ: verdict)
    eio.on("disconnect", lambda sid: seen.append(sid))
    response = await client.get("EIO=4&transport=polling")
    assert response.status == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body
    await anyio.wait_all_tasks_blocked()
    assert seen == []
    assert session_ids(eio) == set()


async def test_connect_handler_exception_is_401(eio: engineio_sc.AsyncServer) -> None:
    client = ASGIClient(engineio_sc.ASGIApp(eio))

    @eio.on("connect")
    def connect(sid: str, environ: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    response = await client.get("EIO=4&transport=polling")
    assert (response.status, response.json()) == (401, "Unauthorized")


async def test_one_argument_disconnect_handler(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    seen = anyio.Event()
    sids: list[str] = []

    @eio.on("disconnect")
    def disconnect(sid: str) -> None:
        sids.append(sid)
        seen.set()

    sid, _ = await client.handshake()
    await client.post(polling(sid), "1")
    await seen.wait()
    assert sids == [sid]


async def test_invalid_event_name(eio: engineio_sc.AsyncServer) -> None:
    with pytest.raises(ValueError, match="Invalid event"):
        eio.on("connected", lambda: None)  # type: ignore[call-overload]


async def test_sessions(
    eio: engineio_sc.AsyncServer, client: ASGIClient, caplog: pytest.LogCaptureFixture
) -> None:
    sid, _ = await client.handshake()
    assert await eio.get_session(sid) == {}
    await eio.save_session(sid, {"a": 1})
    async with eio.session(sid) as session:
        session["b"] = 2
    assert await eio.get_session(sid) == {"a": 1, "b": 2}
    with contextlib.suppress(RuntimeError):  # the block fails
        async with eio.session(sid) as session:
            await eio.save_session(sid, {"replaced": True})
            raise RuntimeError
    assert await eio.get_session(sid) == {"a": 1, "b": 2}  # saved on the way out
    assert eio.transport(sid) == "polling"
    with pytest.raises(KeyError):
        await eio.get_session("nope")
    with pytest.raises(KeyError):
        eio.transport("nope")
    with caplog.at_level(logging.WARNING, logger="engineio_sc.server"):
        await eio.send("nope", "x")
    assert "Cannot send to sid nope" in caplog.text


async def test_messages_handled_in_order(client: ASGIClient, eio: engineio_sc.AsyncServer) -> None:
    seen: list[str] = []
    all_seen = anyio.Event()

    @eio.on("message")
    async def message(sid: str, data: str) -> None:
        await anyio.sleep(0.01 if int(data) % 2 else 0)
        seen.append(data)
        if len(seen) == 20:
            all_seen.set()

    sid, _ = await client.handshake()
    await client.post(polling(sid), "\x1e".join(f"4{i}" for i in range(20)))
    with anyio.fail_after(5):
        await all_seen.wait()
    assert seen == [str(i) for i in range(20)]


async def test_websocket_session(eio: engineio_sc.AsyncServer, client: ASGIClient) -> None:
    recorder = Recorder(eio)
    async with client.websocket("EIO=4&transport=websocket") as ws:
        opening = await ws.receive()
        assert isinstance(opening, str)
        assert opening.startswith("0")
        info = open_info(opening)
        assert info["upgrades"] == []
        assert eio.transport(info["sid"]) == "websocket"
        await ws.send("4hello")
        assert await ws.receive() == "4hello"
        await ws.send(b"\x00\x01")
        assert await ws.receive() == b"\x00\x01"
        assert await ws.receive() == "2"
        await ws.send("3")
    await recorder.disconnected.wait()
    assert recorder.events[-1] == ("disconnect", info["sid"], "transport close")


async def test_the_websocket_writer_runs_only_while_packets_wait(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    def writers() -> int:
        return sum(
            (task.name or "").endswith("._write_queue") for task in anyio.get_running_tasks()
        )

    count = 110  # more than the client's buffer (100): the last packets wait
    async with client.websocket("EIO=4&transport=websocket") as ws:
        sid = await ws.opened()
        await anyio.wait_all_tasks_blocked()
        assert writers() == 0  # an idle session holds no writer task
        async with anyio.create_task_group() as tg:  # senders racing: packets queue
            for i in range(count):
                tg.start_soon(eio.send, sid, str(i))
            await anyio.wait_all_tasks_blocked()
            assert writers() == 1  # one writer takes what waits
            received = [await ws.receive() for _ in range(count)]
        assert sorted(map(str, received)) == sorted(f"4{i}" for i in range(count))
        assert await ws.receive() == "2"  # the heartbeat writes the ping itself
        await ws.send("3")
        await anyio.wait_all_tasks_blocked()
        assert writers() == 0
        await eio.send(sid, "after")
        assert await ws.receive() == "4after"


async def test_websocket_messages_after_the_close_packet_are_not_handled(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    async with client.websocket("EIO=4&transport=websocket") as ws:
        sid = await ws.opened()
        await ws.send("4first")
        assert await ws.receive() == "4first"
        await ws.send("1")
        await ws.send("4late")
        await ws.send(b"late")
    await recorder.disconnected.wait()
    assert recorder.events == [
        ("connect", sid),
        ("message", sid, "first"),
        ("disconnect", sid, "client disconnect"),
    ]


async def test_websocket_ping_timeout(
    eio: engineio_sc.AsyncServer, client: ASGIClient, virtual: bool
) -> None:
    recorder = Recorder(eio)
    async with client.websocket("EIO=4&transport=websocket") as ws:
        await ws.receive()
        start = anyio.current_time()
        assert await ws.receive() == "2"
        assert await ws.receive() is None  # closed by the server
        assert close_to(anyio.current_time() - start, PING + TIMEOUT, virtual)
    assert recorder.events[-1][2] == "ping timeout"


async def test_websocket_ping_timeout_when_the_ping_cannot_be_written(
    eio: engineio_sc.AsyncServer, client: ASGIClient, virtual: bool
) -> None:
    recorder = Recorder(eio)
    async with client.websocket("EIO=4&transport=websocket") as ws:
        sid = await ws.opened()
        start = anyio.current_time()
        for i in range(100):  # the client reads nothing: its buffer fills up
            await eio.send(sid, str(i))
        await recorder.disconnected.wait()  # the ping's write stays stuck, the pong never comes
        assert close_to(anyio.current_time() - start, PING + TIMEOUT, virtual)
    assert recorder.events[-1] == ("disconnect", sid, "ping timeout")


async def test_websocket_server_disconnect_flushes_then_closes(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    async with client.websocket("EIO=4&transport=websocket") as ws:
        sid = await ws.opened()
        await eio.send(sid, "bye")
        await eio.disconnect(sid)
        assert await ws.receive() == "4bye"
        assert await ws.receive() is None
        assert ws.close_code == 1000
    await recorder.disconnected.wait()
    assert recorder.events[-1] == ("disconnect", sid, "server disconnect")


async def test_websocket_frame_over_limit_closes_1009() -> None:
    server = engineio_sc.AsyncServer(max_http_buffer_size=8)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server, client.websocket("EIO=4&transport=websocket") as ws:
        await ws.receive()
        await ws.send("4" + "é" * 4)  # 9 bytes in UTF-8, 5 characters
        assert await ws.receive() is None
        assert ws.close_code == 1009


async def test_websocket_bad_frame_closes_session(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    async with client.websocket("EIO=4&transport=websocket") as ws:
        await ws.receive()
        await ws.send("x")
        assert await ws.receive() is None
    await recorder.disconnected.wait()
    assert recorder.events[-1][2] == "transport error"


async def test_upgrade() -> None:
    async with served(fail_after=10, ping_interval=5) as (eio, client):
        Recorder(eio)
        sid, _ = await client.handshake()
        query = polling(sid)
        async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
            async with pending(lambda: client.get(query)) as poll:
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
            assert poll.response.packets == ["6"]
            await eio.send(sid, "queued during upgrade")
            assert (await client.get(query)).packets == ["6"]
            await ws.send("5")
            assert await ws.receive() == "4queued during upgrade"
            assert eio.transport(sid) == "websocket"
            response = await client.get(query)
            assert (response.status, response.json()["code"]) == (400, 3)
            async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as second:
                assert await second.receive() is None
            await ws.send("4after")
            assert await ws.receive() == "4after"


async def _upgrade(client: ASGIClient, ws: FakeWebSocket, sid: str) -> None:
    """Probe and upgrade session ``sid`` on ``ws``, a poll pending meanwhile as a
    client's is."""
    async with pending(lambda: client.get(polling(sid))):
        await ws.send("2probe")
        assert await ws.receive() == "3probe"
    await ws.send("5")


async def test_upgraded_session_ends_when_its_websocket_request_is_cancelled(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    """An upgraded session runs in the server's group; its WebSocket's request
    task only waits. Cancelling that task closes the session (its socket is gone)."""
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    session = live_sessions(eio)[sid]
    with anyio.CancelScope() as scope:
        async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
            await _upgrade(client, ws, sid)
            await ws.send("4upgraded")
            assert await ws.receive() == "4upgraded"
            scope.cancel()
    with anyio.fail_after(5):
        await check_session_ended(recorder, client, sid, "transport close")
        await session.done.wait()
    assert session_ids(eio) == set()


async def test_a_failing_transport_ends_its_session_only(caplog: pytest.LogCaptureFixture) -> None:
    """An error no adapter maps (a framework's bug) in an upgraded session's
    reader, which runs in the server's group, ends that session, not the server.
    (No pings: a ping unanswered on a busy machine would end the session first.)"""
    async with served() as (eio, client):
        await _fail_a_transport(eio, client, caplog)


async def _fail_a_transport(
    eio: engineio_sc.AsyncServer, client: ASGIClient, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(eio)
    bystander, _ = await client.handshake()
    sid, _ = await client.handshake()
    session = live_sessions(eio)[sid]
    async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
        await _upgrade(client, ws, sid)
        await anyio.wait_all_tasks_blocked()
        assert eio.transport(sid) == "websocket"
        ws.failure = RuntimeError("the ASGI server failed")
        await ws.send("4the last message")
        with anyio.fail_after(5):
            await session.done.wait()
    assert ("disconnect", sid, "transport error") in recorder.events
    assert "the session failed" in caplog.text
    assert eio.running
    await eio.send(bystander, "still served")
    response = await client.get(polling(bystander))
    assert response.packets == ["4still served"]


async def test_failed_upgrade_stays_on_polling(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    sid, _ = await client.handshake()
    async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
        await ws.send("2probe")
        assert await ws.receive() == "3probe"
        await ws.send("4not an upgrade")
        assert await ws.receive() is None
    await eio.send(sid, "still polling")
    response = await client.get(polling(sid))
    assert response.packets == ["4still polling"]


# -- polls during an upgrade ----------------------------------------------------------


def joining(sid: str) -> str:
    return f"EIO=4&transport=websocket&sid={sid}"


def state_of(eio: engineio_sc.AsyncServer, sid: str) -> SessionState:
    return SessionState(eio.session_statistics(sid).state)


def verdict_of(eio: engineio_sc.AsyncServer, sid: str) -> PollVerdict | None:
    return live_sessions(eio)[sid].machine.poll_verdict


@asynccontextmanager
async def upgrade_server(
    **options: Any,
) -> AsyncIterator[tuple[engineio_sc.AsyncServer, ASGIClient, Recorder]]:
    """An echo server whose pings stay out of the way (on asyncio too), its
    client and its recorder."""
    options.setdefault("close_timeout", 0.5)  # a polling client left at the end
    async with served(fail_after=10, ping_interval=60, **options) as (eio, client):
        yield eio, client, Recorder(eio)


class Timed:
    """A request, and the clock readings when it starts and when it is answered."""

    def __init__(self, request: Callable[[], Awaitable[Response]]) -> None:
        self.request = request
        self.started: float | None = None
        self.answered: float | None = None

    async def __call__(self) -> Response:
        self.started = anyio.current_time()
        response = await self.request()
        self.answered = anyio.current_time()
        return response

    @property
    def waited(self) -> float:
        assert self.started is not None
        assert self.answered is not None, "no answer yet"
        return self.answered - self.started


async def check_upgraded(
    eio: engineio_sc.AsyncServer, client: ASGIClient, ws: FakeWebSocket, sid: str
) -> None:
    """The session is on ``ws``: a poll is refused, a second WebSocket is closed
    at once, and the session echoes over ``ws``."""
    await anyio.wait_all_tasks_blocked()  # the server has read what was sent
    assert eio.transport(sid) == "websocket"
    refused = await client.get(polling(sid))
    assert (refused.status, refused.json()) == (400, {"code": 3, "message": "Bad request"})
    async with client.websocket(joining(sid)) as second:
        with anyio.fail_after(POLL_RELEASE_DELAY / 2):
            assert await second.receive() is None
        assert second.accepted
    await ws.send("4echo")
    assert await ws.receive() == "4echo"


@pytest.mark.parametrize("order", ["before the probe", "between the probe and 5"])
async def test_a_poll_during_the_upgrade_is_refused_once_upgraded(order: str) -> None:
    """The issue's GET, in each order the server may read it: before the
    WebSocket's ``2probe``, or between ``2probe`` and ``5``."""
    async with upgrade_server() as (eio, client, _):
        sid, _ = await client.handshake()
        poll = Timed(lambda: client.get(polling(sid)))
        async with client.websocket(joining(sid)) as ws:
            await anyio.wait_all_tasks_blocked()
            assert state_of(eio, sid) is SessionState.JOINING  # taken, before its frames
            if order == "between the probe and 5":
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
                assert state_of(eio, sid) is SessionState.UPGRADING
            async with pending(
                poll, until=lambda: verdict_of(eio, sid) is PollVerdict.WAIT
            ) as answer:
                if order == "before the probe":
                    await ws.send("2probe")
                await ws.send("5")
                sent = anyio.current_time()
            refused = answer.response
            assert (refused.status, refused.json()) == (400, {"code": 3, "message": "Bad request"})
            assert poll.answered is not None
            assert poll.answered - sent < POLL_RELEASE_DELAY / 2  # at the 5, not released
            if order == "before the probe":
                assert await ws.receive() == "3probe"
            await check_upgraded(eio, client, ws, sid)


async def test_the_issues_sequence_as_a_client_sends_it() -> None:
    """Once its WebSocket is accepted, ``2probe`` and ``5`` back to back, then at
    once a GET: the server reads them in whichever order, and refuses the GET."""
    async with upgrade_server() as (eio, client, _):
        sid, _ = await client.handshake()
        async with client.websocket(joining(sid)) as ws:
            await anyio.wait_all_tasks_blocked()
            assert ws.accepted
            await ws.send("2probe")
            await ws.send("5")
            refused = await client.get(polling(sid))
            assert (refused.status, refused.json()["code"]) == (400, 3)
            assert await ws.receive() == "3probe"
            await check_upgraded(eio, client, ws, sid)


async def test_a_poll_waiting_since_the_join_is_released_a_moment_after_the_probe(
    virtual: bool,
) -> None:
    """A client that waits for its GET before it sends ``5`` is not stuck: the
    GET gets a noop POLL_RELEASE_DELAY after the probe's answer, however late the probe."""
    async with upgrade_server() as (eio, client, _):
        sid, _ = await client.handshake()
        poll = Timed(lambda: client.get(polling(sid)))
        async with client.websocket(joining(sid)) as ws:
            await anyio.wait_all_tasks_blocked()
            async with pending(poll) as answer:
                await anyio.sleep(0.3)  # the client is slow to probe
                assert answer.result is None
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
                probed = anyio.current_time()
            assert answer.response.packets == ["6"]
            assert poll.answered is not None
            assert close_to(poll.answered - probed, POLL_RELEASE_DELAY, virtual)
            assert state_of(eio, sid) is SessionState.UPGRADING
            await ws.send("5")
            await check_upgraded(eio, client, ws, sid)


async def test_a_poll_after_the_probe_waits_its_own_moment(virtual: bool) -> None:
    async with upgrade_server() as (eio, client, _):
        sid, _ = await client.handshake()
        async with client.websocket(joining(sid)) as ws:
            await ws.send("2probe")
            assert await ws.receive() == "3probe"
            await anyio.sleep(0.3)  # long after the probe
            poll = Timed(lambda: client.get(polling(sid)))
            assert (await poll()).packets == ["6"]
            assert close_to(poll.waited, POLL_RELEASE_DELAY, virtual)
            await ws.send("5")
            await check_upgraded(eio, client, ws, sid)


async def test_a_poll_held_before_the_upgrade_is_released_at_the_probe() -> None:
    async with upgrade_server() as (eio, client, _):
        sid, _ = await client.handshake()
        poll = Timed(lambda: client.get(polling(sid)))
        async with pending(poll) as answer, client.websocket(joining(sid)) as ws:
            await anyio.wait_all_tasks_blocked()
            assert state_of(eio, sid) is SessionState.JOINING
            assert answer.result is None  # still held: the upgrade has not taken over
            await ws.send("2probe")
            assert await ws.receive() == "3probe"
            probed = anyio.current_time()
            await anyio.wait_all_tasks_blocked()
            assert answer.response.packets == ["6"]
            assert poll.answered is not None
            assert poll.answered - probed < POLL_RELEASE_DELAY / 2  # at once, not delayed
            await ws.send("5")
            await check_upgraded(eio, client, ws, sid)


async def test_packets_flow_over_polling_while_the_websocket_joins() -> None:
    async with upgrade_server() as (eio, client, recorder):
        sid, _ = await client.handshake()
        async with (
            pending(lambda: client.get(polling(sid))) as held,
            client.websocket(joining(sid)) as ws,
        ):
            await anyio.wait_all_tasks_blocked()
            await eio.send(sid, "to the held GET")
            await anyio.wait_all_tasks_blocked()
            assert held.response.packets == ["4to the held GET"]
            assert (await client.post(polling(sid), "4posted")).text == "ok"
            await anyio.wait_all_tasks_blocked()
            assert ("message", sid, "posted") in recorder.events
            # The echo waits for the outcome, as the next GET does.
            async with pending(lambda: client.get(polling(sid))) as waiting:
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
                await ws.send("5")
            assert waiting.response.status == 400
            assert await ws.receive() == "4posted"
            await check_upgraded(eio, client, ws, sid)


FAILURES = [
    "wrong first frame",
    "wrong second frame",
    "WebSocket gone before the probe",
    "WebSocket gone after the probe",
    "upgrade timeout",
]


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failed_upgrade_serves_the_waiting_poll_as_an_ordinary_one(failure: str) -> None:
    async with upgrade_server(upgrade_timeout=0.3) as (eio, client, _):
        sid, _ = await client.handshake()
        async with client.websocket(joining(sid)) as ws:
            await anyio.wait_all_tasks_blocked()
            async with pending(lambda: client.get(polling(sid))) as answer:
                assert verdict_of(eio, sid) is PollVerdict.WAIT
                if failure in ("wrong second frame", "WebSocket gone after the probe"):
                    await ws.send("2probe")
                    assert await ws.receive() == "3probe"
                if failure.startswith("wrong"):
                    await ws.send("4not an upgrade")
                    assert await ws.receive() is None
                elif failure.startswith("WebSocket gone"):
                    await ws.close()
                else:
                    assert await ws.receive() is None  # closed once the timeout is over
                await anyio.wait_all_tasks_blocked()
                assert state_of(eio, sid) is SessionState.OPEN
                assert eio.transport(sid) == "polling"
                assert answer.result is None  # an ordinary poll now: waits for packets
                await eio.send(sid, "still polling")
            assert answer.response.packets == ["4still polling"]


@pytest.mark.parametrize("phase", [SessionState.JOINING, SessionState.UPGRADING])
async def test_a_second_websocket_during_the_upgrade_is_closed_at_once(
    phase: SessionState,
) -> None:
    async with upgrade_server() as (eio, client, _):
        sid, _ = await client.handshake()
        async with client.websocket(joining(sid)) as ws:
            await anyio.wait_all_tasks_blocked()
            if phase is SessionState.UPGRADING:
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
            async with client.websocket(joining(sid)) as second:
                with anyio.fail_after(POLL_RELEASE_DELAY / 2):
                    assert await second.receive() is None
                assert second.accepted
            assert state_of(eio, sid) is phase  # the upgrade in progress goes on
            if phase is SessionState.JOINING:
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
            await ws.send("5")
            await check_upgraded(eio, client, ws, sid)


async def test_two_polls_during_the_upgrade_are_a_conflict() -> None:
    async with upgrade_server() as (_, client, recorder):
        sid, _ = await client.handshake()
        async with client.websocket(joining(sid)) as ws:
            await anyio.wait_all_tasks_blocked()
            async with pending(lambda: client.get(polling(sid))) as first:
                second = await client.get(polling(sid))
            assert (second.status, second.body) == (400, b"")
            assert first.response.packets == ["1"]
            await check_session_ended(recorder, client, sid, "transport error")
            with anyio.fail_after(1):  # not after upgrade_timeout
                assert await ws.receive() is None


async def test_upgrades_disabled() -> None:
    server = engineio_sc.AsyncServer(allow_upgrades=False)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, info = await client.handshake()
        assert info["upgrades"] == []
        async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
            assert await ws.receive() is None
            assert ws.denied is not None
            assert ws.denied[0] == 400


async def test_websocket_errors_are_denied_with_json(client: ASGIClient) -> None:
    async with client.websocket("EIO=4&transport=websocket&sid=nope") as ws:
        assert await ws.receive() is None
        assert ws.denied is not None
        assert ws.denied[0] == 400
        assert json.loads(ws.denied[1]) == {"code": 1, "message": "Session ID unknown"}


async def test_websocket_connect_refused(eio: engineio_sc.AsyncServer, client: ASGIClient) -> None:
    eio.on("connect", lambda sid, environ: False)
    async with client.websocket("EIO=4&transport=websocket") as ws:
        assert await ws.receive() is None
        assert ws.denied == (401, b'"Unauthorized"')


async def test_transports_option() -> None:
    server = engineio_sc.AsyncServer(transports=["websocket"])
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        assert (await client.get("EIO=4&transport=polling")).json()["code"] == 0
        async with client.websocket("EIO=4&transport=websocket") as ws:
            assert str(await ws.receive()).startswith("0")


async def test_shutdown_closes_everything(client: ASGIClient) -> None:
    server = engineio_sc.AsyncServer(ping_interval=PING, ping_timeout=TIMEOUT, close_timeout=0.5)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    recorder = Recorder(server)
    never = anyio.Event()
    async with server:
        sid, _ = await client.handshake()
        task = server.start_background_task(never.wait)
        async with client.websocket("EIO=4&transport=websocket") as ws:
            await ws.receive()
            await server.send(sid, "queued")
            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(server.shutdown)
                    assert await ws.receive() is None
                    response = await client.get(polling(sid))
                    assert response.packets == ["4queued", "1"]
        assert not server.running
        assert task.done()
        assert task.cancelled()
    reasons = sorted(e[2] for e in recorder.events if e[0] == "disconnect")
    assert reasons == ["server disconnect", "server disconnect"]


async def test_shutdown_cancels_a_websocket_session_that_outlives_close_timeout() -> None:
    """A WebSocket session runs in its request's task, not in the server's group:
    shutdown still ends it, and its request, once ``close_timeout`` is over."""
    server = engineio_sc.AsyncServer(ping_interval=PING, ping_timeout=TIMEOUT, close_timeout=0.3)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    entered, cancelled = anyio.Event(), anyio.Event()

    @server.on("disconnect")
    async def disconnect(sid: str, reason: str) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with server:
        async with client.websocket("EIO=4&transport=websocket") as ws:
            await ws.receive()
            (session,) = live_sessions(server).values()
            with anyio.fail_after(5):
                await server.shutdown()
                assert entered.is_set()
                assert cancelled.is_set()
                assert session.ended
                await ws.finished.wait()  # the request has returned
            assert await ws.receive() is None
        assert session_ids(server) == set()


async def test_a_session_group_is_the_backends_own_on_trio(
    eio: engineio_sc.AsyncServer, client: ASGIClient, virtual: bool
) -> None:
    """On trio a session's task group is trio's nursery and its reader runs as
    itself; anyio's group would wrap each task in a handle the session holds for
    its whole life. On asyncio its tasks are asyncio's own, in asyncio's
    ``TaskGroup``."""
    async with client.websocket("EIO=4&transport=websocket") as ws:
        await ws.receive()
        (session,) = live_sessions(eio).values()
        group = session.group
        if virtual:  # trio
            assert isinstance(group, trio.Nursery)
            assert [task.coro.__qualname__ for task in group.child_tasks] == [
                "WebSocketTransport.read"
            ]
        else:
            assert not isinstance(group, anyio.abc.TaskGroup)
            names = [task.get_name() for task in asyncio.all_tasks()]
            assert "engineio_sc._websocket.WebSocketTransport.read" in names


async def test_websocket_client_gone_before_its_open_packet_is_disconnected(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    async with client.websocket("EIO=4&transport=websocket", gone=True) as ws:
        assert await ws.receive() is None
    with anyio.fail_after(5):
        await recorder.disconnected.wait()
    (_, sid), disconnect = recorder.events
    assert disconnect == ("disconnect", sid, "transport close")
    assert session_ids(eio) == set()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_handshake_cancelled_in_the_connect_handler_leaves_no_session(
    eio: engineio_sc.AsyncServer, client: ASGIClient, transport: str
) -> None:
    entered = anyio.Event()

    @eio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        entered.set()
        await anyio.sleep_forever()

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            if transport == "polling":
                tg.start_soon(client.get, "EIO=4&transport=polling")
            else:
                tg.start_soon(_open_and_wait, client)
            await entered.wait()
            assert len(session_ids(eio)) == 1
            scope.cancel()
    await anyio.wait_all_tasks_blocked()
    assert session_ids(eio) == set()


async def _open_and_wait(client: ASGIClient) -> None:
    async with client.websocket("EIO=4&transport=websocket") as ws:
        await ws.receive()


async def test_background_task_result_and_error(eio: engineio_sc.AsyncServer) -> None:
    async def add(a: int, b: int) -> int:
        await eio.sleep(0.01)
        return a + b

    def fail() -> None:
        raise ValueError("x")

    assert await eio.start_background_task(add, 1, b=2) == 3
    with pytest.raises(ValueError, match="x"):
        await eio.start_background_task(fail)
    slow = eio.start_background_task(anyio.sleep_forever)
    assert slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert slow.cancelled()
    assert not slow.cancel()  # done already


async def test_background_task_has_the_interface_of_an_asyncio_task(
    eio: engineio_sc.AsyncServer,
) -> None:
    """What callers of an ``asyncio.Task`` use (python-socketio keeps each
    handler's task in a set and drops it from a done callback), on both backends."""
    release = anyio.Event()
    seen: list[tuple[str, object]] = []

    async def work() -> str:
        await release.wait()
        return "result"

    task = eio.start_background_task(work)
    holder = {task}
    task.add_done_callback(holder.discard)
    task.add_done_callback(lambda t: seen.append(("first", t.result())))

    def forgotten(t: engineio_sc.BackgroundTask) -> None:
        seen.append(("forgotten", t))

    task.add_done_callback(forgotten)
    assert task.remove_done_callback(forgotten) == 1
    assert task.get_name() == "work"
    assert not task.done()
    assert not task.cancelled()
    with pytest.raises(asyncio.InvalidStateError):
        task.result()
    with pytest.raises(asyncio.InvalidStateError):
        task.exception()
    release.set()
    assert await task == "result"
    assert holder == set()
    assert seen == [("first", "result")]
    assert task.done()
    assert task.exception() is None
    assert await task == "result"  # awaited again once done

    late: list[engineio_sc.BackgroundTask] = []
    task.add_done_callback(late.append)  # done already: called soon, not at once
    assert late == []
    with anyio.fail_after(1):
        while not late:
            await anyio.lowlevel.checkpoint()
    assert late == [task]


async def test_background_task_exception_and_cancellation_states(
    eio: engineio_sc.AsyncServer, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> None:
        raise ValueError("boom")

    failing = eio.start_background_task(fail)
    with anyio.fail_after(1):
        with pytest.raises(ValueError, match="boom"):
            await failing
    assert isinstance(failing.exception(), ValueError)
    with pytest.raises(ValueError, match="boom"):
        failing.result()
    assert "background task fail failed" in caplog.text

    def bad_callback(task: engineio_sc.BackgroundTask) -> None:
        raise RuntimeError("callback")

    sleeper = eio.start_background_task(anyio.sleep_forever)
    sleeper.add_done_callback(bad_callback)  # logged, and the others still run
    ends: list[bool] = []
    sleeper.add_done_callback(lambda t: ends.append(t.cancelled()))
    assert sleeper.remove_done_callback(print) == 0
    sleeper.cancel()
    with anyio.fail_after(1), pytest.raises(asyncio.CancelledError):
        await sleeper
    assert ends == [True]
    assert "done callback of background task sleep_forever failed" in caplog.text
    with pytest.raises(asyncio.CancelledError):
        sleeper.exception()
    with pytest.raises(asyncio.CancelledError):
        sleeper.result()


async def test_a_background_task_is_a_native_task_on_asyncio(
    eio: engineio_sc.AsyncServer, virtual: bool
) -> None:
    """On asyncio a background task is a plain task of a native
    ``asyncio.TaskGroup`` that runs the handle's own coroutine (anyio's group
    would wrap it in a coroutine of its handle, with a cancel scope); on trio it
    is a task of the server's group. Either is named after its target."""
    seen: list[str] = []

    async def work() -> None:
        if virtual:  # trio
            seen.append(trio.lowlevel.current_task().name)
        else:
            task = asyncio.current_task()
            assert task is not None
            seen.append(task.get_name())
            seen.append(getattr(task.get_coro(), "__qualname__", ""))

    await eio.start_background_task(work)
    assert seen == (["work"] if virtual else ["work", "BackgroundTask._run"])


async def test_background_task_cancelled_before_its_first_step(
    eio: engineio_sc.AsyncServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A task cancelled before it begins never calls its target, and ends as
    cancelled as soon as it would have begun: its done callbacks run, whoever
    awaits it gets ``CancelledError``, and nothing is logged."""
    calls: list[str] = []
    ends: list[tuple[bool, bool]] = []

    async def target() -> None:
        calls.append("called")

    task = eio.start_background_task(target)
    task.add_done_callback(lambda t: ends.append((t.done(), t.cancelled())))
    assert task.cancel()
    assert not task.done()  # as an asyncio.Task: done at its first step
    assert not task.cancelled()
    assert task.cancel()  # not done yet: asked again
    with anyio.fail_after(1), pytest.raises(asyncio.CancelledError):
        await task
    assert task.done()
    assert task.cancelled()
    assert ends == [(True, True)]
    assert calls == []
    assert not task.cancel()
    with pytest.raises(asyncio.CancelledError):
        task.result()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_background_task_error_is_logged_once_and_kept(
    eio: engineio_sc.AsyncServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The task's error is logged once, by the server, and kept for whoever
    asks: asyncio has nothing to say about a task whose error nobody fetched."""
    error = ValueError("boom")

    async def fail() -> None:
        await anyio.lowlevel.checkpoint()
        raise error

    task = eio.start_background_task(fail)
    ends: list[BaseException | None] = []
    task.add_done_callback(lambda t: ends.append(t.exception()))
    with anyio.fail_after(1), pytest.raises(ValueError, match="boom") as raised:
        await task
    assert raised.value is error
    with pytest.raises(ValueError, match="boom") as again:
        await task
    assert again.value is error
    assert task.exception() is error
    assert ends == [error]
    del task, raised, again
    gc.collect()  # a task whose error was never fetched says so when it goes
    await anyio.lowlevel.checkpoint()
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged == ["background task fail failed"]


async def test_cancel_and_a_shielded_scope_in_a_background_task(
    eio: engineio_sc.AsyncServer, virtual: bool
) -> None:
    """On trio, :meth:`BackgroundTask.cancel` waits for a shielded scope to end,
    as anyio's cancellation does. On asyncio it is asyncio's, which anyio's
    shield does not hold off: the task ends at once."""
    release = anyio.Event()
    log: list[str] = []

    async def shielded() -> None:
        with anyio.CancelScope(shield=True):
            log.append("shielded")
            await release.wait()
            log.append("shielded part done")
        await anyio.lowlevel.checkpoint()
        log.append("not reached")

    task = eio.start_background_task(shielded)
    await anyio.wait_all_tasks_blocked()
    task.cancel()
    await anyio.wait_all_tasks_blocked()
    assert task.done() is not virtual
    release.set()
    with anyio.fail_after(1), pytest.raises(asyncio.CancelledError):
        await task
    assert log == (["shielded", "shielded part done"] if virtual else ["shielded"])


async def test_send_packet_takes_python_engineio_packets(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    """python-socketio sends with ``eio.send_packet(sid, engineio.packet.Packet(...))``."""
    from engineio import packet as eio_packet

    sid, _ = await client.handshake()
    for pkt in (
        eio_packet.Packet(eio_packet.MESSAGE, "text"),
        eio_packet.Packet(eio_packet.MESSAGE, b"\x01\x02"),
        eio_packet.Packet(eio_packet.MESSAGE, {"a": [1, 2]}),
        eio_packet.Packet(eio_packet.MESSAGE, 1.5),
        eio_packet.Packet(eio_packet.NOOP),
    ):
        await eio.send_packet(sid, pkt)
    await eio.send_packet(sid, engineio_sc.Packet(engineio_sc.PacketType.MESSAGE, "own"))
    response = await client.get(polling(sid))
    assert response.packets == ["4text", "bAQI=", '4{"a":[1,2]}', "41.5", "6", "4own"]
    with pytest.raises(ValueError, match="binary"):  # an object that only looks like a packet
        await eio.send_packet(sid, SimpleNamespace(packet_type=2, data=b"\x01"))


async def test_background_task_needs_running_server() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        engineio_sc.AsyncServer().start_background_task(anyio.sleep, 1)


async def test_first_request_hosts_the_group_without_lifespan() -> None:
    server = engineio_sc.AsyncServer()
    async with anyio.create_task_group() as host:
        client = ASGIClient(engineio_sc.ASGIApp(server), host=host)
        assert not server.running
        first = await client.get("EIO=4&transport=polling")
        assert first.status == 200
        assert server.running
        sid: str = (await client.handshake())[0]
        await server.shutdown()
    assert not server.running
    assert sid not in session_ids(server)


async def test_lifespan_opens_and_closes_the_server() -> None:
    server = engineio_sc.AsyncServer()
    events: list[str] = []

    async def other(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            events.append(message["type"])
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    app = engineio_sc.ASGIApp(
        server,
        other,
        on_startup=lambda: events.append("hook up"),
        on_shutdown=lambda: events.append("hook down"),
    )
    to_app = anyio.create_memory_object_stream[dict[str, Any]](5)
    from_app = anyio.create_memory_object_stream[dict[str, Any]](5)
    async with to_app[0], to_app[1], from_app[0], from_app[1], anyio.create_task_group() as tg:
        tg.start_soon(app, {"type": "lifespan"}, to_app[1].receive, from_app[0].send)
        await to_app[0].send({"type": "lifespan.startup"})
        assert (await from_app[1].receive())["type"] == "lifespan.startup.complete"
        assert server.running
        await to_app[0].send({"type": "lifespan.shutdown"})
        assert (await from_app[1].receive())["type"] == "lifespan.shutdown.complete"
    assert not server.running
    assert events == ["lifespan.startup", "hook up", "hook down", "lifespan.shutdown"]


async def test_concurrent_post_is_rejected(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    recorder = Recorder(eio)
    sid, _ = await client.handshake()
    query = polling(sid)
    slow = HTTPExchange(body_sent=anyio.Event())
    async with pending(lambda: client.post(query, "4a\x1e4b", chunks=2, exchange=slow)):
        second = await client.post(query, "4c")
        assert (second.status, second.body) == (400, b"")
        assert slow.body_sent is not None
        slow.body_sent.set()
    await check_session_ended(recorder, client, sid, "transport error")


async def test_upgrade_timeout_keeps_polling() -> None:
    server = engineio_sc.AsyncServer(upgrade_timeout=0.3, ping_interval=5, ping_timeout=5)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, _ = await client.handshake()
        async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
            start = anyio.current_time()
            assert await ws.receive() is None
            assert anyio.current_time() - start >= 0.3
        assert server.transport(sid) == "polling"
        await server.send(sid, "still here")
        response = await client.get(polling(sid))
        assert response.packets == ["4still here"]


async def test_disconnect_all_with_no_sessions(
    eio: engineio_sc.AsyncServer, client: ASGIClient
) -> None:
    """With no session open, disconnecting every session changes nothing: the
    server keeps running and opens the next session."""
    await eio.disconnect()
    assert eio.running
    assert eio.statistics().sessions_closed == 0
    sid, _ = await client.handshake()
    await eio.send(sid, "still serving")
    assert (await client.get(polling(sid))).packets == ["4still serving"]


def _running_tasks() -> int:
    try:
        import trio

        root = trio.lowlevel.current_root_task()
    except RuntimeError:
        import asyncio

        return len(asyncio.all_tasks())

    def count(task: Any) -> int:
        return 1 + sum(count(t) for nursery in task.child_nurseries for t in nursery.child_tasks)

    assert root is not None
    return count(root)


async def test_no_task_left_after_shutdown() -> None:
    baseline = _running_tasks()
    server = engineio_sc.AsyncServer(ping_interval=PING, ping_timeout=TIMEOUT, close_timeout=0.3)
    started = anyio.Event()

    @server.on("message")
    async def message(sid: str, data: str | bytes) -> None:
        started.set()
        await anyio.sleep_forever()  # a handler still running at shutdown

    async with anyio.create_task_group() as host:
        client = ASGIClient(engineio_sc.ASGIApp(server), host=host)
        async with server:
            sid, _ = await client.handshake()
            pending = [await client.handshake() for _ in range(3)]
            host.start_soon(client.get, polling(pending[0][0]))
            await client.post(polling(sid), "4block")
            await started.wait()
            server.start_background_task(anyio.sleep_forever)
            async with client.websocket("EIO=4&transport=websocket") as ws:
                await ws.receive()
                with anyio.fail_after(5):
                    await server.shutdown()
                assert await ws.receive() is None
        assert session_ids(server) == set()
    assert _running_tasks() == baseline


async def test_shutdown_cancels_background_tasks_begun_or_not() -> None:
    """Tasks started just before the shutdown (not begun yet), one waiting, and
    one started by a task as it is cancelled: the shutdown ends each of them as
    cancelled, runs their done callbacks, and leaves no task behind."""
    baseline = _running_tasks()
    server = engineio_sc.AsyncServer(close_timeout=0.1)
    ends: list[tuple[str, bool]] = []
    late: list[engineio_sc.BackgroundTask] = []

    async def wait_then_start_another() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            late.append(server.start_background_task(anyio.sleep_forever))

    def track(task: engineio_sc.BackgroundTask) -> engineio_sc.BackgroundTask:
        task.add_done_callback(lambda t: ends.append((t.get_name(), t.cancelled())))
        return task

    async with server:
        waiting = track(server.start_background_task(wait_then_start_another))
        await anyio.wait_all_tasks_blocked()
        fresh = [track(server.start_background_task(anyio.sleep_forever)) for _ in range(3)]
        with anyio.fail_after(5):
            await server.shutdown()
        assert not server.running
        for task in (waiting, *fresh, *late):
            assert task.done()
            assert task.cancelled()
    assert len(late) == 1
    assert sorted(ends) == sorted(
        [("wait_then_start_another", True)] + [("sleep_forever", True)] * 3
    )
    assert _running_tasks() == baseline


async def test_background_task_started_as_the_server_is_cancelled() -> None:
    """A task started in the moment the server's group is cancelled from
    outside (its tasks have been told, but have not run since) begins, is
    cancelled, and reports it; none is left behind."""
    baseline = _running_tasks()
    server = engineio_sc.AsyncServer(close_timeout=0.1)
    ran: list[str] = []
    ends: list[bool] = []

    async def target() -> None:
        ran.append("began")
        await anyio.sleep_forever()

    with anyio.CancelScope() as scope:
        async with server:
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
            task = server.start_background_task(target)
            task.add_done_callback(lambda t: ends.append(t.cancelled()))
            await anyio.sleep_forever()
    assert task.done()
    assert task.cancelled()
    assert ends == [True]
    assert ran == ["began"]
    assert _running_tasks() == baseline


async def test_shutdown_with_background_tasks_in_shielded_scopes(virtual: bool) -> None:
    """A task that shields its clean-up after the cancellation finishes it on both
    backends, and the shutdown waits for it. A task already waiting inside a
    shielded scope finishes that part first on trio; on asyncio the shutdown's
    cancellation is asyncio's, which the shield does not hold off."""
    baseline = _running_tasks()
    server = engineio_sc.AsyncServer(close_timeout=0.1)
    release = anyio.Event()
    log: list[str] = []

    async def inside_a_shield() -> None:
        with anyio.CancelScope(shield=True):
            await release.wait()
            log.append("shielded part done")
        await anyio.lowlevel.checkpoint()
        log.append("not reached")

    async def shielded_clean_up() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await release.wait()
                log.append("clean-up done")

    async with server:
        inside = server.start_background_task(inside_a_shield)
        clean_up = server.start_background_task(shielded_clean_up)
        await anyio.wait_all_tasks_blocked()
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.shutdown)
            await anyio.wait_all_tasks_blocked()
            try:
                assert server.running  # the shutdown waits for the shielded parts
                assert inside.done() is not virtual
                assert not clean_up.done()
            finally:
                release.set()
        assert not server.running
        assert inside.cancelled()
        assert clean_up.cancelled()
    assert sorted(log) == (
        ["clean-up done", "shielded part done"] if virtual else ["clean-up done"]
    )
    assert _running_tasks() == baseline


async def test_requests_after_shutdown_are_refused_not_restarting() -> None:
    server = engineio_sc.AsyncServer(close_timeout=0.2)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, _ = await client.handshake()
        await server.shutdown()
        late = await client.get("EIO=4&transport=polling")
        assert (late.status, late.json()["message"]) == (503, "Server shutting down")
        assert (await client.get(polling(sid))).json()["code"] == 1
        assert not server.running
    async with server:  # entering again starts afresh
        assert (await client.get("EIO=4&transport=polling")).status == 200


async def test_ping_interval_with_grace(virtual: bool) -> None:
    server = engineio_sc.AsyncServer(ping_interval=(0.2, 0.3), ping_timeout=0.1, close_timeout=0.2)
    client = ASGIClient(engineio_sc.ASGIApp(server))
    async with server:
        sid, info = await client.handshake()
        assert info["pingInterval"] == 500  # interval + grace, in milliseconds, not truncated
        start = anyio.current_time()
        assert (await client.get(polling(sid))).packets == ["2"]
        assert close_to(anyio.current_time() - start, 0.2, virtual)  # pings every interval
        await client.post(polling(sid), "1")
