"""The processes of a cluster, started on free loopback ports: a Redis server,
workers running examples/cluster/app.py, and nginx with examples/cluster/nginx.conf
in front of them.

The nginx configuration is the example's own, with only its ports replaced
(:func:`nginx_config`), run under a prefix directory of the test's
(``nginx -p DIR -c DIR/nginx.conf``), which holds its pid file and temporary files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..servers import BIN_DIR, REPO_ROOT, RunningServer, free_port, running_server

EXAMPLE = REPO_ROOT / "examples" / "cluster"
NGINX_CONF = EXAMPLE / "nginx.conf"
NGINX_INCLUDES = [EXAMPLE / "socketio-proxy.conf"]
"""The files that nginx.conf includes, copied beside it unchanged."""
APP = "examples.cluster.app:app"

NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
REDIS_SERVER = shutil.which("redis-server")

needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx)"
)
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (Debian: apt-get install redis-server)"
)

START_DEADLINE = 20.0
"""Seconds for any one process to start listening."""

NGINX_PORTS = {"by_cookie": 8000, "by_address": 8080}
"""The ports that nginx.conf listens on: sticky by cookie, sticky by address."""
WORKER_PORTS = (8001, 8002, 8003)
"""The workers' ports in nginx.conf, in the order of its ``server`` lines."""

WORKER_KINDS = ("hypercorn-trio", "uvicorn", "hypercorn-asyncio")
"""How the three workers are served, in the order of :data:`WORKER_PORTS`."""

NGINX_ERROR = re.compile(r"\[(?:error|crit|alert|emerg)\]")
"""A line of nginx's log worse than a warning."""


def worker_command(kind: str, port: int) -> list[str]:
    """The command that serves the example app as a worker of ``kind`` on ``port``."""
    if kind == "uvicorn":
        return [str(BIN_DIR / "uvicorn"), APP, "--host", "127.0.0.1", "--port", str(port)]
    worker_class = kind.removeprefix("hypercorn-")
    bind = f"127.0.0.1:{port}"
    return [str(BIN_DIR / "hypercorn"), APP, "--worker-class", worker_class, "--bind", bind]


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
        nginx: the proxy.
        redis_url: the Redis server the workers share.
        channel: their pub/sub channel.
    """

    workers: dict[str, RunningServer]
    nginx: RunningServer
    by_address_port: int
    redis_url: str
    channel: str

    @property
    def by_cookie(self) -> str:
        """nginx, sticky by cookie."""
        return self.nginx.url

    @property
    def by_address(self) -> str:
        """nginx, sticky by the client's address (``ip_hash``)."""
        return f"http://127.0.0.1:{self.by_address_port}"

    def kill(self, name: str) -> None:
        """End worker ``name`` at once, with SIGKILL (a single process: uvicorn)."""
        worker = self.workers[name]
        worker.signal(signal.SIGKILL)
        worker.wait_exit()

    def nginx_errors(self) -> list[str]:
        """The lines of nginx's log so far that are worse than a warning."""
        return [line for line in self.nginx.log.lines if NGINX_ERROR.search(line)]


@contextmanager
def running_redis() -> Iterator[str]:
    """A Redis server on a free loopback port, without persistence: its URL."""
    assert REDIS_SERVER is not None
    port = free_port()
    command = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--save", "", "--appendonly", "no"]
    with running_server("redis", command, port=port, start_deadline=START_DEADLINE):
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def running_cluster(redis_url: str, channel: str, prefix: Path) -> Iterator[Cluster]:
    """Three workers (:data:`WORKER_KINDS`) on ``channel`` of ``redis_url``, and
    nginx in front of them with its files under ``prefix``. Each process is
    stopped on the way out, and must exit cleanly (but one that was killed)."""
    assert NGINX is not None
    ports = {port: free_port() for port in (*NGINX_PORTS.values(), *WORKER_PORTS)}
    for include in NGINX_INCLUDES:
        shutil.copy(include, prefix / include.name)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(ports))
    with ExitStack() as stack:
        workers: dict[str, RunningServer] = {}
        for index, (kind, port) in enumerate(zip(WORKER_KINDS, WORKER_PORTS, strict=True)):
            name = f"w{index + 1}-{kind}"
            env = {**os.environ, "REDIS_URL": redis_url, "SIO_CHANNEL": channel}
            env["WORKER_NAME"] = name
            command = worker_command(kind, ports[port])
            workers[name] = stack.enter_context(
                running_server(
                    name, command, port=ports[port], env=env, start_deadline=START_DEADLINE
                )
            )
        command = [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
        cookie_port = ports[NGINX_PORTS["by_cookie"]]
        nginx = stack.enter_context(
            running_server("nginx", command, port=cookie_port, start_deadline=START_DEADLINE)
        )
        yield Cluster(
            workers=workers,
            nginx=nginx,
            by_address_port=ports[NGINX_PORTS["by_address"]],
            redis_url=redis_url,
            channel=channel,
        )
