"""Medians, spreads and ratios over the repetitions, as Markdown tables."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .scenarios import OPEN_ERRORS, RunResult, Scenario
from .servers import APP_TITLES, SERVERS, Config
from .stats import Spread, spread

Getter = Callable[[RunResult], float | None]


def _memory(key: str, scale: float = 1.0) -> Getter:
    def get(run: RunResult) -> float | None:
        value = None if run.memory is None else run.memory.get(key)
        return None if value is None else float(value) / scale

    return get


@dataclass(frozen=True)
class Column:
    """One figure of a table: how to read it from a run and how to print it."""

    title: str
    get: Getter
    digits: str  # "int", "ms", "pct", "one"


def _rate(run: RunResult) -> float | None:
    return run.rate if run.ok else None


def _field(name: str) -> Getter:
    def get(run: RunResult) -> float | None:
        value = getattr(run, name)
        return None if value is None or not run.ok else float(value)

    return get


server_cpu = _field("server_cpu_pct")
"""The server's CPU use in the measured window (the hold, for idle sessions), % of a core."""
kib_per_session = _memory("kib_per_session")
"""The worker's memory per idle session: its RSS held above its RSS before, per session opened."""


def open_rate(run: RunResult) -> float | None:
    """Idle sessions opened per second of opening them."""
    if not run.ok or run.memory is None:
        return None
    seconds = run.memory.get("open_s")
    return float(run.memory["sessions"]) / float(seconds) if seconds else None


def pings_per_second(run: RunResult) -> float | None:
    """Pings the idle sessions answered per second of the hold."""
    if not run.ok or run.memory is None or not run.elapsed_s:
        return None
    pings = run.memory.get("pings_window")
    return None if pings is None else float(pings) / run.elapsed_s


def us_per_ping(run: RunResult) -> float | None:
    """The server's CPU time per ping-pong cycle while it holds idle sessions: its
    CPU in the hold ÷ the pings answered then (µs)."""
    rate = pings_per_second(run)
    if not rate or run.server_cpu_pct is None:
        return None
    return run.server_cpu_pct / 100 / rate * 1e6


def us_per_message(run: RunResult) -> float | None:
    """The server's CPU time per message echoed (µs): its CPU ÷ its rate."""
    if not run.ok or not run.rate or run.server_cpu_pct is None:
        return None
    return run.server_cpu_pct / 100 / run.rate * 1e6


def columns(scenario: Scenario) -> list[Column]:
    """The figures shown for ``scenario``: throughput tables, or the memory table."""
    cpu = [
        Column("server CPU %", server_cpu, "pct"),
        Column("loadgen CPU %", _field("loadgen_cpu_pct"), "pct"),
        Column("GC % of server CPU", _field("gc_pct"), "pct"),
    ]
    if scenario.loadgen == "idle":
        return [
            Column("KiB/session", kib_per_session, "one"),
            Column("sessions opened", _memory("sessions"), "int"),
            Column("RSS before MiB", _memory("rss_before_kib", 1024), "one"),
            Column("RSS held MiB", _memory("rss_held_kib", 1024), "one"),
            Column("RSS after close MiB", _memory("rss_after_close_kib", 1024), "one"),
            Column("open s", _memory("open_s"), "one"),
            Column("close s", _memory("close_s"), "one"),
            Column("dropped", _memory("dropped"), "int"),
            Column("min pings/session", _memory("pings_min"), "int"),
            Column("late pings", _memory("pings_late"), "int"),
            Column("pings/s held", pings_per_second, "int"),
            Column("server µs/ping", us_per_ping, "int"),
            *cpu,
        ]
    latency = {"sessions": "open", "sio-fanout": "last client"}.get(scenario.loadgen, "RTT")
    redis = [Column("Redis CPU %", _field("redis_cpu_pct"), "pct")] if scenario.spread else []
    return [
        Column(scenario.unit, _rate, "int"),
        Column(f"{latency} p50 ms", _field("p50_ms"), "ms"),
        Column(f"{latency} p99 ms", _field("p99_ms"), "ms"),
        *cpu,
        *redis,
    ]


def _number(value: float, digits: str) -> str:
    if digits == "int":
        return f"{value:,.0f}"
    if digits == "pct":
        return f"{value:.0f}"
    if digits == "one":
        return f"{value:,.1f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def format_spread(value: Spread | None, digits: str) -> str:
    """``median (min-max)``, or just the value for a single repetition."""
    if value is None:
        return "-"
    if value.n == 1 or value.low == value.high:
        return _number(value.median, digits)
    low, high = _number(value.low, digits), _number(value.high, digits)
    return f"{_number(value.median, digits)} ({low}-{high})"


def _runs_of(runs: Sequence[RunResult], scenario: str, config: str) -> list[RunResult]:
    return [r for r in runs if r.scenario == scenario and r.config == config]


def _by_rep(runs: Sequence[RunResult], scenario: Scenario, config: str) -> dict[int, float | None]:
    get = columns(scenario)[0].get
    return {r.rep: get(r) for r in _runs_of(runs, scenario.name, config)}


def figure(
    runs: Sequence[RunResult], scenario: Scenario, config: str, get: Getter | None = None
) -> Spread | None:
    """One figure of a configuration over the repetitions (by default the scenario's
    first: its rate, or KiB per idle session), as the tables show it."""
    get = get or columns(scenario)[0].get
    return spread([get(r) for r in _runs_of(runs, scenario.name, config)])


def _paired(
    mine: dict[int, float | None],
    other: dict[int, float | None],
    combine: Callable[[float, float], float],
) -> dict[int, float | None]:
    """``combine(mine, other)`` within each repetition (``None`` where either is missing)."""
    paired: dict[int, float | None] = {}
    for rep, value in mine.items():
        base = other.get(rep)
        paired[rep] = None if value is None or base is None else combine(value, base)
    return paired


def paired_ratios(mine: dict[int, float | None], other: dict[int, float | None]) -> Spread | None:
    """The ratio of two figures within each repetition, over the repetitions.

    The configurations of one scenario run back to back within a repetition, so
    a ratio taken there is not moved by the machine's drift between repetitions,
    which a ratio of two medians (each from its own repetitions) would be.
    """
    nonzero = {rep: value or None for rep, value in other.items()}
    return spread(list(_paired(mine, nonzero, operator.truediv).values()))


def reference(scenario: Scenario, config: Config) -> Config:
    """What a chart measures ``config`` against in ``scenario``, on the same server: its
    ceiling, or in a scenario spread over workers, engineio_sc's Socket.IO server on
    one worker."""
    return Config("sio_native", config.server) if scenario.spread else config.ceiling


def reference_ratio(runs: Sequence[RunResult], scenario: Scenario, config: Config) -> Spread | None:
    """The configuration's first figure ÷ its reference's (the ÷ bare column, or
    ÷ one worker), taken within each repetition."""
    other = reference(scenario, config).name
    return paired_ratios(_by_rep(runs, scenario, config.name), _by_rep(runs, scenario, other))


def _ratio(value: Spread | None) -> str:
    if value is None:
        return "-"
    if value.n == 1 or value.low == value.high:
        return f"{value.median:.2f}x"
    return f"{value.median:.2f}x ({value.low:.2f}-{value.high:.2f})"


REFERENCES = {
    "eio_sc": {"pyeio": "pyeio", "bare": "bare"},
    "sio_native": {"pyeio": "sio_pyeio", "bare": "bare_sio"},
    "sio_sc": {"pyeio": "sio_pyeio", "bare": "bare_sio"},
    "sio_pyeio": {"bare": "bare_sio"},
    "sio_redis": {"single": "sio_native"},
    "sio_cluster": {"single": "sio_native"},
}
"""For each application with ratios, the applications of the tables' ratio columns
on the same server: ÷ python-engineio and ÷ bare (the bare echo) in the Engine.IO
tables; ÷ python-socketio (on python-engineio) and ÷ bare (the bare Socket.IO
server) in the Socket.IO tables; ÷ one worker (engineio_sc's Socket.IO server alone,
without Redis) in the tables of the clients spread over workers."""


def _ratio_columns(scenario: Scenario) -> dict[str, str]:
    """The ratio columns of a table: the key of each in ``REFERENCES``, and its title."""
    what = "KiB/session" if scenario.loadgen == "idle" else scenario.unit
    if scenario.spread:
        return {"single": f"{what} ÷ one worker"}
    if scenario.socketio:
        return {"pyeio": f"{what} ÷ python-socketio", "bare": f"{what} ÷ bare"}
    return {"pyeio": f"{what} ÷ python-engineio", "bare": f"{what} ÷ bare"}


def _row(runs: Sequence[RunResult], scenario: Scenario, config: Config) -> list[str]:
    mine = _runs_of(runs, scenario.name, config.name)
    cells = [f"{APP_TITLES[config.app]} / {config.server}"]
    cells += [
        format_spread(figure(runs, scenario, config.name, c.get), c.digits)
        for c in columns(scenario)
    ]
    headline = _by_rep(runs, scenario, config.name)
    references = REFERENCES.get(config.app)
    for column in _ratio_columns(scenario):
        if references is None:
            cells.append("")
            continue
        other_app = references.get(column)
        other = {} if other_app is None else _by_rep(runs, scenario, f"{other_app}/{config.server}")
        cells.append(_ratio(paired_ratios(headline, other)))
    failed = sum(r.failure_count() for r in mine)
    cells.append(f"{failed} in {len(mine)} runs" if failed else "0")
    return cells


def table(runs: Sequence[RunResult], scenario: Scenario, configs: Sequence[Config]) -> str:
    """The Markdown table of one scenario: one row per configuration that ran it."""
    present = [c for c in configs if _runs_of(runs, scenario.name, c.name)]
    if not present:
        return ""
    titles = ["configuration", *(c.title for c in columns(scenario))]
    titles += [*_ratio_columns(scenario).values(), "failures"]
    lines = [
        f"### {scenario.name}: {scenario.title()}",
        "",
        "| " + " | ".join(titles) + " |",
        "|" + "|".join([":--"] + ["--:"] * (len(titles) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(_row(runs, scenario, c)) + " |" for c in present]
    return "\n".join(lines) + "\n"


def failure_notes(runs: Sequence[RunResult]) -> str:
    """One bullet per run that failed or reported errors, with the first samples."""
    notes = []
    for run in runs:
        if run.failure_count() == 0:
            continue
        parts = [f"rep {run.rep}, {run.config}, {run.scenario}:"]
        if run.error:
            parts.append(f"run failed: {run.error.strip()[:500]}")
        counts = {
            "failed opens": run.failed_opens,
            "unexpected closes": run.unexpected_closes,
            "mismatches": run.mismatches,
            **{k: v for k, v in run.errors.items() if k not in OPEN_ERRORS},
            "server log problem lines": len(run.server_log_problems),
        }
        parts.append(", ".join(f"{k}: {v}" for k, v in counts.items() if v))
        parts += [f"`{s[:200]}`" for s in run.samples[:3]]
        parts += [f"server: `{line[:200]}`" for line in run.server_log_problems[:3]]
        notes.append("- " + " ".join(parts))
    return "\n".join(notes) + ("\n" if notes else "")


Measure = Callable[[Sequence[RunResult], Scenario, str], dict[int, float | None]]
"""One figure of a configuration in a scenario, by repetition."""


def _measure(get: Getter) -> Measure:
    def measure(
        runs: Sequence[RunResult], scenario: Scenario, config: str
    ) -> dict[int, float | None]:
        return {r.rep: get(r) for r in _runs_of(runs, scenario.name, config)}

    return measure


def _share(runs: Sequence[RunResult], scenario: Scenario, config: str) -> dict[int, float | None]:
    """The configuration's first figure ÷ its ceiling's on the same server, by repetition."""
    ceiling = Config(*config.split("/", 1)).ceiling.name
    nonzero = {rep: value or None for rep, value in _by_rep(runs, scenario, ceiling).items()}
    return _paired(_by_rep(runs, scenario, config), nonzero, operator.truediv)


def _failures(run: RunResult) -> float:
    return float(run.failure_count())


def _added_kib(
    runs: Sequence[RunResult], scenario: Scenario, config: str
) -> dict[int, float | None]:
    """KiB per idle session above the bare echo on the same server, by repetition."""
    bare = _by_rep(runs, scenario, Config(*config.split("/", 1)).ceiling.name)
    return _paired(_by_rep(runs, scenario, config), bare, operator.sub)


@dataclass(frozen=True)
class Target:
    """One of the suite's goals: a ratio (the median of its value in each
    repetition), at least (or at most) ``bound``; a difference in points
    (``unit="points"``); a figure of one configuration (no ``other``); or, with no
    bound, a ratio to read against a ceiling, which ``reading`` puts in words
    (``{}``: the median)."""

    what: str
    scenario: str
    mine: str  # configuration
    other: str | None  # configuration (or the same one, with ``other_scenario``); None: none
    bound: float | None
    other_scenario: str | None = None
    at_most: bool = False  # lower is better
    reading: str = ""
    measure: Measure | None = None  # default: the tables' first figure
    other_measure: Measure | None = None  # default: ``measure``
    unit: str = "x"  # "x": a ratio, "points": a difference, else the figure's own unit


SOCKETIO_TITLES = (
    ("Socket.IO emit with an ack, 100 clients", "sio-echo"),
    ("Socket.IO broadcast deliveries, room of 1,000", "sio-fanout"),
)

TARGETS = (
    Target("WebSocket echo, 100 clients", "ws-echo", "eio_sc/uvicorn", "pyeio/uvicorn", 2.0),
    Target(
        "WebSocket echo, 100 clients",
        "ws-echo",
        "eio_sc/hypercorn-asyncio",
        "pyeio/hypercorn-asyncio",
        1.4,
    ),
    Target(
        "Socket.IO emit with an ack, 100 clients (python-socketio on each engine)",
        "sio-echo",
        "sio_sc/uvicorn",
        "sio_pyeio/uvicorn",
        1.5,
    ),
    *(
        target
        for title, scenario in SOCKETIO_TITLES
        for target in (
            Target(
                f"{title} (÷ python-socketio)",
                scenario,
                "sio_native/uvicorn",
                "sio_pyeio/uvicorn",
                4.0,
            ),
            Target(
                f"{title} (÷ bare Socket.IO: the share of the ceiling)",
                scenario,
                "sio_native/uvicorn",
                "bare_sio/uvicorn",
                None,
                reading="{:.0%} of the ceiling",
            ),
            Target(
                f"{title}: the ceiling ÷ python-socketio (the most any ratio above can be)",
                scenario,
                "bare_sio/uvicorn",
                "sio_pyeio/uvicorn",
                None,
                reading="no server passes {:.2f}x python-socketio here",
            ),
        )
    ),
    *(
        Target(
            "Socket.IO emit with an ack ÷ the engine's WebSocket echo, 100 clients",
            "sio-echo",
            f"sio_native/{server}",
            f"eio_sc/{server}",
            0.5,
            other_scenario="ws-echo",
        )
        for server in ("hypercorn-trio", "hypercorn-asyncio", "uvicorn")
    ),
    *(
        Target(
            "WebSocket echo, 100 clients (÷ bare)",
            "ws-echo",
            f"eio_sc/{server}",
            f"bare/{server}",
            bound,
        )
        for server, bound in (("hypercorn-trio", 0.9), ("hypercorn-asyncio", 0.9), ("uvicorn", 0.8))
    ),
    *(
        Target(
            "WebSocket echo: the share of the ceiling at 1,000 clients ÷ at 100",
            "ws-echo-1000",
            f"eio_sc/{server}",
            f"eio_sc/{server}",
            1.0,
            other_scenario="ws-echo",
            measure=_share,
        )
        for server in SERVERS
    ),
    *(
        Target(
            "Socket.IO broadcast deliveries, 3,000 clients: 3 workers through Redis ÷ one worker",
            "sio-fanout-cluster",
            f"sio_cluster/{server}",
            f"sio_native/{server}",
            None,
            reading="{:.2f}x the deliveries of one worker",
        )
        for server in SERVERS
    ),
    Target(
        "The collector's share of the server's CPU, WebSocket echo, 1,000 clients, minus bare's",
        "ws-echo-1000",
        "eio_sc/hypercorn-trio",
        "bare/hypercorn-trio",
        5.0,
        at_most=True,
        measure=_measure(_field("gc_pct")),
        unit="points",
    ),
    *(
        Target(title, scenario, f"eio_sc/{server}", f"bare/{server}", bound)
        for title, scenario, bound in (
            ("polling echo, 100 clients (÷ bare)", "poll-echo", 0.85),
            ("new sessions per second (÷ bare)", "sessions", 0.75),
        )
        for server in SERVERS
    ),
    *(
        Target(title, scenario, f"eio_sc/{server}", f"pyeio/{server}", bound)
        for title, scenario, bound in (
            ("polling echo, 100 clients", "poll-echo", 2.0),
            ("new sessions per second", "sessions", 1.5),
        )
        for server in ("hypercorn-asyncio", "uvicorn")
    ),
    Target(
        "10,000 idle sessions: failures (opens, drops, errors)",
        "idle-10k",
        "eio_sc/hypercorn-trio",
        None,
        0.0,
        at_most=True,
        measure=_measure(_failures),
        unit="failures",
    ),
    Target(
        "10,000 idle sessions: time to open them (÷ bare)",
        "idle-10k",
        "eio_sc/hypercorn-trio",
        "bare/hypercorn-trio",
        1.5,
        at_most=True,
        measure=_measure(_memory("open_s")),
    ),
    Target(
        "10,000 idle sessions: pings later than the interval (+1 s)",
        "idle-10k",
        "eio_sc/hypercorn-trio",
        None,
        0.0,
        at_most=True,
        measure=_measure(_memory("pings_late")),
        unit="late pings",
    ),
    Target(
        "10,000 idle sessions: server CPU while holding them",
        "idle-10k",
        "eio_sc/hypercorn-trio",
        None,
        10.0,
        at_most=True,
        measure=_measure(server_cpu),
        unit="% of a core",
    ),
    *(
        target
        for server in SERVERS
        for target in (
            Target(
                "50,000 idle sessions: failures (opens, drops, errors) and late pings",
                "idle-50k",
                f"eio_sc/{server}",
                None,
                0.0,
                at_most=True,
                measure=_measure(
                    lambda run: _failures(run) + float((run.memory or {}).get("pings_late") or 0)
                ),
                unit="failures",
            ),
            Target(
                "50,000 idle sessions: server CPU per ping-pong cycle ÷ the bare server's per "
                "echo of a one-byte frame, each session echoing one as often as pings come",
                "idle-50k",
                f"eio_sc/{server}",
                f"bare/{server}",
                1.3,
                at_most=True,
                measure=_measure(us_per_ping),
            ),
            Target(
                "50,000 idle sessions: server CPU per ping-pong cycle ÷ the bare server's per "
                "message of the WebSocket echo (100 clients, flat out)",
                "idle-50k",
                f"eio_sc/{server}",
                f"bare/{server}",
                None,
                other_scenario="ws-echo",
                measure=_measure(us_per_ping),
                other_measure=_measure(us_per_message),
                reading="{:.2f}x: a frame costs more alone than in a busy loop",
            ),
            Target(
                "50,000 idle sessions: KiB added per session above bare",
                "idle-50k",
                f"eio_sc/{server}",
                None,
                5.0,
                at_most=True,
                measure=_added_kib,
                unit="KiB",
            ),
        )
    ),
)


def _value(value: Spread | None, unit: str) -> str:
    if unit == "x" or value is None:
        return _ratio(value)
    if value.n == 1 or value.low == value.high:
        return f"{value.median:,.1f} {unit}"
    return f"{value.median:,.1f} ({value.low:,.1f}-{value.high:,.1f}) {unit}"


def _judge(target: Target, runs: Sequence[RunResult], by_name: dict[str, Scenario]) -> list[str]:
    """The figure of one goal and whether it is met, or what it reads as (or why it
    is not measured)."""
    scenario = by_name[target.scenario]
    other_scenario = by_name.get(target.other_scenario or target.scenario)
    if other_scenario is None:
        return ["-", f"not measured: needs `{target.other_scenario}` in the same run"]
    measure = target.measure or _by_rep
    mine = measure(runs, scenario, target.mine)
    if target.other is None:
        value = spread(list(mine.values()))
    else:
        other = (target.other_measure or measure)(runs, other_scenario, target.other)
        if target.unit == "points":
            value = spread(list(_paired(mine, other, operator.sub).values()))
        else:
            value = paired_ratios(mine, other)
    if value is None:
        return ["-", "not measured"]
    if target.bound is None:
        return [_value(value, target.unit), target.reading.format(value.median)]
    ok = value.median <= target.bound if target.at_most else value.median >= target.bound
    return [_value(value, target.unit), "yes" if ok else "no"]


def targets(runs: Sequence[RunResult], scenarios: Sequence[Scenario]) -> str:
    """The Markdown table of the goals of the scenarios run: each ratio (median over
    the repetitions, and its range), and whether it is met."""
    by_name = {s.name: s for s in scenarios}
    lines = [
        "| goal | configuration | ratio | target | met |",
        "|:--|:--|--:|--:|:--|",
    ]
    for target in TARGETS:
        if target.scenario not in by_name:
            continue
        ratio, met = _judge(target, runs, by_name)
        if target.bound is None:
            bound = "-"
        else:
            sign = "≤" if target.at_most else "≥"
            unit = "x" if target.unit == "x" else f" {target.unit}"
            bound = (
                f"{sign} {target.bound:.2f}{unit}"
                if unit == "x"
                else f"{sign} {target.bound:g}{unit}"
            )
        lines.append(f"| {target.what} | {target.mine} | {ratio} | {bound} | {met} |")
    return "\n".join(lines) + "\n"
