"""engineio_sc's Socket.IO server with ``AsyncRedisManager``: one worker of a cluster
whose workers reach one another's clients through Redis. The events are those of
``_sio_events.py`` (``echo`` acknowledged, ``join`` the room ``all``, ``fanout``
broadcast to it, on every worker).

``BENCH_REDIS_URL`` names the Redis server. Serve with ``hypercorn sio_redis:app
--worker-class trio`` (or ``asyncio``) or ``uvicorn sio_redis:app``, with
``benchmarks/apps`` on ``PYTHONPATH``, once per worker.
"""

from __future__ import annotations

import os

import _settings
import _sio_events

from engineio_sc import socketio

_settings.tune_gc()

sio = socketio.AsyncServer(
    client_manager=socketio.AsyncRedisManager(os.environ["BENCH_REDIS_URL"]),
    **_settings.server_options(),
)
_sio_events.register(sio)

app = socketio.ASGIApp(sio)
