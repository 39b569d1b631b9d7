"""The scenarios and how one of them is run against one running server."""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loadgen import Event, LoadgenError, LoadgenGroup
from .servers import CONFIGS, Config, GcTotals, Serving
from .stats import Histogram

MESSAGE_SIZE = 100
OPEN_TIMEOUT = 30  # seconds, as in scenarios.mjs
CLOSE_TIMEOUT = 20  # seconds a session may take to close
NOT_OPENED = "not opened before the setup deadline"
OPEN_ERRORS = ("open failed", NOT_OPENED)
SESSIONS_PER_LOADGEN = 5000
PING_PROFILES = {"default": (25.0, 20.0), "quick-idle": (1.0, 1.0)}
"""The servers' ping interval and timeout (seconds) of each scenario profile."""


@dataclass(frozen=True)
class Scenario:
    """One load scenario, e.g. 100 WebSocket clients echoing for 8 s."""

    name: str
    loadgen: str  # loadgen.mjs --scenario: ws-echo, sio-echo, sio-fanout, poll-echo, sessions, idle
    clients: int
    duration: float  # the measured window (the hold, for idle)
    warmup: float
    profile: str = "default"  # the server's ping settings: "default" or "idle"
    procs: int = 0  # load-generator processes (0: one per 5,000 clients)
    connect_concurrency: int = 100  # sessions being opened at once, per process
    open_deadline: float = 0.0  # seconds to open the sessions before going on (0: no limit)
    spread: bool = False  # clients spread over the workers of a Redis configuration (see runs_on)

    @property
    def unit(self) -> str:
        """What the rate counts."""
        return {"sessions": "sessions/s", "sio-fanout": "deliveries/s"}.get(self.loadgen, "msg/s")

    @property
    def socketio(self) -> bool:
        """Whether it speaks Socket.IO (it runs on the Socket.IO servers only)."""
        return self.loadgen in ("sio-echo", "sio-fanout")

    @property
    def loadgen_procs(self) -> int:
        """How many load-generator processes share the clients."""
        return self.procs or max(1, math.ceil(self.clients / SESSIONS_PER_LOADGEN))

    def title(self) -> str:
        """A one-line description for the tables."""
        d = f"{self.duration:g} s"
        n = f"{self.clients:,}"
        return {
            "ws-echo": f"WebSocket echo, {n} clients, closed loop, {d}",
            "sio-echo": f"Socket.IO emit with an ack over WebSocket, {n} clients, closed loop, {d}",
            "sio-fanout": f"Socket.IO broadcast to a room of {n} clients over WebSocket, "
            + ("spread over the workers, " if self.spread else "")
            + f"one tick in flight, {d}",
            "poll-echo": f"Polling echo, {n} clients, closed loop, {d}",
            "sessions": f"New WebSocket sessions, {n} concurrent clients, {d}",
            "idle": f"Idle memory, {n} WebSocket sessions held {d}",
        }[self.loadgen]


@dataclass
class RunResult:
    """The figures of one scenario run on one configuration."""

    scenario: str
    config: str
    rep: int
    ok: bool = True
    error: str | None = None
    rate: float | None = None
    count: int = 0
    elapsed_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu_pct: float | None = None
    redis_cpu_pct: float | None = None  # the Redis server's, for a Redis configuration
    loadgen_cpu_pct: float | None = None
    gc_pct: float | None = None  # the collector's share of the server's CPU time
    gc_collections: list[int] | None = None  # collections of generations 0, 1, 2
    opened: int = 0
    failed_opens: int = 0
    unexpected_closes: int = 0
    mismatches: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    server_log_problems: list[str] = field(default_factory=list)
    memory: dict[str, Any] | None = None
    wall_s: float = 0.0  # the whole run: setup, warm-up, window, close

    def failure_count(self) -> int:
        """Every failed open, drop, mismatch, error (and 1 for a failed run)."""
        other = sum(n for kind, n in self.errors.items() if kind not in OPEN_ERRORS)
        return (
            self.failed_opens
            + self.unexpected_closes
            + self.mismatches
            + other
            + len(self.server_log_problems)
            + (0 if self.ok else 1)
        )


def runs_on(scenario: Scenario, config: Config) -> bool:
    """Whether ``scenario`` runs on ``config``. A Redis configuration runs only the
    scenarios whose clients are spread over its workers; these also run on one worker
    of engineio_sc's Socket.IO server, without Redis, their reference. The others run
    on the configurations of their protocol."""
    if config.redis or scenario.spread:
        return scenario.spread and (config.redis or config.app == "sio_native")
    return config.socketio == scenario.socketio


@dataclass(frozen=True)
class Saved:
    """A run of the suite as ``run.py --json`` writes it: the environment, the
    scenarios and every run."""

    environment: dict[str, Any]
    scenarios: list[Scenario]
    runs: list[RunResult]

    @classmethod
    def read(cls, path: Path) -> Saved:
        """Read a ``--json`` file."""
        data = json.loads(path.read_text())
        return cls(
            data["environment"],
            [Scenario(**s) for s in data["scenarios"]],
            [RunResult(**r) for r in data["runs"]],
        )

    def write(self, path: Path) -> None:
        """Write it as ``--json`` does."""
        data = {
            "environment": self.environment,
            "scenarios": [dataclasses.asdict(s) for s in self.scenarios],
            "runs": [dataclasses.asdict(r) for r in self.runs],
        }
        path.write_text(json.dumps(data, indent=2) + "\n")

    @property
    def configs(self) -> list[Config]:
        """The configurations that ran, in the suite's order."""
        names = {r.config for r in self.runs}
        return [c for c in CONFIGS if c.name in names]

    @property
    def repeat(self) -> int:
        """How many repetitions ran."""
        return max((r.rep for r in self.runs), default=0)


@dataclass
class _Samples:
    """CPU and wall-clock readings at the start and the end of the measured window."""

    server_cpu: float = 0.0
    loadgen_cpu: float = 0.0
    wall: float = 0.0
    gc: GcTotals | None = None
    redis_cpu: float | None = None

    @classmethod
    def take(cls, server: Serving, group: LoadgenGroup) -> _Samples:
        gc = server.gc_totals()
        redis = server.redis_cpu_seconds()
        return cls(server.cpu_seconds(), group.cpu_seconds(), time.monotonic(), gc, redis)


def _loadgen_args(scenario: Scenario, raw: bool) -> list[str]:
    """The arguments of every load-generator process but its port (see LoadgenGroup)."""
    deadline = _setup_timeout(scenario) + scenario.warmup + scenario.duration + 120
    args = ["--scenario", scenario.loadgen]
    args += [
        "--size",
        str(MESSAGE_SIZE),
        "--connect-concurrency",
        str(scenario.connect_concurrency),
    ]
    args += ["--deadline", str(math.ceil(deadline)), "--close-timeout", str(CLOSE_TIMEOUT)]
    if scenario.open_deadline:
        args += ["--open-deadline", str(scenario.open_deadline)]
    if not raw:
        return args
    if scenario.loadgen == "idle":  # the bare server's sessions echo a frame as often as pings come
        args += ["--idle-echo", str(PING_PROFILES[scenario.profile][0])]
    return [*args, "--raw"]


def _setup_timeout(scenario: Scenario) -> float:
    if scenario.open_deadline:
        return scenario.open_deadline + OPEN_TIMEOUT + 10
    return 60 + scenario.clients / 100


def _record_failures(result: RunResult, events: list[Event]) -> None:
    """Add up the failures the load generators reported (their counts are cumulative)."""
    for event in events:
        failures = event.get("failures", {})
        for kind, n in failures.get("errors", {}).items():
            result.errors[kind] = result.errors.get(kind, 0) + int(n)
        result.mismatches += int(failures.get("mismatches", 0))
        result.unexpected_closes += int(failures.get("unexpected_closes", 0))
        result.samples += [str(s) for s in failures.get("samples", [])][:5]
    result.failed_opens = sum(n for kind, n in result.errors.items() if kind in OPEN_ERRORS)


def _record_window(result: RunResult, events: list[Event], start: _Samples, end: _Samples) -> None:
    """Rate, latency and CPU of the measured window."""
    latency = Histogram.merge([Histogram.from_json(e["latency"]) for e in events])
    result.count = sum(int(e["count"]) for e in events)
    result.elapsed_s = max(float(e["elapsed_s"]) for e in events)
    result.rate = sum(float(e["count"]) / float(e["elapsed_s"]) for e in events)
    result.p50_ms = latency.quantile_ms(0.50)
    result.p99_ms = latency.quantile_ms(0.99)
    wall = end.wall - start.wall
    result.server_cpu_pct = 100 * (end.server_cpu - start.server_cpu) / wall
    result.loadgen_cpu_pct = 100 * (end.loadgen_cpu - start.loadgen_cpu) / wall
    if start.redis_cpu is not None and end.redis_cpu is not None:
        result.redis_cpu_pct = 100 * (end.redis_cpu - start.redis_cpu) / wall
    cpu = end.server_cpu - start.server_cpu
    if start.gc is not None and end.gc is not None:
        if cpu > 0:
            result.gc_pct = 100 * (end.gc.gc_s - start.gc.gc_s) / cpu
        pairs = zip(start.gc.collections, end.gc.collections, strict=True)
        result.gc_collections = [after - before for before, after in pairs]


def _drive(result: RunResult, scenario: Scenario, server: Serving, group: LoadgenGroup) -> None:
    """Set up, warm up, measure, stop and close; fills ``result``."""
    memory: dict[str, Any] = {"rss_before_kib": server.rss_kib()}
    ready = group.expect_all("ready", _setup_timeout(scenario))
    result.opened = sum(int(e["open"]) for e in ready)
    memory["open_s"] = max(float(e.get("open_s") or 0) for e in ready)
    memory["rss_open_kib"] = server.rss_kib()
    group.broadcast("go")
    time.sleep(scenario.warmup)
    start = _Samples.take(server, group)
    group.broadcast("measure")
    time.sleep(scenario.duration)
    memory["rss_held_kib"] = server.rss_kib()
    end = _Samples.take(server, group)
    group.broadcast("stop")
    results = group.expect_all("result", 60)
    _record_window(result, results, start, end)
    group.broadcast("close")
    closed = group.expect_all("closed", CLOSE_TIMEOUT + 40)
    memory["close_s"] = max(float(e.get("close_s") or 0) for e in closed)
    _record_failures(result, closed)
    if scenario.loadgen == "idle":
        time.sleep(min(1.0, scenario.duration / 2))
        memory["rss_after_close_kib"] = server.rss_kib()
        result.memory = _memory_figures(memory, result, results)


def _memory_figures(
    memory: dict[str, Any], result: RunResult, results: list[Event]
) -> dict[str, Any]:
    """KiB per session above the level before, sessions dropped, pings seen."""
    still_open = sum(int(e["open"]) for e in results)
    pings = [e["pings_min"] for e in results if e.get("pings_min") is not None]
    per_session = (memory["rss_held_kib"] - memory["rss_before_kib"]) / max(1, result.opened)
    return {
        **memory,
        "sessions": result.opened,
        "kib_per_session": per_session,
        "dropped": max(result.opened - still_open, result.unexpected_closes),
        "pings_min": min(pings) if pings else None,
        "pings_total": sum(int(e.get("pings_total") or 0) for e in results),
        "pings_window": sum(int(e.get("pings_window") or 0) for e in results),
        "pings_late": sum(int(e.get("pings_late") or 0) for e in results),
        "ping_gap_max_s": max((float(e.get("ping_gap_max_s") or 0) for e in results), default=0),
    }


def run_scenario(
    scenario: Scenario, server: Serving, config_name: str, rep: int, log_dir: Path
) -> RunResult:
    """Run ``scenario`` against the running ``server`` and return its figures."""
    result = RunResult(scenario.name, config_name, rep)
    started = time.monotonic()
    known_problems = len(server.log_problems())
    raw = not server.config.engineio
    label = f"rep{rep}-{config_name.replace('/', '_')}-{scenario.name}"
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        group = LoadgenGroup.start(
            _loadgen_args(scenario, raw),
            server.ports,
            scenario.clients,
            scenario.loadgen_procs,
            log_dir,
            label,
            hub=Path(scratch) / "hub.sock" if scenario.loadgen == "sio-fanout" else None,
        )
        try:
            _drive(result, scenario, server, group)
        except LoadgenError as exc:
            result.ok = False
            result.error = str(exc)
        finally:
            group.finish()
    result.server_log_problems = server.log_problems()[known_problems:][:20]
    result.wall_s = time.monotonic() - started
    if not server.running():
        result.ok = False
        result.error = (result.error or "") + f" server died: {server.log_tail()}"
    return result
