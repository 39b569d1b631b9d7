"""A real ``redis-server`` on a free loopback port, and Socket.IO workers
(tests/redis/app.py) in processes of their own that share it.

:class:`RedisServer` runs Debian's ``redis-server`` in a temporary directory,
with nothing saved to disk, and can stop it and start it again on the same port.
Tests that need it are skipped where ``redis-server`` is not installed
(scripts/test installs it when run as root).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from ..servers import BIN_DIR, RunningServer, ServerLog, free_port, running_server, spawn

REDIS_SERVER = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (scripts/test installs it when run as root: "
    "apt-get install redis-server)",
)
"""The mark of a test that runs ``redis-server``."""

START_DEADLINE = 10.0
"""Seconds for redis-server, or a worker, to be ready."""
READY = re.compile(r"Ready to accept connections")

WORKERS: dict[str, list[str]] = {
    "hypercorn-trio": ["hypercorn", "--worker-class", "trio", "--bind", "127.0.0.1:0"],
    "uvicorn": ["uvicorn", "--host", "127.0.0.1", "--port", "0"],
    "hypercorn-asyncio": ["hypercorn", "--worker-class", "asyncio", "--bind", "127.0.0.1:0"],
}
"""How each kind of worker serves tests.redis.app."""
LISTENING = re.compile(r"(?:Running on|Uvicorn running on) http://127\.0\.0\.1:(\d+)\b")


class RedisServer:
    """A ``redis-server`` of the test's own, on ``port``, run in ``directory``.

    Attributes:
        log: the output of the process that runs now (or ran last).
    """

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self._process: subprocess.Popen[str] | None = None
        self.log: ServerLog | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it accepts connections.

        Raises:
            RuntimeError: it runs already.
        """
        if self._process is not None:
            raise RuntimeError("redis-server runs already")
        assert REDIS_SERVER is not None
        command = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        self._process, self.log = spawn(command, cwd=self.directory, name="redis-server")
        if self.log.wait_for(READY, START_DEADLINE) is None:
            self.stop(signal.SIGKILL)
            pytest.fail(f"redis-server did not start on port {self.port}")

    def pause(self) -> None:
        """Freeze it (SIGSTOP): its connections stay open, and nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let it go on (SIGCONT)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> None:
        """Stop it with ``signum`` and wait until it has exited."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signum)
        process.send_signal(signal.SIGCONT)  # a paused one ends too
        try:
            process.wait(timeout=START_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=START_DEADLINE)
        if self.log is not None:
            self.log.close()


@contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """A :class:`RedisServer` on a free loopback port, stopped on the way out."""
    server = RedisServer(directory, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own."""
    with running_redis(tmp_path) as server:
        yield server


APP = "tests.redis.app:app"


def worker_command(kind: str, app: str = APP) -> list[str]:
    """The command that serves ``app`` under ``kind`` (see :data:`WORKERS`)."""
    executable, *args = WORKERS[kind]
    return [str(BIN_DIR / executable), app, *args]


@contextmanager
def running_workers(
    redis_url: str, kinds: list[str], app: str = APP
) -> Iterator[list[RunningServer]]:
    """One worker of ``app`` of each of ``kinds``, named ``w1``, ``w2``... after
    their place, sharing the Redis of ``redis_url``; each must exit cleanly on the
    way out."""
    with ExitStack() as stack:
        workers = []
        for number, kind in enumerate(kinds, 1):
            env = {**os.environ, "REDIS_URL": redis_url, "WORKER_NAME": f"w{number}"}
            workers.append(
                stack.enter_context(
                    running_server(
                        f"w{number} ({kind})",
                        worker_command(kind, app),
                        listening=LISTENING,
                        start_deadline=START_DEADLINE,
                        env=env,
                    )
                )
            )
        yield workers
