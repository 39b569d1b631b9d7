"""The Socket.IO server on the wire, byte for byte: a raw Engine.IO WebSocket (or
polling) client writes the Socket.IO packets by hand and reads the server's.

The server runs in process through its ASGI app, on trio's virtual clock and on
asyncio; the table of /work/shared/notes/socketio-protocol.md (what the
reference Node server does) is the specification. Messages are written as the
wire carries them: ``42["ev",1]`` is an Engine.IO message (``4``) holding a
Socket.IO event (``2``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from engineio_sc import socketio
from engineio_sc.exceptions import QueueFullError
from engineio_sc.socketio import _clients, _server
from engineio_sc.socketio.exceptions import ConnectionRefusedError, TimeoutError

from ..asgi_client import ASGIClient, FakeWebSocket, polling

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]

BIN = b"\x07\x08\x09"
WEBSOCKET = "EIO=4&transport=websocket"


@pytest.fixture
def virtual(anyio_backend: Any) -> bool:
    """Whether the test runs on trio's MockClock (time is exact there)."""
    return isinstance(anyio_backend, tuple)


def close_to(actual: float, expected: float, virtual: bool) -> bool:
    return abs(actual - expected) < (1e-6 if virtual else 0.1)


@asynccontextmanager
async def serving(
    sio: socketio.AsyncServer, *, fail_after: float = 60
) -> AsyncIterator[ASGIClient]:
    """``sio``, running, and a client of its ASGI app; the body must be done
    within ``fail_after`` seconds."""
    with anyio.fail_after(fail_after):
        async with sio:
            yield ASGIClient(socketio.ASGIApp(sio), path="/socket.io/")


def server(**options: Any) -> socketio.AsyncServer:
    """A server that pings once an hour (out of the way), waits 0.2 s for a
    closing session's client, and acks ``echo`` in ``/probe`` with its arguments
    (see :meth:`Raw.still_open`)."""
    sio = socketio.AsyncServer(**{"ping_interval": 3600, "close_timeout": 0.2, **options})
    sio.on("echo", lambda sid, *args: args, namespace="/probe")
    return sio


def connect_packet(namespace: str = "/", auth: Any = None) -> str:
    head = "40" if namespace == "/" else f"40{namespace},"
    return head if auth is None else head + json.dumps(auth, separators=(",", ":"))


class Raw:
    """A raw Engine.IO WebSocket: what is sent and received are whole Engine.IO
    messages. It answers the server's pings by itself."""

    def __init__(self, ws: FakeWebSocket, eio_sid: str) -> None:
        self.ws = ws
        self.eio_sid = eio_sid
        self._probe_joined = False
        self._probe_id = 1000

    async def send(self, *messages: str | bytes) -> None:
        for message in messages:
            await self.ws.send(message)

    async def receive(self) -> str | bytes | None:
        """The next message but pings, or ``None`` once the server closed."""
        while True:
            message = await self.ws.receive()
            if message != "2":
                return message
            await self.ws.send("3")

    async def connect(self, namespace: str = "/", auth: Any = None) -> str:
        """Join ``namespace``; the sid of its ``CONNECT`` answer, which must come first."""
        await self.send(connect_packet(namespace, auth))
        return self.answer(await self.receive(), namespace)

    @staticmethod
    def answer(message: str | bytes | None, namespace: str = "/") -> str:
        """The sid in a ``CONNECT`` answer for ``namespace``; fails unless it is one."""
        prefix = "40" if namespace == "/" else f"40{namespace},"
        assert isinstance(message, str), message
        assert message.startswith(prefix), message
        match = re.fullmatch(r'\{"sid":"([A-Za-z0-9_-]{20})"\}', message[len(prefix) :])
        assert match, message
        return match[1]

    async def closed(self) -> None:
        """The server closes the connection now, sending nothing more."""
        assert await self.receive() is None
        assert self.ws.close_code == 1000

    async def still_open(self) -> None:
        """The connection is open: an event in ``/probe`` gets its ack."""
        if not self._probe_joined:
            await self.connect("/probe")
            self._probe_joined = True
        self._probe_id += 1
        await self.send(f'42/probe,{self._probe_id}["echo","{self._probe_id}"]')
        assert await self.receive() == f'43/probe,{self._probe_id}["{self._probe_id}"]'


@asynccontextmanager
async def raw(client: ASGIClient) -> AsyncIterator[Raw]:
    """A WebSocket session, opened."""
    async with client.websocket(WEBSOCKET) as ws:
        yield Raw(ws, await ws.opened())


class App:
    """The reference server's configuration for conformance work: ``/`` says
    hello on connect, ``/custom`` emits ``auth`` with the handshake's auth,
    ``/deny`` refuses with data; events ``ev`` (acked with ``"acked"`` and its
    data) and ``bin`` (acked with its buffer). What the handlers saw is in ``seen``."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self.seen: list[tuple[Any, ...]] = []
        self.disconnected = anyio.Event()
        sio.on("connect", self.connect)
        sio.on("ev", self.ev)
        sio.on("bin", self.bin)
        sio.on("disconnect", self.disconnect)
        sio.on("connect", self.connect_custom, namespace="/custom")
        sio.on("connect", self.deny, namespace="/deny")

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        self.seen.append(("connect", sid, auth))
        await self.sio.emit("hello", "world", to=sid)

    async def connect_custom(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        self.seen.append(("connect /custom", sid, auth))
        await self.sio.emit("auth", auth, to=sid, namespace="/custom")

    def deny(self, sid: str, environ: dict[str, Any]) -> None:
        raise ConnectionRefusedError("not authorized", {"code": 42})

    async def ev(self, sid: str, *args: Any) -> tuple[Any, ...]:
        self.seen.append(("ev", sid, *args))
        return ("acked", *args)

    def bin(self, sid: str, data: bytes) -> bytes:
        self.seen.append(("bin", sid, data))
        return data

    def disconnect(self, sid: str, reason: str) -> None:
        self.seen.append(("disconnect", sid, reason))
        self.disconnected.set()


@asynccontextmanager
async def app_client(**options: Any) -> AsyncIterator[tuple[App, Raw]]:
    """:class:`App` on a server made with ``options``, and a raw client of it."""
    sio = server(**options)
    app = App(sio)
    async with serving(sio) as client, raw(client) as ws:
        yield app, ws


def table_is_empty(sio: socketio.AsyncServer) -> bool:
    """The server remembers no client: no session, socket, joining socket or room member."""
    tables = sio.clients
    members = [
        sid for rooms in sio.manager.rooms.values() for room in rooms.values() for sid in room
    ]
    return not (tables.clients or tables.sockets or tables.joining or members)


# -- the table, row by row --------------------------------------------------------------


async def test_connect_answer_comes_before_what_the_handler_emitted() -> None:  # 40
    async with app_client() as (app, ws):
        await ws.send("40")
        sid = ws.answer(await ws.receive())
        assert await ws.receive() == '42["hello","world"]'
        assert app.seen == [("connect", sid, None)]
        assert app.sio.manager.is_connected(sid, "/")


async def test_connect_with_auth_reaches_the_handler() -> None:  # 40/custom,{"token":"abc"}
    async with app_client() as (app, ws):
        await ws.send('40/custom,{"token":"abc"}')
        sid = ws.answer(await ws.receive(), "/custom")
        assert await ws.receive() == '42/custom,["auth",{"token":"abc"}]'
        assert app.seen == [("connect /custom", sid, {"token": "abc"})]


async def test_unknown_namespace_is_refused_and_the_connection_stays() -> None:  # 40/random
    async with app_client() as (_app, ws):
        await ws.send("40/random")
        assert await ws.receive() == '44/random,{"message":"Invalid namespace"}'
        await ws.send("40/random,")  # it may ask again
        assert await ws.receive() == '44/random,{"message":"Invalid namespace"}'
        await ws.still_open()
        await ws.connect("/")


async def test_refusal_with_data() -> None:  # 40/deny,
    async with app_client() as (app, ws):
        await ws.send("40/deny,")
        assert await ws.receive() == '44/deny,{"message":"not authorized","data":{"code":42}}'
        await ws.still_open()
        assert [socket.namespace for socket in app.sio.clients.sockets.values()] == ["/probe"]
        assert app.sio.manager.rooms["/deny"] == {}


@pytest.mark.parametrize(
    ("refuse", "payload"),
    [
        (ConnectionRefusedError(), '{"message":"Connection rejected by server"}'),
        (ConnectionRefusedError("no"), '{"message":"no"}'),
        (ConnectionRefusedError(7, [1]), '{"message":"7","data":[1]}'),
        (ConnectionRefusedError("no", 1, 2), '{"message":"no","data":[1,2]}'),
        (False, '{"message":"Connection rejected by server"}'),
        (RuntimeError("a bug"), '{"message":"Connection rejected by server"}'),
    ],
    ids=["no-args", "one", "two", "three", "false", "error"],
)
async def test_refusals(refuse: Exception | bool, payload: str) -> None:
    sio = server()

    def connect(sid: str, environ: dict[str, Any]) -> bool:
        if isinstance(refuse, Exception):
            raise refuse
        return refuse

    sio.on("connect", connect)
    async with serving(sio) as client, raw(client) as ws:
        await ws.send("40")
        assert await ws.receive() == "44" + payload
        await ws.still_open()


async def test_connect_auth_that_is_not_an_object_closes() -> None:  # 40"str"
    async with app_client() as (app, ws):
        await ws.send('40"str"')
        await ws.closed()
        assert app.seen == []


async def test_no_connect_within_connect_timeout_closes(virtual: bool) -> None:
    async with app_client(connect_timeout=0.5) as (app, ws):
        start = anyio.current_time()
        await ws.send("40/random")  # refused: it joined nothing
        assert await ws.receive() == '44/random,{"message":"Invalid namespace"}'
        await ws.closed()
        assert close_to(anyio.current_time() - start, 0.5, virtual)
        await anyio.wait_all_tasks_blocked()
        assert table_is_empty(app.sio)


async def test_a_client_that_joins_in_time_is_not_closed(virtual: bool) -> None:
    async with app_client(connect_timeout=0.5) as (_app, ws):
        await anyio.sleep(0.4)  # time passes: 0.1 s left
        await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await anyio.sleep(0.2)  # past the deadline
        await ws.send('421["ev",1]')
        assert await ws.receive() == '431["acked",1]'


async def test_connect_timeouts_of_several_clients(virtual: bool) -> None:
    sio = server(connect_timeout=0.5)
    App(sio)
    async with serving(sio) as client, raw(client) as first:
        start = anyio.current_time()
        await anyio.sleep(0.2)
        async with raw(client) as second, raw(client) as third:
            await second.connect()
            assert await second.receive() == '42["hello","world"]'
            await first.closed()
            assert close_to(anyio.current_time() - start, 0.5, virtual)
            await third.closed()
            assert close_to(anyio.current_time() - start, 0.7, virtual)
            await second.still_open()


@pytest.mark.parametrize(
    "packet", ['2["ev",1]', '21["ev",1]', '31["x"]', '51-["ev",{"_placeholder":true,"num":0}]']
)
async def test_an_event_or_ack_before_any_connect_closes(packet: str) -> None:
    async with app_client() as (app, ws):
        await ws.send("4" + packet)
        if packet.startswith("5"):
            await ws.send(BIN)
        await ws.closed()
        assert app.seen == []


@pytest.mark.parametrize("packet", ['2/custom,["ev",1]', '3/custom,1["x"]'])
async def test_an_event_or_ack_for_another_namespace_closes(packet: str) -> None:
    async with app_client() as (app, ws):
        sid = await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await ws.send("4" + packet)
        await ws.closed()
        await app.disconnected.wait()
        assert app.seen == [("connect", sid, None), ("disconnect", sid, "server disconnect")]


async def test_after_leaving_an_event_is_ignored_and_the_connection_stays() -> None:  # 41, 42
    async with app_client() as (app, ws):
        sid = await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await ws.send("41", '42["ev",1]', '421["ev",2]')
        await ws.still_open()
        assert app.seen == [("connect", sid, None), ("disconnect", sid, "client disconnect")]
        again = await ws.connect("/")  # it may join again, with a new sid
        assert again != sid
        assert await ws.receive() == '42["hello","world"]'
        await ws.send('423["ev",3]')
        assert await ws.receive() == '433["acked",3]'


async def test_event_acked() -> None:  # 427["ev",{"a":1}]
    async with app_client() as (app, ws):
        sid = await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await ws.send('427["ev",{"a":1}]')
        assert await ws.receive() == '437["acked",{"a":1}]'
        await ws.send('42["ev",{"a":2}]')  # no ack asked: none sent
        await ws.send('420["ev"]')
        assert await ws.receive() == '430["acked"]'
        await anyio.wait_all_tasks_blocked()  # the handlers run concurrently
        assert app.seen[1] == ("ev", sid, {"a": 1})
        assert sorted(app.seen[2:], key=len) == [("ev", sid), ("ev", sid, {"a": 2})]


async def test_binary_event_acked_with_its_buffer() -> None:  # 451-9[...] + 07 08 09
    async with app_client() as (app, ws):
        sid = await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await ws.send('451-9["bin",{"_placeholder":true,"num":0}]', BIN)
        assert await ws.receive() == '461-9[{"_placeholder":true,"num":0}]'
        assert await ws.receive() == BIN
        assert app.seen[1:] == [("bin", sid, BIN)]


async def test_ack_for_an_id_never_used_is_ignored() -> None:  # 4399["x"]
    async with app_client() as (_app, ws):
        await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await ws.send('4399["x"]', '430["y"]')
        await ws.still_open()


@pytest.mark.parametrize(
    "message",
    [
        '42abc["ev",1]',  # a bad ack id
        "42{}",  # a payload that is not an array
        "4abc",  # an unknown type
        '42["disconnect"]',  # a reserved name
        "41{}",  # a DISCONNECT with a payload
        '44{"message":"x"}',  # a CONNECT_ERROR from a client
        "40",  # a second CONNECT
        "4" + "2" + "1" * 5000 + '["ev",1]',  # an ack id too long to read
        "42" + "[" * 100_000,  # JSON nested too deep
        b"\x00",  # an attachment no packet announced
    ],
    ids=[
        "bad-ack-id",
        "not-array",
        "unknown-type",
        "reserved",
        "disconnect-payload",
        "connect-error",
        "second-connect",
        "long-ack-id",
        "deep",
        "attachment",
    ],
)
async def test_protocol_violations_close(message: str | bytes) -> None:
    async with app_client() as (app, ws):
        sid = await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await ws.send(message)
        await ws.closed()
        await app.disconnected.wait()
        assert app.seen == [("connect", sid, None), ("disconnect", sid, "server disconnect")]
        assert table_is_empty(app.sio)


async def test_a_text_message_inside_a_binary_packet_closes() -> None:
    async with app_client() as (_app, ws):
        await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await ws.send('452-["bin",{"_placeholder":true,"num":0}]', BIN, '42["ev"]')
        await ws.closed()


async def test_polling_carries_the_same_packets() -> None:
    sio = server()
    app = App(sio)
    async with serving(sio) as client:
        eio_sid, _ = await client.handshake("EIO=4&transport=polling")

        async def poll(count: int) -> list[str]:
            packets: list[str] = []
            while len(packets) < count:
                packets += (await client.get(polling(eio_sid))).packets
            return packets

        assert (await client.post(polling(eio_sid), "40")).text == "ok"
        answer, hello = await poll(2)
        sid = Raw.answer(answer)
        assert hello == '42["hello","world"]'
        binary_event = '451-9["bin",{"_placeholder":true,"num":0}]\x1ebBwgJ'
        assert (await client.post(polling(eio_sid), binary_event)).text == "ok"
        assert await poll(2) == ['461-9[{"_placeholder":true,"num":0}]', "bBwgJ"]
        assert app.seen == [("connect", sid, None), ("bin", sid, BIN)]
        assert (await client.post(polling(eio_sid), "42{}")).text == "ok"
        await app.disconnected.wait()
        assert app.seen[-1] == ("disconnect", sid, "server disconnect")


# -- disconnects ----------------------------------------------------------------------------


async def test_server_disconnect_sends_disconnect_and_tells_the_handler() -> None:
    async with app_client() as (app, ws):
        sid = await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        custom = await ws.connect("/custom", {})
        assert await ws.receive() == '42/custom,["auth",{}]'
        await app.sio.disconnect(sid)
        assert await ws.receive() == "41"
        assert app.seen[-1] == ("disconnect", sid, "server disconnect")
        await app.sio.disconnect(custom, namespace="/custom")
        assert await ws.receive() == "41/custom,"
        await app.sio.disconnect(sid)  # once only
        await app.sio.disconnect("no-such-sid")
        await ws.send('42["ev",1]', '42/custom,["ev",1]')  # on the wire as it left: ignored
        await ws.still_open()  # the Engine.IO connection stays
        assert [event for event in app.seen if event[0] != "connect /custom"] == [
            ("connect", sid, None),
            ("disconnect", sid, "server disconnect"),
        ]
        assert not app.sio.manager.is_connected(sid, "/")
        assert app.sio.rooms(sid) == []


async def test_client_disconnect_tells_the_handler() -> None:
    async with app_client() as (app, ws):
        sid = await ws.connect("/")
        assert await ws.receive() == '42["hello","world"]'
        await app.sio.enter_room(sid, "room")
        await ws.send("41")
        await app.disconnected.wait()
        assert app.seen[-1] == ("disconnect", sid, "client disconnect")
        assert app.sio.manager.rooms["/"] == {}
        await ws.still_open()


@pytest.mark.parametrize(
    ("end", "reason"),
    [("websocket", "transport close"), ("close-packet", "client disconnect")],
)
async def test_transport_close_tells_the_handler_the_engines_reason(end: str, reason: str) -> None:
    sio = server()
    app = App(sio)
    async with serving(sio) as client:
        async with raw(client) as ws:
            sid = await ws.connect("/")
            assert await ws.receive() == '42["hello","world"]'
            if end == "close-packet":
                await ws.send("1")
        await app.disconnected.wait()
        assert app.seen[-1] == ("disconnect", sid, reason)
        assert table_is_empty(sio)


async def test_ping_timeout_tells_the_handler() -> None:
    sio = server(ping_interval=0.2, ping_timeout=0.1)
    app = App(sio)
    async with serving(sio) as client, client.websocket(WEBSOCKET) as ws:
        await ws.opened()
        await ws.send("40")
        sid = Raw.answer(await ws.receive())
        assert await ws.receive() == '42["hello","world"]'
        assert await ws.receive() == "2"  # not answered
        await app.disconnected.wait()
        assert app.seen[-1] == ("disconnect", sid, "ping timeout")


async def test_always_connect_refusal_is_a_bare_disconnect() -> None:
    sio = server(always_connect=True)

    async def connect(sid: str, environ: dict[str, Any]) -> bool:
        await sio.emit("hi", to=sid)
        return False

    sio.on("connect", connect)
    async with serving(sio) as client, raw(client) as ws:
        await ws.connect("/")  # the answer first
        assert await ws.receive() == '42["hi"]'
        # A DISCONNECT carries no payload: the official client's parser refuses
        # one and drops the whole connection ("parse error").
        assert await ws.receive() == "41"
        await ws.still_open()
        assert next(iter(sio.clients.sockets.values())).namespace == "/probe"


# -- handlers -----------------------------------------------------------------------------------


async def test_handlers_one_at_a_time_in_order_without_async_handlers() -> None:
    sio = server(async_handlers=False)
    running: list[int] = []
    most = 0
    order: list[int] = []
    release = anyio.Event()

    async def ev(sid: str, n: int) -> int:
        nonlocal most
        running.append(n)
        most = max(most, len(running))
        if n == 0:
            await release.wait()
        await anyio.lowlevel.checkpoint()
        order.append(n)
        running.remove(n)
        return n

    sio.on("ev", ev)
    async with serving(sio) as client, raw(client) as ws:
        await ws.connect("/")
        await ws.send(*[f'42{n}["ev",{n}]' for n in range(5)])
        await anyio.wait_all_tasks_blocked()
        assert running == [0]
        release.set()
        assert [await ws.receive() for _ in range(5)] == [f"43{n}[{n}]" for n in range(5)]
        assert order == [0, 1, 2, 3, 4]
        assert most == 1


async def test_handlers_run_concurrently_with_async_handlers() -> None:
    sio = server()
    answers: list[Any] = []

    async def ask(sid: str) -> Any:
        answer = await sio.call("question", "?", to=sid, timeout=5)  # answered by the client
        answers.append(answer)
        return answer

    sio.on("ask", ask)
    async with serving(sio) as client, raw(client) as ws:
        await ws.connect("/")
        await ws.send('425["ask"]')
        assert await ws.receive() == '420["question","?"]'
        await ws.send('426["ask"]')  # a second one runs while the first waits
        assert await ws.receive() == '421["question","?"]'
        await ws.send('431["second"]')
        assert await ws.receive() == '436["second"]'
        await ws.send('430["first",2]')
        assert await ws.receive() == '435["first",2]'
        assert answers == ["second", ("first", 2)]


async def test_call_from_a_handler_without_async_handlers_gets_its_ack() -> None:
    # Handlers run one at a time, in order, but acks are taken as they come: a
    # handler waiting for its client's answer gets it, and the next event then runs.
    sio = server(async_handlers=False)
    answers: list[object] = []

    async def ask(sid: str) -> None:
        answers.append(await sio.call("question", to=sid, timeout=60))

    sio.on("ask", ask)
    sio.on("ev", lambda sid: len(answers))
    async with serving(sio) as client, raw(client) as ws:
        await ws.connect("/")
        await ws.send('42["ask"]', '421["ev"]')
        assert await ws.receive() == '420["question"]'
        await ws.send('430["answer"]')
        assert await ws.receive() == "431[1]"  # ev ran after ask had its answer
        assert answers == ["answer"]


async def test_handlers_waiting_for_their_client_do_not_hold_up_its_acks() -> None:
    # Every worker of the client is busy in call(); more events queue behind them,
    # and the client's answers still reach the calls.
    sio = server()
    bound = _server.HANDLERS_PER_CLIENT
    answers: list[object] = []

    async def ask(sid: str) -> None:
        answers.append(await sio.call("question", to=sid, timeout=60))

    sio.on("ask", ask)
    sio.on("ev", lambda sid: len(answers))
    async with serving(sio) as client, raw(client) as ws:
        await ws.connect("/")
        await ws.send(*['42["ask"]'] * bound, '421["ev"]')
        questions = {await ws.receive() for _ in range(bound)}
        assert questions == {f'42{n}["question"]' for n in range(bound)}
        await ws.send(*[f"43{n}[{n}]" for n in range(bound)])
        reply = await ws.receive()  # ev ran once a worker was free
        assert reply in {f"431[{n}]" for n in range(1, bound + 1)}
        await anyio.wait_all_tasks_blocked()
        assert sorted(map(str, answers)) == sorted(map(str, range(bound)))


async def test_handlers_per_client_are_bounded() -> None:
    sio = server()
    bound = _server.HANDLERS_PER_CLIENT
    running: set[int] = set()
    gates = {n: anyio.Event() for n in [*range(bound + 2), 99]}

    async def ev(sid: str, n: int) -> int:
        running.add(n)
        await gates[n].wait()
        running.remove(n)
        return n

    sio.on("ev", ev)
    async with serving(sio) as client, raw(client) as ws, raw(client) as other:
        await ws.connect("/")
        await other.connect("/")
        await ws.send(*[f'42{n}["ev",{n}]' for n in range(bound + 2)])
        await anyio.wait_all_tasks_blocked()
        assert running == set(range(bound))
        await other.send('427["ev",99]')  # another client is not held up
        await anyio.wait_all_tasks_blocked()
        assert 99 in running
        gates[3].set()
        assert await ws.receive() == "433[3]"
        await anyio.wait_all_tasks_blocked()
        assert running == {*range(bound + 1), 99} - {3}
        for gate in gates.values():
            gate.set()
        received = {await ws.receive() for _ in range(bound + 1)}
        assert received == {f"43{n}[{n}]" for n in range(bound + 2) if n != 3}
        assert await other.receive() == "437[99]"
        await anyio.wait_all_tasks_blocked()
        assert running == set()


# -- emits -----------------------------------------------------------------------------------


async def test_broadcast_to_a_room_reaches_each_member_once_but_skip_sid() -> None:
    sio = server()
    async with (
        serving(sio) as client,
        raw(client) as a,
        raw(client) as b,
        raw(client) as c,
        raw(client) as d,
    ):
        sids = [await ws.connect("/") for ws in (a, b, c, d)]
        for sid in sids[:3]:
            await sio.enter_room(sid, "room")
        await sio.enter_room(sids[0], "other")
        await sio.enter_room(sids[3], "other")
        await sio.emit("news", {"n": 1}, room="room", skip_sid=sids[1])
        await sio.emit("news", [BIN], to=["room", "other"], skip_sid=[sids[2]])
        await sio.emit("all")
        expected: dict[Raw, list[str | bytes]] = {
            a: ['42["news",{"n":1}]', '451-["news",[{"_placeholder":true,"num":0}]]', BIN],
            b: ['451-["news",[{"_placeholder":true,"num":0}]]', BIN],
            c: ['42["news",{"n":1}]'],
            d: ['451-["news",[{"_placeholder":true,"num":0}]]', BIN],
        }
        for ws, messages in expected.items():
            assert [await ws.receive() for _ in messages] == messages
            assert await ws.receive() == '42["all"]'  # and nothing else before it


async def test_broadcast_skips_a_client_whose_queue_is_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="engineio_sc.socketio")
    sio = server(queue_full="raise", max_queue_size=2)
    async with serving(sio) as client, raw(client) as fast:
        slow_sid, _ = await client.handshake("EIO=4&transport=polling")
        assert (await client.post(polling(slow_sid), "40")).text == "ok"
        [answer] = (await client.get(polling(slow_sid))).packets
        slow = Raw.answer(answer)
        fast_sid = await fast.connect("/")
        for sid in (slow, fast_sid):
            await sio.enter_room(sid, "room")
        await sio.emit("one", to=slow)
        await sio.emit("two", to=slow)  # its queue is full now
        await sio.emit("news", room="room")
        assert await fast.receive() == '42["news"]'
        assert f"{slow_sid}: its queue is full, a broadcast skips it" in caplog.text
        assert (await client.get(polling(slow_sid))).packets == ['42["one"]', '42["two"]']
        await sio.emit("later", room="room")
        assert (await client.get(polling(slow_sid))).packets == ['42["later"]']
        assert await fast.receive() == '42["later"]'
        await sio.leave_room(fast_sid, "room")
        await sio.emit("one", to=slow)
        await sio.emit("two", to=slow)
        await sio.emit("news", room="room")  # a room of one is still a room: skipped
        assert caplog.text.count("a broadcast skips it") == 2
        with pytest.raises(QueueFullError):
            await sio.emit("three", to=slow)  # to the client itself: raised


async def test_emit_with_a_callback_gets_each_recipients_ack() -> None:
    sio = server()
    acks: list[tuple[Any, ...]] = []
    async with serving(sio) as client, raw(client) as a, raw(client) as b:
        await a.connect("/")
        await b.connect("/")
        await sio.emit("q", 1, callback=lambda *args: acks.append(args))
        assert await a.receive() == '420["q",1]'
        assert await b.receive() == '420["q",1]'  # each client counts its own ids
        await a.send('430["a",1]')
        await b.send("430[]")
        await a.still_open()
        await b.still_open()
        assert sorted(acks) == [(), ("a", 1)]


# -- call() -----------------------------------------------------------------------------------


async def test_call_returns_the_ack() -> None:
    sio = server()
    async with serving(sio) as client, raw(client) as ws:
        sid = await ws.connect("/")
        async with anyio.create_task_group() as tg:
            results: list[Any] = []

            async def call(event: str, data: Any = None) -> None:
                results.append(await sio.call(event, data, to=sid))

            tg.start_soon(call, "one")
            assert await ws.receive() == '420["one"]'
            await ws.send('430["x"]')
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(call, "many", (1, BIN))
            assert await ws.receive() == '451-1["many",1,{"_placeholder":true,"num":0}]'
            assert await ws.receive() == BIN
            await ws.send('461-1[{"_placeholder":true,"num":0},2]', b"back")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(call, "none")
            assert await ws.receive() == '422["none"]'
            await ws.send("432[]")
        assert results == ["x", (b"back", 2), None]
        with pytest.raises(ValueError, match="Cannot use call"):
            await sio.call("broadcast")


async def test_call_times_out(virtual: bool) -> None:
    sio = server()
    async with serving(sio) as client, raw(client) as ws:
        sid = await ws.connect("/")
        start = anyio.current_time()
        with pytest.raises(TimeoutError, match="no answer") as caught:
            await sio.call("q", to=sid, timeout=0.5)
        assert isinstance(caught.value, socketio.exceptions.TimeoutError)
        assert close_to(anyio.current_time() - start, 0.5, virtual)
        assert sio.clients.clients[ws.eio_sid].callbacks == {}  # no longer awaited
        assert await ws.receive() == '420["q"]'
        await ws.send('430["too late"]')  # ignored
        await ws.still_open()


async def test_call_ends_when_the_client_goes(virtual: bool) -> None:
    sio = server()
    async with serving(sio) as client:
        outcome: list[BaseException] = []
        async with anyio.create_task_group() as tg, raw(client) as ws:
            sid = await ws.connect("/")

            async def call() -> None:
                with pytest.raises(TimeoutError, match="the client went away") as caught:
                    await sio.call("q", to=sid, timeout=3600)
                outcome.append(caught.value)

            tg.start_soon(call)
            assert await ws.receive() == '420["q"]'
            start = anyio.current_time()
        assert len(outcome) == 1
        assert close_to(anyio.current_time() - start, 0, virtual)
        assert table_is_empty(sio)


async def test_pending_acks_are_forgotten_with_their_client() -> None:
    sio = server()
    calls: list[tuple[Any, ...]] = []
    async with serving(sio) as client:
        for _ in range(3):
            async with raw(client) as ws:
                sid = await ws.connect("/")
                for n in range(10):
                    await sio.emit("q", n, to=sid, callback=lambda *args: calls.append(args))
                assert len(sio.clients.clients[ws.eio_sid].callbacks) == 10
            await anyio.wait_all_tasks_blocked()
            assert table_is_empty(sio)
    assert calls == []


async def test_max_pending_acks(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _clients.MAX_PENDING_ACKS == 1024
    monkeypatch.setattr(_clients, "MAX_PENDING_ACKS", 3)
    caplog.set_level(logging.WARNING, logger="engineio_sc.socketio")
    sio = server()
    acks: list[tuple[Any, ...]] = []
    async with serving(sio) as client, raw(client) as ws:
        sid = await ws.connect("/")
        async with anyio.create_task_group() as tg:
            outcome: list[BaseException] = []

            async def call() -> None:
                with pytest.raises(TimeoutError, match="the client went away") as caught:
                    await sio.call("q", to=sid)
                outcome.append(caught.value)

            tg.start_soon(call)  # ack id 0, the oldest: forgotten at once
            assert await ws.receive() == '420["q"]'
            for n in range(1, 4):
                await sio.emit("e", n, to=sid, callback=lambda *args: acks.append(args))
                assert await ws.receive() == f'42{n}["e",{n}]'
        assert len(outcome) == 1
        assert f"{ws.eio_sid}: owes 3 acks, forgetting the oldest" in caplog.text
        assert sorted(sio.clients.clients[ws.eio_sid].callbacks) == [1, 2, 3]
        await ws.send('430["x"]', '433["three"]', '431["one"]')
        await ws.still_open()
        assert acks == [("three",), ("one",)]
        assert sorted(sio.clients.clients[ws.eio_sid].callbacks) == [2]


# -- sessions, rooms and the API around them ------------------------------------------------------


async def test_emits_to_a_joining_client_wait_for_the_connect_answer() -> None:
    sio = server()
    gate = anyio.Event()
    inside = anyio.Event()

    async def slow(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, "room", namespace="/slow")
        await sio.emit("news", "held", room="room", namespace="/slow")
        inside.set()
        await gate.wait()

    sio.on("connect", slow, namespace="/slow")
    async with serving(sio) as client, raw(client) as ws, raw(client) as other:
        other_sid = await other.connect("/")
        await sio.enter_room(other_sid, "room", namespace="/slow")  # not in /slow: ignored
        await ws.send("40/slow,")
        await inside.wait()
        await sio.emit("broadcast", namespace="/slow")
        gate.set()
        ws.answer(await ws.receive(), "/slow")
        assert await ws.receive() == '42/slow,["news","held"]'
        assert await ws.receive() == '42/slow,["broadcast"]'
        await ws.still_open()
        await other.still_open()  # and got nothing


async def test_sessions_and_environ() -> None:
    sio = server()
    async with serving(sio) as client, raw(client) as ws:
        sid = await ws.connect("/")
        async with sio.session(sid) as session:
            session["user"] = "ada"
        assert await sio.get_session(sid) == {"user": "ada"}
        with contextlib.suppress(RuntimeError):  # the block fails
            async with sio.session(sid) as session:
                await sio.save_session(sid, {"replaced": True})
                raise RuntimeError
        assert await sio.get_session(sid) == {"user": "ada"}  # saved on the way out
        with pytest.raises(KeyError):
            await sio.get_session(sid, namespace="/other")
        environ = sio.get_environ(sid)
        assert environ is not None
        assert environ["QUERY_STRING"] == WEBSOCKET
        assert sio.transport(sid) == "websocket"
        assert sio.rooms(sid) == [sid]


async def test_disconnect_of_a_client_in_a_connect_handler_is_not_a_refusal() -> None:
    # python-socketio's way is raising ConnectionRefusedError; disconnect() of a
    # socket that has not joined yet does nothing.
    sio = server()

    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.disconnect(sid)

    sio.on("connect", connect)
    async with serving(sio) as client, raw(client) as ws:
        await ws.connect("/")
        await ws.still_open()


async def test_catch_all_and_class_namespaces() -> None:
    sio = server(namespaces="*")
    calls: list[tuple[Any, ...]] = []

    class Chat(socketio.AsyncNamespace):
        def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
            calls.append(("class connect", self.namespace))

        async def on_say(self, sid: str, text: str) -> str:
            calls.append(("class say", text))
            return text.upper()

    sio.register_namespace(Chat("/chat"))
    sio.on("*", lambda event, sid, *args: calls.append(("any event", event, *args)))
    sio.on("y", lambda ns, sid, *args: calls.append(("y in any ns", ns, *args)), namespace="*")
    async with serving(sio) as client, raw(client) as ws:
        await ws.connect("/chat")
        await ws.connect("/")
        await ws.connect("/elsewhere")
        await ws.send('42/chat,1["say","hi"]')
        assert await ws.receive() == '43/chat,1["HI"]'
        await ws.send('42["x",1]', '42/elsewhere,["y"]', "42[3]")
        await anyio.wait_all_tasks_blocked()  # the handlers run concurrently
        assert calls[:2] == [("class connect", "/chat"), ("class say", "hi")]
        assert len(calls) == 5
        assert set(calls[2:]) == {
            ("any event", "x", 1),
            ("y in any ns", "/elsewhere"),
            ("any event", 3),
        }


async def test_what_was_held_for_a_joining_client_is_not_overtaken() -> None:
    # The CONNECT answer's write waits (the client reads nothing for a while); an
    # emit made meanwhile must come after what was held before the answer.
    sio = server()

    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.emit("held", to=sid, namespace="/slow")

    sio.on("connect", connect, namespace="/slow")
    async with serving(sio) as client, raw(client) as ws:
        sid = await ws.connect("/")
        backlog = 100  # the client's buffer: full, its next write waits
        for n in range(backlog):
            await sio.emit("fill", n, to=sid)
        await ws.send("40/slow,")
        await anyio.wait_all_tasks_blocked()
        [slow] = [s.sid for s in sio.clients.sockets.values() if s.namespace == "/slow"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(sio.emit, "later", None, slow, None, None, "/slow")
            await anyio.wait_all_tasks_blocked()
            assert [await ws.receive() for _ in range(backlog)] == [
                f'42["fill",{n}]' for n in range(backlog)
            ]
        ws.answer(await ws.receive(), "/slow")
        assert [await ws.receive(), await ws.receive()] == [
            '42/slow,["held"]',
            '42/slow,["later"]',
        ]
