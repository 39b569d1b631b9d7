"""The server configurations and the server process under test."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from . import procfs

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"

APPS = {
    "eio_sc": "eio_sc_echo:app",
    "pyeio": "pyeio_echo:app",
    "bare": "bare_echo:app",
    "sio_native": "sio_native:app",
    "sio_sc": "sio_sc:app",
    "sio_pyeio": "sio_pyeio:app",
    "bare_sio": "bare_sio:app",
    "sio_redis": "sio_redis:app",
    "sio_cluster": "sio_redis:app",
}
APP_TITLES = {
    "eio_sc": "engineio_sc",
    "pyeio": "python-engineio",
    "bare": "bare echo",
    "sio_native": "engineio_sc.socketio",
    "sio_sc": "python-socketio on engineio_sc",
    "sio_pyeio": "python-socketio on python-engineio",
    "bare_sio": "bare Socket.IO",
    "sio_redis": "engineio_sc.socketio, Redis, 1 worker",
    "sio_cluster": "engineio_sc.socketio, Redis, 3 workers",
}
REQUIRES = {
    "eio_sc": ("engineio_sc",),
    "pyeio": ("engineio",),
    "bare": (),
    "sio_native": ("engineio_sc.socketio",),
    "sio_sc": ("socketio", "engineio_sc"),
    "sio_pyeio": ("socketio",),
    "bare_sio": (),
    "sio_redis": ("engineio_sc.socketio", "coredis"),
    "sio_cluster": ("engineio_sc.socketio", "coredis"),
}
"""The modules each application imports that may not be installed."""
REDIS_SERVER = "redis-server"
WORKERS = {"sio_redis": 1, "sio_cluster": 3}
"""The applications served by several processes (or one) that share a Redis
server: how many worker processes, each on a port of its own."""
SOCKETIO_APPS = ("sio_native", "sio_sc", "sio_pyeio", "bare_sio", *WORKERS)
SERVERS = ("hypercorn-trio", "hypercorn-asyncio", "uvicorn")
BACKLOG = 2048


@dataclass(frozen=True)
class Config:
    """One application served by one ASGI server, e.g. ``eio_sc/hypercorn-trio``."""

    app: str
    server: str

    @property
    def name(self) -> str:
        """``app/server``."""
        return f"{self.app}/{self.server}"

    @property
    def engineio(self) -> bool:
        """Whether the application speaks Engine.IO (the bare echo does not)."""
        return self.app != "bare"

    @property
    def socketio(self) -> bool:
        """Whether the application is a Socket.IO server (it runs the Socket.IO
        scenarios only, and only they run on it)."""
        return self.app in SOCKETIO_APPS

    @property
    def ceiling(self) -> Config:
        """The bare application of its protocol on the same server: the most any layer
        could reach there (the bare Socket.IO server for a Socket.IO application)."""
        return Config("bare_sio" if self.socketio else "bare", self.server)

    @property
    def redis(self) -> bool:
        """Whether its workers share a Redis server (see :data:`WORKERS`)."""
        return self.app in WORKERS

    @property
    def workers(self) -> int:
        """How many worker processes serve it."""
        return WORKERS.get(self.app, 1)

    def missing(self) -> list[str]:
        """The modules the application needs that this interpreter cannot import,
        and the programs it needs that are not on ``PATH``."""
        missing = [name for name in REQUIRES[self.app] if not _installed(name)]
        if self.redis and shutil.which(REDIS_SERVER) is None:
            missing.append(REDIS_SERVER)
        return missing


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


CONFIGS = (
    Config("eio_sc", "hypercorn-trio"),
    Config("eio_sc", "hypercorn-asyncio"),
    Config("eio_sc", "uvicorn"),
    Config("pyeio", "hypercorn-asyncio"),
    Config("pyeio", "uvicorn"),
    Config("bare", "hypercorn-trio"),
    Config("bare", "hypercorn-asyncio"),
    Config("bare", "uvicorn"),
    Config("sio_native", "hypercorn-trio"),
    Config("sio_native", "hypercorn-asyncio"),
    Config("sio_native", "uvicorn"),
    Config("sio_sc", "hypercorn-asyncio"),
    Config("sio_sc", "uvicorn"),
    Config("sio_pyeio", "hypercorn-asyncio"),
    Config("sio_pyeio", "uvicorn"),
    Config("bare_sio", "hypercorn-trio"),
    Config("bare_sio", "hypercorn-asyncio"),
    Config("bare_sio", "uvicorn"),
    Config("sio_redis", "hypercorn-trio"),
    Config("sio_redis", "hypercorn-asyncio"),
    Config("sio_redis", "uvicorn"),
    Config("sio_cluster", "hypercorn-trio"),
    Config("sio_cluster", "hypercorn-asyncio"),
    Config("sio_cluster", "uvicorn"),
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just handed out and that is free again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(config: Config, port: int) -> list[str]:
    """The command line serving ``config`` on 127.0.0.1:``port`` with one worker, no access log."""
    app = APPS[config.app]
    if config.server == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)),
            *("--no-access-log", "--log-level", "warning", "--lifespan", "on"),
            *("--backlog", str(BACKLOG)),
        ]
    worker = config.server.removeprefix("hypercorn-")
    return [
        *(sys.executable, "-m", "hypercorn", app, "--worker-class", worker, "--workers", "1"),
        *("--bind", f"127.0.0.1:{port}", "--backlog", str(BACKLOG), "--log-level", "warning"),
    ]


def _probe(port: int) -> bool:
    """Whether an HTTP request to ``/`` gets any response (creates no Engine.IO session)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.1")
    except OSError:
        return False


@dataclass(frozen=True)
class GcTotals:
    """What the worker's collector has done so far."""

    seq: int  # how many times the worker has written them
    gc_s: float  # seconds spent collecting
    collections: list[int]  # collections of generations 0, 1 and 2


class Serving(Protocol):
    """What a run needs of the server under test: one process (:class:`ServerProcess`)
    or several that share a Redis server (:class:`~.cluster.RedisCluster`)."""

    config: Config

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until it serves; raise if it exits or takes too long."""
        ...

    @property
    def ports(self) -> Sequence[int]:
        """Where the clients go: one port per worker, the first one's first."""
        ...

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (user + system)."""
        ...

    def redis_cpu_seconds(self) -> float | None:
        """CPU time used so far by the Redis server, if there is one."""
        ...

    def gc_totals(self) -> GcTotals | None:
        """The collector's time and collections so far, over the workers."""
        ...

    def rss_kib(self) -> int:
        """The workers' resident set size in KiB."""
        ...

    def running(self) -> bool:
        """Whether every process is still alive."""
        ...

    def log_tail(self, lines: int = 15) -> str:
        """The end of the output."""
        ...

    def log_problems(self) -> list[str]:
        """Lines of the output that report an error or a traceback."""
        ...

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop every process; the exit status of the server (the first worker's
        that is neither 0 nor -SIGTERM, for several)."""
        ...


class ServerProcess:
    """A server configuration running as a subprocess, its log in a file."""

    def __init__(self, config: Config, env: dict[str, str], log_path: Path) -> None:
        self.config = config
        self.port = free_port()
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = log_path.open("ab")  # a restarted server adds to it
        self.gc_stats_path = log_path.with_name(f"{log_path.stem}-{self.port}.gc.json")
        self.gc_stats_path.unlink(missing_ok=True)
        full_env = {**os.environ, **env, "BENCH_GC_STATS": str(self.gc_stats_path)}
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(APPS_DIR), full_env.get("PYTHONPATH", "")) if p
        )
        self.command = server_command(config, self.port)
        self.process = subprocess.Popen(
            self.command, env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid

    @property
    def ports(self) -> list[int]:
        """The one port it serves on."""
        return [self.port]

    def redis_cpu_seconds(self) -> float | None:
        """It uses no Redis server: ``None``."""
        return None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the server answers HTTP; raise if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.config.name} exited at start: {self.log_tail()}")
            if _probe(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.config.name} not ready after {timeout} s: {self.log_tail()}")

    def pids(self) -> list[int]:
        """The server process and every process it started."""
        return [self.pid, *procfs.descendants(self.pid)]

    def worker_pid(self) -> int:
        """The process that serves requests: Hypercorn's spawned worker, else the server itself."""
        for pid in procfs.descendants(self.pid):
            if "spawn_main" in procfs.cmdline(pid):
                return pid
        return self.pid

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its children (user + system)."""
        return sum(procfs.cpu_seconds(pid) for pid in self.pids())

    def gc_totals(self, timeout: float = 5.0) -> GcTotals | None:
        """The collector's time and collections in the worker so far (the app
        times them when ``BENCH_GC_STATS`` is set, and writes them on ``SIGUSR1``);
        ``None`` if the worker does not answer within ``timeout``."""
        previous = self._read_gc()
        seq = previous.seq if previous is not None else 0
        try:
            os.kill(self.worker_pid(), signal.SIGUSR1)
        except ProcessLookupError:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self._read_gc()
            if current is not None and current.seq > seq:
                return current
            time.sleep(0.005)
        return None

    def _read_gc(self) -> GcTotals | None:
        try:
            data = json.loads(self.gc_stats_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return GcTotals(int(data["seq"]), float(data["gc_s"]), list(data["collections"]))

    def rss_kib(self) -> int:
        """The worker process's resident set size in KiB."""
        return procfs.rss_kib(self.worker_pid())

    def running(self) -> bool:
        """Whether the server and its worker are still alive."""
        return self.process.poll() is None and procfs.alive(self.worker_pid())

    def log_tail(self, lines: int = 15) -> str:
        """The end of the server's output."""
        self._log.flush()
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def log_problems(self) -> list[str]:
        """Lines of the server's output that report an error or a traceback."""
        self._log.flush()
        markers = ("Traceback", "ERROR", "Error", "Exception", "CRITICAL")
        text = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in text if any(marker in line for marker in markers)]

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL for whatever is left after ``timeout``; the exit status."""
        family = self.pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            status = None
        for pid in family:
            if procfs.alive(pid):
                os.kill(pid, signal.SIGKILL)
        if status is None:
            self.process.wait(5)
        self._log.close()
        return status
