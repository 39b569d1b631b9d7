"""A cluster on loopback: a Redis server and three workers of
examples/cluster/app.py (tests/redis's fixtures start them), and nginx with
examples/cluster/nginx.conf in front of them.

The nginx configuration is the example's own with only its ports replaced
(:func:`nginx_config`), run under a prefix directory of the test's
(``nginx -p DIR -c DIR/nginx.conf``) that holds its pid file and temporary files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import coredis
import pytest

from ..redis.conftest import running_redis, running_workers
from ..servers import REPO_ROOT, RunningServer, application_log, free_port, running_server

EXAMPLE = REPO_ROOT / "examples" / "cluster"
NGINX_CONF = EXAMPLE / "nginx.conf"
NGINX_INCLUDES = [EXAMPLE / "socketio-proxy.conf"]
"""The files that nginx.conf includes, copied beside it unchanged."""
APP = "examples.cluster.app:app"
CHANNEL = "socketio"
"""The app's default pub/sub channel."""

NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
needs_nginx = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (scripts/test installs it when run as root: "
    "apt-get install nginx)",
)
"""The mark of a test that runs nginx."""

START_DEADLINE = 10.0
"""Seconds for nginx to start listening."""
SUBSCRIBE_DEADLINE = 5.0
"""Seconds for the workers to subscribe to Redis once they have clients."""
POLL_INTERVAL = 0.01
"""Seconds between two questions to Redis while waiting for the subscribers."""

NGINX_PORTS = {"by_cookie": 8000, "by_address": 8080}
"""The ports that nginx.conf listens on: sticky by cookie, sticky by address."""
WORKER_PORTS = (8001, 8002, 8003)
"""The workers' ports in nginx.conf, in the order of its ``server`` lines."""
WORKER_KINDS = ["hypercorn-trio", "uvicorn", "hypercorn-asyncio"]
"""How the workers are served (named ``w1``, ``w2``, ``w3``), in the order of
:data:`WORKER_PORTS`."""
SINGLE_PROCESS = "w2"
"""The worker that is one process (uvicorn; Hypercorn serves from a child)."""

NGINX_ERROR = re.compile(r"\[(?:error|crit|alert|emerg)\]")
"""A line of nginx's log worse than a warning."""


def nginx_config(ports: Mapping[int, int]) -> str:
    """nginx.conf with each port of ``ports`` replaced by its value; fails
    unless the file uses exactly those ports."""
    text = NGINX_CONF.read_text()
    address = re.compile(r"\b127\.0\.0\.1:(\d+)\b")
    used = {int(port) for port in address.findall(text)}
    assert used == set(ports), f"{NGINX_CONF} uses ports {sorted(used)}, not {sorted(ports)}"
    return address.sub(lambda match: f"127.0.0.1:{ports[int(match.group(1))]}", text)


@dataclass(frozen=True)
class Cluster:
    """Three workers behind nginx, joined by a Redis server.

    Attributes:
        workers: each worker's server, by the name it gives in ``whoami``.
        nginx: the proxy; its own URL is the one sticky by cookie.
        by_address_port: nginx's port that is sticky by the client's address.
        redis_url: the Redis server that the workers share.
    """

    workers: dict[str, RunningServer]
    nginx: RunningServer
    by_address_port: int
    redis_url: str

    @property
    def by_cookie(self) -> str:
        """nginx, sticky by cookie."""
        return self.nginx.url

    @property
    def by_address(self) -> str:
        """nginx, sticky by the client's address (``ip_hash``)."""
        return f"http://127.0.0.1:{self.by_address_port}"

    def kill(self, name: str) -> None:
        """End worker ``name`` at once with SIGKILL; it must be one process
        (:data:`SINGLE_PROCESS`)."""
        worker = self.workers[name]
        worker.signal(signal.SIGKILL)
        worker.wait_exit()

    def worker_problems(self) -> dict[str, str]:
        """The logs of the workers that logged a warning, an error or a traceback."""
        logs = {name: application_log(worker.log.text) for name, worker in self.workers.items()}
        bad = ("WARNING", "ERROR", "Traceback")
        return {name: log for name, log in logs.items() if any(word in log for word in bad)}

    def nginx_errors(self) -> list[str]:
        """The lines of nginx's log so far that are worse than a warning."""
        return [line for line in self.nginx.log.lines if NGINX_ERROR.search(line)]

    async def wait_subscribed(self, count: int) -> None:
        """Wait until ``count`` workers listen on Redis: a worker subscribes when
        its first client connects, and an emit of another worker made before
        that does not reach it."""
        async with coredis.Redis.from_url(self.redis_url) as redis:
            with anyio.fail_after(SUBSCRIBE_DEADLINE):
                # Redis tells of no new subscriber: ask it again until they are all there.
                while (await redis.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0) < count:  # noqa: ASYNC110
                    await anyio.sleep(POLL_INTERVAL)


@contextmanager
def running_cluster(directory: Path) -> Iterator[Cluster]:
    """Redis, three workers (:data:`WORKER_KINDS`) and nginx in front of them,
    with their files under ``directory``. Each process is stopped on the way out,
    and must exit cleanly (but one that was killed)."""
    assert NGINX is not None
    (directory / "redis").mkdir()
    prefix = directory / "nginx"
    prefix.mkdir()
    with (
        running_redis(directory / "redis") as redis,
        running_workers(redis.url, WORKER_KINDS, APP) as workers,
    ):
        ports = dict(zip(WORKER_PORTS, (worker.port for worker in workers), strict=True))
        ports |= {port: free_port() for port in NGINX_PORTS.values()}
        for include in NGINX_INCLUDES:
            shutil.copy(include, prefix / include.name)
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(ports))
        command = [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
        cookie_port = ports[NGINX_PORTS["by_cookie"]]
        with running_server(
            "nginx", command, port=cookie_port, start_deadline=START_DEADLINE
        ) as nginx:
            yield Cluster(
                workers={f"w{number}": worker for number, worker in enumerate(workers, 1)},
                nginx=nginx,
                by_address_port=ports[NGINX_PORTS["by_address"]],
                redis_url=redis.url,
            )
