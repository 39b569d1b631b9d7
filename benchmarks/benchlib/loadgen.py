"""The Node.js load-generator processes, driven line by line over stdin/stdout."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from . import procfs

LOADGEN_DIR = Path(__file__).resolve().parent.parent / "loadgen"
SCRIPT = LOADGEN_DIR / "loadgen.mjs"

Event = dict[str, Any]


class LoadgenError(RuntimeError):
    """A load generator failed, exited or did not answer in time."""


def node_binary() -> str:
    """The ``node`` executable; raise with the set-up instructions when something is missing."""
    node = shutil.which("node")
    if node is None:
        raise LoadgenError("Node.js is needed for the load generator (node not on PATH)")
    if not (LOADGEN_DIR / "node_modules" / "ws").is_dir():
        raise LoadgenError(f"run `npm ci` in {LOADGEN_DIR} first (the ws package is missing)")
    return node


def _pump(stream: IO[str], events: queue.Queue[Event]) -> None:
    """Parse the process's stdout into events until it closes."""
    for line in stream:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = {"event": "output", "line": line.rstrip()}
        events.put(event if isinstance(event, dict) else {"event": "output", "line": line})
    events.put({"event": "eof"})


class LoadgenProcess:
    """One ``node loadgen.mjs --controlled`` process."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [node_binary(), str(SCRIPT), "--controlled", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=LOADGEN_DIR,
        )
        self.pid = self.process.pid
        self.events: queue.Queue[Event] = queue.Queue()
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=_pump, args=(self.process.stdout, self.events), daemon=True
        )
        self._reader.start()

    def send(self, command: str) -> None:
        """Write one command line (``go``, ``measure``, ``stop``, ``close``)."""
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def expect(self, name: str, timeout: float) -> Event:
        """The next event called ``name`` (other events are skipped); raise on failure."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LoadgenError(f"no '{name}' from the load generator within {timeout} s")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event["event"] == name:
                return event
            if event["event"] in ("fatal", "eof"):
                raise LoadgenError(f"load generator ended while waiting for '{name}': {event}")

    def cpu_seconds(self) -> float:
        """CPU time used so far by this process."""
        return procfs.cpu_seconds(self.pid)

    def finish(self, timeout: float = 20.0) -> None:
        """Close stdin (the process closes its sessions and exits); kill it if it does not."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


class LoadgenGroup:
    """Several load-generator processes sharing the clients of one scenario."""

    def __init__(self, procs: list[LoadgenProcess]) -> None:
        self.procs = procs

    @classmethod
    def start(
        cls,
        base_args: list[str],
        ports: Sequence[int],
        clients: int,
        count: int,
        log_dir: Path,
        label: str,
        hub: Path | None = None,
    ) -> LoadgenGroup:
        """Start ``count`` processes, splitting ``clients`` between them (ids do not overlap),
        process ``i`` on ``ports[i % len(ports)]`` (the workers of a cluster in turn);
        ``hub``: the Unix socket where process 0 hears from the others (``sio-fanout``)."""
        procs: list[LoadgenProcess] = []
        offset = 0
        for index in range(count):
            share = clients // count + (1 if index < clients % count else 0)
            args = [*base_args, "--port", str(ports[index % len(ports)])]
            args += ["--clients", str(share), "--id-offset", str(offset)]
            args += ["--index", str(index), "--procs", str(count)]
            args += ["--hub", str(hub)] if hub is not None else []
            procs.append(LoadgenProcess(args, log_dir / f"{label}-loadgen{index}.log"))
            offset += share
        return cls(procs)

    def broadcast(self, command: str) -> None:
        """Send one command to every process."""
        for proc in self.procs:
            proc.send(command)

    def expect_all(self, name: str, timeout: float) -> list[Event]:
        """The event ``name`` from every process."""
        deadline = time.monotonic() + timeout
        return [proc.expect(name, max(0.1, deadline - time.monotonic())) for proc in self.procs]

    def cpu_seconds(self) -> float:
        """CPU time used so far by all the processes."""
        return sum(proc.cpu_seconds() for proc in self.procs)

    def finish(self) -> None:
        """End every process."""
        for proc in self.procs:
            proc.finish()
