"""A Socket.IO worker whose manager is :class:`~engineio_sc.socketio.AsyncRedisManager`:
the application of the tests that run several workers against one Redis.

Its clients drive it with two events:

- ``whoami``: acknowledged with ``{"sid", "worker", "pid", "rooms"}``;
- ``op``: acknowledged with what the server call it names returned; the call
  may name a client of any worker (see :meth:`Worker.op`).

Environment: ``REDIS_URL`` (``redis://localhost:6379/0`` by default),
``REDIS_CHANNEL`` (``socketio`` by default), ``WORKER_NAME`` (the process id by
default). Run it as, for example::

    REDIS_URL=redis://127.0.0.1:6379/0 WORKER_NAME=w1 \\
        hypercorn tests.redis.app:app --worker-class trio --bind 127.0.0.1:8001
    REDIS_URL=redis://127.0.0.1:6379/0 WORKER_NAME=w2 \\
        uvicorn tests.redis.app:app --host 127.0.0.1 --port 8002

The Redis manager logs to stderr at INFO (``engineio_sc.socketio.redis``): each
outage's warning and the line that says Redis is back.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import anyio

from engineio_sc import socketio

CALL_TIMEOUT = 5.0
"""The default timeout of ``call`` and of the wait for the acks of ``emit_ack``."""

REDIS_LOGGER = "engineio_sc.socketio.redis"


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger(REDIS_LOGGER).addHandler(handler)


class Worker:
    """The server, its ASGI app, and the operations its clients ask for."""

    def __init__(self, url: str, channel: str, name: str) -> None:
        self.name = name
        self.manager = socketio.AsyncRedisManager(url, channel=channel)
        self.sio = socketio.AsyncServer(client_manager=self.manager)
        self.app = socketio.ASGIApp(self.sio)
        self.sio.on("whoami", self.whoami)
        self.sio.on("op", self.op)

    async def whoami(self, sid: str) -> dict[str, Any]:
        return {
            "sid": sid,
            "worker": self.name,
            "pid": os.getpid(),
            "rooms": sorted(self.sio.rooms(sid)),
        }

    async def op(self, sid: str, request: dict[str, Any]) -> Any:
        """Carry out ``request["do"]``:

        - ``emit``: ``sio.emit(event, data, to=, skip_sid=, ignore_queue=)``;
        - ``enter_room``, ``leave_room``: of ``sid`` (any worker's), ``room``;
        - ``close_room``: ``room``;
        - ``disconnect``: ``sid``;
        - ``call``: ``sio.call(event, data, to=sid, timeout=)``, its answer as a
          list, or ``{"error": "timeout"}``;
        - ``emit_ack``: ``sio.emit(event, data, to=, callback=)``, then the acks
          of ``count`` clients (as lists, sorted), within ``timeout`` (what came by
          then).
        """
        sio = self.sio
        do = request["do"]
        if do == "emit":
            await sio.emit(
                request["event"],
                request.get("data"),
                to=request.get("to"),
                skip_sid=request.get("skip_sid"),
                ignore_queue=request.get("ignore_queue", False),
            )
        elif do == "enter_room":
            await sio.enter_room(request["sid"], request["room"])
        elif do == "leave_room":
            await sio.leave_room(request["sid"], request["room"])
        elif do == "close_room":
            await sio.close_room(request["room"])
        elif do == "disconnect":
            await sio.disconnect(request["sid"])
        elif do == "call":
            try:
                answer = await sio.call(
                    request["event"],
                    request.get("data"),
                    to=request["sid"],
                    timeout=request.get("timeout", CALL_TIMEOUT),
                )
            except socketio.exceptions.TimeoutError:
                return {"error": "timeout"}
            return list(answer) if isinstance(answer, tuple) else [answer]
        elif do == "emit_ack":
            return await self._emit_ack(request)
        else:
            raise ValueError(f"unknown op {do!r}")
        return True

    async def _emit_ack(self, request: dict[str, Any]) -> list[list[Any]]:
        acks: list[list[Any]] = []
        expected = request["count"]
        done = anyio.Event()

        def ack(*args: Any) -> None:
            acks.append(list(args))
            if len(acks) == expected:
                done.set()

        await self.sio.emit(request["event"], request.get("data"), to=request["to"], callback=ack)
        with anyio.move_on_after(request.get("timeout", CALL_TIMEOUT)):
            await done.wait()
        return sorted(acks)


_log_to_stderr()
worker = Worker(
    os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    os.environ.get("REDIS_CHANNEL", "socketio"),
    os.environ.get("WORKER_NAME", str(os.getpid())),
)
app = worker.app
