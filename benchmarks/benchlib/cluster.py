"""A configuration served by several worker processes that share a Redis server:
:class:`RedisCluster`, the server under test of ``sio-fanout-cluster``."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from . import procfs
from .servers import REDIS_SERVER, Config, GcTotals, ServerProcess, free_port

REDIS_STOP_TIMEOUT = 10.0
"""Seconds for redis-server to exit after SIGTERM."""


def _redis_ready(port: int) -> bool:
    """Whether the Redis server on ``port`` answers ``PING``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``redis-server`` on a free loopback port, saving nothing, its log in a file."""

    def __init__(self, log_path: Path) -> None:
        executable = shutil.which(REDIS_SERVER)
        if executable is None:
            raise RuntimeError(f"{REDIS_SERVER} is not on PATH")
        self.port = free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = log_path.open("ab")
        command = [executable, "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until it answers; raise if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{REDIS_SERVER} exited at start")
            if _redis_ready(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{REDIS_SERVER} not ready after {timeout} s")

    def cpu_seconds(self) -> float:
        """Its CPU time so far (user + system)."""
        return procfs.cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(REDIS_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


class RedisCluster:
    """A Redis server and ``config.workers`` worker processes of ``config``, each on
    a port of its own, that reach one another's clients through it."""

    def __init__(self, config: Config, env: dict[str, str], log_path: Path) -> None:
        self.config = config
        stem = log_path.with_suffix("")
        self.redis = RedisServer(stem.with_name(f"{stem.name}-redis.log"))
        self.workers: list[ServerProcess] = []
        try:
            self.redis.wait_ready()
            worker_env = {**env, "BENCH_REDIS_URL": self.redis.url}
            for number in range(1, config.workers + 1):
                worker_log = stem.with_name(f"{stem.name}-w{number}.log")
                self.workers.append(ServerProcess(config, worker_env, worker_log))
        except BaseException:
            self.stop()
            raise

    @property
    def ports(self) -> list[int]:
        """Each worker's port."""
        return [worker.port for worker in self.workers]

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until every worker answers HTTP."""
        for worker in self.workers:
            worker.wait_ready(timeout)

    def cpu_seconds(self) -> float:
        """CPU time of every worker's processes (Redis's is apart)."""
        return sum(worker.cpu_seconds() for worker in self.workers)

    def redis_cpu_seconds(self) -> float:
        """CPU time of the Redis server."""
        return self.redis.cpu_seconds()

    def gc_totals(self) -> GcTotals | None:
        """The collectors' time and collections, added up over the workers."""
        totals = [worker.gc_totals() for worker in self.workers]
        if any(total is None for total in totals):
            return None
        known = [total for total in totals if total is not None]
        collections = [sum(counts) for counts in zip(*(t.collections for t in known), strict=True)]
        return GcTotals(0, sum(total.gc_s for total in known), collections)

    def rss_kib(self) -> int:
        """The workers' resident set sizes, added up."""
        return sum(worker.rss_kib() for worker in self.workers)

    def running(self) -> bool:
        """Whether Redis and every worker are alive."""
        alive = self.redis.process.poll() is None
        return alive and all(worker.running() for worker in self.workers)

    def log_tail(self, lines: int = 15) -> str:
        """The end of each worker's output."""
        return "\n".join(
            f"[w{number}] {worker.log_tail(lines)}" for number, worker in enumerate(self.workers, 1)
        )

    def log_problems(self) -> list[str]:
        """The workers' lines that report an error or a traceback."""
        return [line for worker in self.workers for line in worker.log_problems()]

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop the workers, then Redis; the first worker status that is neither 0
        nor -SIGTERM (uvicorn re-raises the SIGTERM it handled), else 0."""
        statuses = [worker.stop(timeout) for worker in self.workers]
        self.redis.stop()
        return next((s for s in statuses if s not in (0, -signal.SIGTERM)), 0)
