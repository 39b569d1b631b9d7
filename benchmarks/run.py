"""Benchmark runner: engineio_sc against python-engineio and a bare echo.

From the repository root, after ``pip install -e ".[bench]"`` and ``npm ci`` in
``benchmarks/loadgen``::

    python benchmarks/run.py --quick                  # smoke run, under a minute
    python benchmarks/run.py --repeat 3 --json out.json --markdown benchmarks/results/latest.md
    python benchmarks/charts.py out.json              # the charts of a saved run, again

Every configuration (application x ASGI server) runs as a subprocess on 127.0.0.1;
the Node.js load generator (``benchmarks/loadgen``) drives each scenario. The
configurations are interleaved within each repetition, and the tables show the
median of the repetitions with their range; with ``--markdown``, charts of them
(SVG) are written next to the tables. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fnmatch
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib import charts, report
from benchlib.cluster import RedisCluster
from benchlib.loadgen import LOADGEN_DIR, LoadgenError, node_binary
from benchlib.scenarios import PING_PROFILES, RunResult, Saved, Scenario, run_scenario, runs_on
from benchlib.servers import CONFIGS, Config, ServerProcess, Serving

HERE = Path(__file__).resolve().parent
SCENARIO_NAMES = (
    "ws-echo",
    "ws-echo-1000",
    "sio-echo",
    "sio-fanout",
    "sio-fanout-cluster",
    "poll-echo",
    "sessions",
    "idle-1k",
    "idle-10k",
    "idle-50k",
)
IDLE_SIZES = {"idle-1k": 1_000, "idle-10k": 10_000, "idle-50k": 50_000}
IDLE_HOLDS = {"idle-1k": 30.0, "idle-10k": 30.0, "idle-50k": 60.0}  # seconds, with 25 s pings
CLUSTER_PROCS = 3
"""Load-generator processes of sio-fanout-cluster, whatever --loadgen-procs says: one
per worker of the largest cluster, each one's clients on its own worker."""
NOT_VERSIONS = (
    "date",
    "command",
    "cpus",
    "cpu_model",
    "kernel",
    "gc_threshold",
    "skipped",
    "open_files_limit",
)
PACKAGES = (
    "engineio_sc",
    "python-engineio",
    "python-socketio",
    "hypercorn",
    "uvicorn",
    "trio",
    "anyio",
    "wsproto",
    "h11",
    "websockets",
    "httptools",
    "uvloop",
)


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    """The scenarios at full size, or small and short with ``--quick``; overrides applied."""
    quick = args.quick
    d = args.duration or (0.5 if quick else 6.0)
    w = args.warmup if args.warmup is not None else (0.2 if quick else 1.0)
    idle_profile = "quick-idle" if quick else "default"
    return [
        Scenario("ws-echo", "ws-echo", 50 if quick else 100, d, w),
        Scenario("ws-echo-1000", "ws-echo", 200 if quick else 1000, d, w),
        Scenario("sio-echo", "sio-echo", 50 if quick else 100, d, w),
        Scenario("sio-fanout", "sio-fanout", 100 if quick else 1000, d, w),
        Scenario(
            "sio-fanout-cluster",
            "sio-fanout",
            300 if quick else 3000,
            d,
            w,
            procs=CLUSTER_PROCS,
            spread=True,
        ),
        Scenario("poll-echo", "poll-echo", 20 if quick else 100, d, w),
        Scenario("sessions", "sessions", args.sessions_clients or (8 if quick else 32), d, w),
        *(
            Scenario(
                name,
                "idle",
                size // 100 if quick else size,
                args.idle_hold or (1.3 if quick else IDLE_HOLDS[name]),
                0.0,
                profile=idle_profile,
                procs=args.loadgen_procs,
                open_deadline=args.idle_open_deadline or (20.0 if quick else max(45.0, size / 500)),
            )
            for name, size in IDLE_SIZES.items()
        ),
    ]


def _matches(config: Config, patterns: Sequence[str]) -> bool:
    """``eio_sc`` or ``uvicorn`` select by part, ``eio_sc/hyper*`` by glob."""
    parts = (config.app, config.server)
    return any(p in parts or fnmatch.fnmatch(config.name, p) for p in patterns)


def _apply_loadgen_procs(chosen: list[Scenario], procs: int) -> list[Scenario]:
    """``--loadgen-procs``, but for the scenarios that spread their clients over workers."""
    if not procs:
        return chosen
    return [s if s.spread else dataclasses.replace(s, procs=procs) for s in chosen]


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's (and so its children's) open-files limit as far as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        with contextlib.suppress(ValueError, OSError):  # raising the hard limit needs root
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            soft, hard = needed, needed
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        print(f"warning: open-files limit {target} < {needed} needed", file=sys.stderr)
    return target


FD_MARGIN = 1000
"""Open files a server needs besides its sessions' sockets."""


def fit_to_open_files(chosen: list[Scenario], limit: int) -> list[Scenario]:
    """Idle scenarios shrunk to what one server process can hold under ``limit``
    open files (in thousands), each with a warning: a server needs a socket per
    session, and only a privileged process may raise its hard limit."""
    fitted = []
    for scenario in chosen:
        most = (limit - FD_MARGIN) // 1000 * 1000
        if scenario.loadgen == "idle" and scenario.clients > most:
            print(
                f"warning: {scenario.name} holds {most:,} sessions, not {scenario.clients:,}: "
                f"the open-files limit is {limit:,} and cannot be raised here",
                file=sys.stderr,
            )
            scenario = dataclasses.replace(scenario, clients=most)
        fitted.append(scenario)
    return fitted


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _uvicorn_stack() -> str:
    """The loop, HTTP and WebSocket implementations uvicorn's ``auto`` picks here."""
    found = importlib.util.find_spec
    loop = "uvloop" if found("uvloop") else "asyncio"
    http = "httptools" if found("httptools") else "h11"
    ws = "websockets-sansio" if found("websockets") else "wsproto"
    return f"loop={loop} http={http} ws={ws}"


def _git_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" (src/ modified)" if git("status", "--porcelain", "src") else "")


def environment() -> dict[str, Any]:
    """The machine and the versions the figures belong to."""
    node = subprocess.run([node_binary(), "--version"], capture_output=True, text=True, check=True)
    ws_package = json.loads((LOADGEN_DIR / "node_modules/ws/package.json").read_text())
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", *sys.argv]),
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node.stdout.strip(),
        "ws (npm)": ws_package["version"],
        "uvicorn stack": _uvicorn_stack(),
        "git": _git_state(),
        **{p: _version(p) for p in PACKAGES},
        "gc_threshold": os.environ.get("BENCH_GC_THRESHOLD") or "default",
    }


def _progress(result: RunResult, scenario: Scenario) -> str:
    """One line per run for the console."""
    head = f"  {result.config:26} {result.scenario:13}"
    if not result.ok:
        return f"{head} FAILED: {(result.error or '').strip()[:300]}"
    if result.memory is not None:
        m = result.memory
        figures = (
            f"{m['kib_per_session']:.1f} KiB/session ({m['sessions']} sessions), "
            f"open {m['open_s']:.1f} s, close {m['close_s']:.1f} s, "
            f"dropped {m['dropped']}, min pings {m['pings_min']}"
        )
    else:
        figures = (
            f"{result.rate or 0:,.0f} {scenario.unit}, "
            f"p50 {result.p50_ms or 0:.2f} ms, p99 {result.p99_ms or 0:.2f} ms"
        )
    cpu = f"cpu server {result.server_cpu_pct or 0:.0f}% loadgen {result.loadgen_cpu_pct or 0:.0f}%"
    if result.redis_cpu_pct is not None:
        cpu += f" redis {result.redis_cpu_pct:.0f}%"
    if result.gc_pct is not None:
        cpu += f" (gc {result.gc_pct:.0f}%, collections {result.gc_collections})"
    failures = result.failure_count()
    return f"{head} {figures}, {cpu}" + (f", {failures} FAILURES" if failures else "")


def _start_server(config: Config, profile: str, rep: int, log_dir: Path) -> Serving:
    interval, timeout = PING_PROFILES[profile]
    env = {"BENCH_PING_INTERVAL": str(interval), "BENCH_PING_TIMEOUT": str(timeout)}
    log = log_dir / f"rep{rep}-{config.name.replace('/', '_')}-{profile}-server.log"
    server: Serving = (
        RedisCluster(config, env, log) if config.redis else ServerProcess(config, env, log)
    )
    try:
        server.wait_ready()
    except RuntimeError:
        server.stop()
        raise
    return server


def run_config(
    config: Config, chosen: Sequence[Scenario], rep: int, log_dir: Path
) -> list[RunResult]:
    """Every scenario of one configuration: one server per ping profile, restarted if it dies."""
    results: list[RunResult] = []
    for profile in dict.fromkeys(s.profile for s in chosen):
        server: Serving | None = None
        for scenario in (s for s in chosen if s.profile == profile):
            if server is not None and not server.running():
                server.stop()
                server = None
            try:
                server = server or _start_server(config, profile, rep, log_dir)
            except RuntimeError as exc:
                result = RunResult(scenario.name, config.name, rep, ok=False, error=str(exc))
            else:
                result = run_scenario(scenario, server, config.name, rep, log_dir)
            print(_progress(result, scenario), flush=True)
            results.append(result)
        if server is not None:
            status = server.stop()
            if status not in (0, -signal.SIGTERM):  # uvicorn re-raises the SIGTERM it handled
                print(f"  {config.name}: server exited with status {status}", flush=True)
    return results


def run_all(
    configs: Sequence[Config], chosen: Sequence[Scenario], repeat: int, log_dir: Path
) -> list[RunResult]:
    """Every repetition; within one, every scenario, and within that every configuration in
    turn (rotated per repetition) that runs it (``runs_on``), each on a fresh server. The
    configurations compared in a ratio are measured minutes apart at most, so a drift in the
    machine's speed does not land on one side of the ratio."""
    results: list[RunResult] = []
    for rep in range(1, repeat + 1):
        shift = (rep - 1) % len(configs)
        order = [*configs[shift:], *configs[:shift]]
        print(f"repetition {rep}/{repeat}", flush=True)
        for scenario in chosen:
            for config in order:
                if runs_on(scenario, config):
                    results += run_config(config, [scenario], rep, log_dir)
    return results


def render(
    env: dict[str, Any],
    chosen: Sequence[Scenario],
    configs: Sequence[Config],
    results: Sequence[RunResult],
    repeat: int,
) -> str:
    """The Markdown report: command, date, environment, one table per scenario, failures."""
    lines = [
        "# engineio_sc benchmark results",
        "",
        f"- date: {env['date']}",
        f"- command: `{env['command']}`",
        f"- repetitions: {repeat} (each figure: median, and min-max over the repetitions;"
        " each ratio is taken within a repetition, then summarised the same way)",
        f"- machine: {env['cpus']} CPUs ({env['cpu_model']}), Linux {env['kernel']}; "
        "server and load generator share it",
        "- versions: "
        + ", ".join(f"{k} {v}" for k, v in env.items() if k not in NOT_VERSIONS and v),
        f"- collector thresholds (BENCH_GC_THRESHOLD): {env.get('gc_threshold', 'default')}",
    ]
    if env.get("open_files_limit"):
        lines.append(
            f"- open files per process: at most {env['open_files_limit']:,} (the hard limit; "
            "an idle scenario larger than that holds as many sessions as it allows)"
        )
    skipped = env.get("skipped") or {}
    if skipped:
        lines.append(
            "- skipped, a module or program missing: "
            + ", ".join(f"{name} ({modules})" for name, modules in skipped.items())
        )
    lines.append("")
    for scenario in chosen:
        text = report.table(results, scenario, configs)
        if text:
            lines += [text]
    lines += ["## Targets", "", report.targets(results, chosen)]
    notes = report.failure_notes(results)
    lines += [
        "## Failures",
        "",
        notes or "None: no failed open, dropped session, mismatch or error.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    names = list(SCENARIO_NAMES)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short durations, fewer clients")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=names,
        default=names,
        metavar="NAME",
        help=f"scenarios to run (default: all): {', '.join(names)}",
    )
    parser.add_argument(
        "--servers",
        nargs="+",
        default=["*"],
        metavar="PATTERN",
        help="configurations: 'eio_sc', 'uvicorn', 'pyeio/uvicorn', globs "
        f"(default: all): {', '.join(c.name for c in CONFIGS)}",
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="repetitions (default 3; 1 with --quick)"
    )
    parser.add_argument("--json", type=Path, help="write every run and the environment here")
    parser.add_argument(
        "--markdown", type=Path, help="write the tables here, and the charts next to them"
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        metavar="JSON",
        help="run nothing: tables of a --json file",
    )
    parser.add_argument("--duration", type=float, help="measured seconds per echo/sessions run")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before each window")
    parser.add_argument("--sessions-clients", type=int, help="concurrent clients of 'sessions'")
    parser.add_argument("--idle-hold", type=float, help="seconds the idle scenarios hold them")
    parser.add_argument(
        "--idle-open-deadline",
        type=float,
        help="seconds an idle scenario may spend opening them (default: 45, or 1 s per 500 "
        "sessions; the rest count as failed)",
    )
    parser.add_argument(
        "--loadgen-procs",
        type=int,
        default=0,
        help="load-generator processes per run (default: 1 per 5,000 clients)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=HERE / "results" / "logs",
        help="server and load-generator output",
    )
    return parser.parse_args(argv)


def write_markdown(path: Path, text: str, saved: Saved) -> None:
    """The tables, and next to them the charts (``<stem>-<chart>.svg``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    for written in charts.write(saved, path.with_suffix("")):
        print(f"wrote {written}", file=sys.stderr)  # stdout: the tables alone


def rerender(path: Path, markdown: Path | None) -> int:
    """Print (and write, with the charts) the tables of a saved ``--json`` file again,
    e.g. after a report change."""
    saved = Saved.read(path)
    text = render(saved.environment, saved.scenarios, saved.configs, saved.runs, saved.repeat)
    print(text)
    if markdown:
        write_markdown(markdown, text, saved)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected scenarios on the selected configurations and print the tables."""
    args = parse_args(argv)
    if args.report_from:
        return rerender(args.report_from, args.markdown)
    repeat = args.repeat or (1 if args.quick else 3)
    chosen = _apply_loadgen_procs(
        [s for s in scenarios(args) if s.name in args.scenarios], args.loadgen_procs
    )
    configs = [c for c in CONFIGS if _matches(c, args.servers)]
    skipped = {c.name: c.missing() for c in configs if c.missing()}
    for name, modules in skipped.items():
        print(f"skipping {name}: {', '.join(modules)} missing", file=sys.stderr)
    configs = [c for c in configs if c.name not in skipped]
    if not configs:
        print(f"no configuration matches {args.servers}", file=sys.stderr)
        return 2
    try:
        env = environment()
    except LoadgenError as exc:
        print(exc, file=sys.stderr)
        return 2
    limit = raise_open_files_limit(max(s.clients for s in chosen) + FD_MARGIN)
    chosen = fit_to_open_files(chosen, limit)
    env["open_files_limit"] = limit
    env["skipped"] = {name: ", ".join(modules) for name, modules in skipped.items()}
    started = time.monotonic()
    results = run_all(configs, chosen, repeat, args.log_dir)
    env["total_seconds"] = round(time.monotonic() - started)
    text = render(env, chosen, configs, results, repeat)
    print("\n" + text)
    saved = Saved(env, chosen, results)
    if args.json:
        saved.write(args.json)
    if args.markdown:
        write_markdown(args.markdown, text, saved)
    return 1 if any(r.failure_count() for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
