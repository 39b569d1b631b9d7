"""The clients of the cluster tests behind one interface (:class:`Client`), so
that one scenario runs with either: the npm ``socket.io-client``, driven through
tests/js/socketio-fleet.mjs (:class:`NodeFleet`), and python-socketio's
``AsyncClient`` (:class:`PyClient`, asyncio only).

Both keep cookies as a browser does, one jar per Engine.IO connection: nginx's
sticky cookie holds a client to its worker.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..node_driver import NODE, NODE_MODULES
from ..python_socketio.client import disconnect, new_client
from ..servers import REPO_ROOT

FLEET = REPO_ROOT / "tests" / "js" / "socketio-fleet.mjs"
EXIT_DEADLINE = 5.0
"""Seconds for the Node.js driver to end once its input has."""
WAIT_DEADLINE = 10.0
"""Seconds for an answer from the driver, or for an event to come."""
MAX_LINE = 1 << 20
"""The longest line the driver may print, in bytes."""

TRANSPORTS: dict[str, list[str]] = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}
"""The transports a client of each mode may use, in order."""
FINAL_TRANSPORT = {"polling": "polling", "websocket": "websocket", "upgrade": "websocket"}
"""The transport a client of each mode ends on, once connected."""


class Client(Protocol):
    """One Socket.IO client in the default namespace."""

    name: str
    sid: str
    """Its sid, once open (it changes when the client reconnects)."""
    transport: str
    """The transport it uses, once open."""
    server_disconnect: str
    """The reason it gives when the server disconnects it."""

    async def open(self) -> None:
        """Connect (and upgrade, in the ``upgrade`` mode)."""
        ...

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit ``event`` with ``data``; the server's ack."""
        ...

    async def next(self, event: str) -> list[Any]:
        """The arguments of the next ``event`` it got, waiting for it: ``connect``
        (with the new sid) and ``disconnect`` (with the reason) included."""
        ...

    async def answer(self, event: str, reply: Any) -> None:
        """Ack each ``event`` from the server with ``reply`` from now on."""
        ...

    async def close(self) -> None:
        """Disconnect."""
        ...


class NodeFleet:
    """tests/js/socketio-fleet.mjs running, and its clients: the requests run at
    once, each answered when it finishes."""

    def __init__(self, process: anyio.abc.Process) -> None:
        assert process.stdin is not None
        self._process = process
        self._stdin = process.stdin
        self._sending = anyio.Lock()
        self._last_id = 0
        self._waiting: dict[int, anyio.Event] = {}
        self._replies: dict[int, dict[str, Any]] = {}
        self.stderr = ""

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send request ``op``; its answer, once it comes (fails the test on an error)."""
        self._last_id += 1
        request_id = self._last_id
        self._waiting[request_id] = arrived = anyio.Event()
        line = json.dumps({"id": request_id, "op": op, **fields}) + "\n"
        async with self._sending:
            await self._stdin.send(line.encode())
        with anyio.move_on_after(WAIT_DEADLINE):
            await arrived.wait()
        assert arrived.is_set(), f"no answer to {op} {fields} in {WAIT_DEADLINE} s\n{self.stderr}"
        reply = self._replies.pop(request_id, None)
        assert reply is not None, f"the driver ended before answering {op}\n{self.stderr}"
        assert reply["ok"], f"{op} {fields}: {reply['error']}\n{self.stderr}"
        return reply

    def client(self, name: str, url: str, mode: str, *, reconnection: bool = False) -> NodeClient:
        """A client (not yet open) of ``url`` in ``mode`` (a key of :data:`TRANSPORTS`)."""
        return NodeClient(self, name, url, mode, reconnection)

    async def _read_replies(self) -> None:
        assert self._process.stdout is not None
        stdout = BufferedByteReceiveStream(self._process.stdout)
        try:
            while True:
                reply = json.loads(await stdout.receive_until(b"\n", MAX_LINE))
                self._replies[reply["id"]] = reply
                self._waiting.pop(reply["id"]).set()
        except anyio.IncompleteRead:
            assert not stdout.buffer, f"the driver ended in a line: {bytes(stdout.buffer)!r}"
        finally:
            for arrived in self._waiting.values():
                arrived.set()

    async def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        async for chunk in self._process.stderr:
            self.stderr += chunk.decode(errors="replace")


@asynccontextmanager
async def node_fleet() -> AsyncIterator[NodeFleet]:
    """Run the driver for the block; on the way out, close its input (which
    disconnects its clients) and check that it exits cleanly in time."""
    assert NODE is not None
    assert (NODE_MODULES / "socket.io-client").is_dir(), "run: cd tests/js && npm ci"
    process = await anyio.open_process([NODE, str(FLEET)], cwd=REPO_ROOT)
    fleet = NodeFleet(process)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet._read_replies)
            tg.start_soon(fleet._read_stderr)
            try:
                yield fleet
            finally:
                with anyio.CancelScope(shield=True):
                    await fleet._stdin.aclose()
                    with anyio.move_on_after(EXIT_DEADLINE) as waited:
                        await process.wait()
                    if waited.cancelled_caught:
                        process.kill()
    finally:
        with anyio.CancelScope(shield=True):
            await process.aclose()
    assert not waited.cancelled_caught, f"the driver did not exit\n{fleet.stderr}"
    assert process.returncode == 0, f"the driver exited with {process.returncode}\n{fleet.stderr}"


class NodeClient:
    """A client of the npm ``socket.io-client`` in a :class:`NodeFleet`."""

    server_disconnect = "io server disconnect"

    def __init__(
        self, fleet: NodeFleet, name: str, url: str, mode: str, reconnection: bool
    ) -> None:
        self.name = name
        self.sid = ""
        self.transport = ""
        self._fleet = fleet
        self._url = url
        self._mode = mode
        self._reconnection = reconnection

    async def open(self) -> None:
        opened = await self._fleet.request(
            "open",
            client=self.name,
            url=self._url,
            transports=TRANSPORTS[self._mode],
            reconnection=self._reconnection,
            upgrade=self._mode == "upgrade",
        )
        self.sid, self.transport = opened["sid"], opened["transport"]

    async def call(self, event: str, data: Any = None) -> Any:
        args = [] if data is None else [data]
        reply = await self._fleet.request("call", client=self.name, event=event, args=args)
        return reply["reply"]

    async def next(self, event: str) -> list[Any]:
        reply = await self._fleet.request("next", client=self.name, event=event)
        args: list[Any] = reply["args"]
        if event == "connect":
            self.sid = args[0]
        return args

    async def answer(self, event: str, reply: Any) -> None:
        await self._fleet.request("answer", client=self.name, event=event, reply=reply)

    async def close(self) -> None:
        await self._fleet.request("close", client=self.name)


Inbox = tuple[MemoryObjectSendStream[list[Any]], MemoryObjectReceiveStream[list[Any]]]


class PyClient:
    """python-socketio's ``AsyncClient`` (on asyncio), its events queued by name.

    ``local_address`` is the address its connections come from (any of
    127.0.0.0/8 on loopback)."""

    server_disconnect = "server disconnect"

    def __init__(
        self,
        name: str,
        url: str,
        mode: str,
        *,
        reconnection: bool = False,
        local_address: str | None = None,
    ) -> None:
        self.name = name
        self.sid = ""
        self.transport = ""
        self._url = url
        self._mode = mode
        self._inboxes: dict[str, Inbox] = {}
        self.sio: Any = new_client(reconnection=reconnection, local_address=local_address)
        self.sio.on("*", self._got)
        self.sio.on("connect", lambda: self._put("connect", [self.sio.get_sid()]))
        self.sio.on("disconnect", lambda reason: self._put("disconnect", [reason]))

    def _inbox(self, event: str) -> Inbox:
        if event not in self._inboxes:
            self._inboxes[event] = anyio.create_memory_object_stream[list[Any]](math.inf)
        return self._inboxes[event]

    def _put(self, event: str, args: list[Any]) -> None:
        self._inbox(event)[0].send_nowait(args)

    def _got(self, event: str, *args: Any) -> None:
        self._put(event, list(args))

    async def open(self) -> None:
        await self.sio.connect(self._url, transports=TRANSPORTS[self._mode], wait_timeout=5)
        await self.next("connect")  # so that the next "connect" is a reconnection
        self.transport = self.sio.transport()

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, timeout=10)

    async def next(self, event: str) -> list[Any]:
        args: list[Any] | None = None
        with anyio.move_on_after(WAIT_DEADLINE):
            args = await self._inbox(event)[1].receive()
        assert args is not None, f"{self.name} got no {event} in {WAIT_DEADLINE} s"
        if event == "connect":
            self.sid = args[0]
        return args

    async def answer(self, event: str, reply: Any) -> None:
        self.sio.on(event, lambda *args: reply)

    async def close(self) -> None:
        if self.sio.connected:
            await disconnect(self.sio)
        else:  # stops a reconnection in progress
            await self.sio.disconnect()
        for send, receive in self._inboxes.values():
            send.close()
            receive.close()
