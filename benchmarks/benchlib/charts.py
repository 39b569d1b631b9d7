"""Charts of a run, as SVG: the rate of each configuration against its server's
ceiling (against one worker, in a scenario spread over workers), one chart per
throughput scenario, and the idle sessions' scaling curve.

The figures are the tables' own (``report``): medians over the repetitions with
their range, ratios taken within each repetition. Runs that failed are left out.
The same runs give the same bytes: matplotlib's SVG ids come from a fixed salt,
and no date is written.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator, StrMethodFormatter

from . import report
from .scenarios import RunResult, Saved, Scenario
from .servers import APP_TITLES, SERVERS, Config
from .stats import Spread

APP_COLOURS = {
    "eio_sc": "tab:blue",
    "sio_native": "tab:blue",
    "sio_sc": "tab:green",
    "pyeio": "tab:orange",
    "sio_pyeio": "tab:orange",
    "bare": "tab:gray",
    "bare_sio": "tab:gray",
    "sio_redis": "tab:cyan",
    "sio_cluster": "tab:purple",
}
SERVER_LINES = {"hypercorn-trio": "o-", "hypercorn-asyncio": "s--", "uvicorn": "^:"}
IDLE_CHART = "idle-scaling"
"""The name of the scaling chart (the others are named after their scenario)."""


@dataclass(frozen=True)
class Bar:
    """One configuration's rate in a throughput chart, and its ratio to the reference
    (the ceiling, or one worker: ``report.reference``)."""

    config: Config
    rate: Spread
    of_reference: Spread | None
    is_reference: bool


def _colour(config: Config) -> str:
    return APP_COLOURS.get(config.app, "tab:purple")


def _repetitions(runs: Sequence[RunResult]) -> str:
    n = max((r.rep for r in runs), default=0)
    return f"median of {n} repetition{'s' if n != 1 else ''}, error bars from min to max"


def _bars(
    runs: Sequence[RunResult], scenario: Scenario, configs: Sequence[Config]
) -> dict[str, list[Bar]]:
    """The bars of each server that ran the scenario, in the suite's order."""
    groups: dict[str, list[Bar]] = {}
    for server in SERVERS:
        for config in (c for c in configs if c.server == server):
            rate = report.figure(runs, scenario, config.name)
            if rate is not None:
                ratio = report.reference_ratio(runs, scenario, config)
                is_reference = report.reference(scenario, config) == config
                groups.setdefault(server, []).append(Bar(config, rate, ratio, is_reference))
    return groups


def _bar_label(bar: Bar, reference: str) -> str:
    rate = f"{bar.rate.median:,.0f}"
    if bar.is_reference:
        return f"{rate} · {reference}"
    if bar.of_reference is None:
        return rate
    return f"{rate} · {bar.of_reference.median:.2f}x"


def throughput(
    runs: Sequence[RunResult], scenario: Scenario, configs: Sequence[Config]
) -> Figure | None:
    """Horizontal bars of the median rate of each configuration, grouped by server,
    the server's bare ceiling (one worker, in a scenario spread over workers) a dashed
    line across its group, and on each bar its ratio to it (``None`` if no run of the
    scenario succeeded)."""
    groups = _bars(runs, scenario, configs)
    if not groups:
        return None
    reference, legend, against, gid = (
        ("one worker", "one worker, no Redis (median)", "one worker without Redis", "one-worker")
        if scenario.spread
        else ("ceiling", "bare ceiling of the server (median)", "the bare ceiling", "ceiling")
    )
    rows = sum(len(bars) + 1 for bars in groups.values())
    figure = Figure(figsize=(8.0, 1.3 + 0.28 * rows), layout="constrained")
    ax = figure.add_subplot()
    labels_at = ax.get_yaxis_transform()  # x in the axes (a column at the right), y in data
    ticks: list[float] = []
    labels: list[str] = []
    headers: list[int] = []
    y = 0.0
    highest = 0.0
    for server, bars in groups.items():
        headers.append(len(ticks))
        ticks.append(y)
        labels.append(server)
        first = y + 1
        for bar in bars:
            y += 1
            ticks.append(y)
            labels.append(APP_TITLES.get(bar.config.app, bar.config.app))
            rate = bar.rate
            ax.barh(
                y,
                rate.median,
                height=0.7,
                color=_colour(bar.config),
                xerr=[[rate.median - rate.low], [rate.high - rate.median]],
                error_kw={"capsize": 2.5, "elinewidth": 0.8, "ecolor": "black"},
            )
            ax.text(
                0.99,
                y,
                _bar_label(bar, reference),
                transform=labels_at,
                ha="right",
                va="center",
                fontsize=8,
            )
            highest = max(highest, rate.high)
        marked = next((b for b in bars if b.is_reference), None)
        if marked is not None:
            ax.vlines(
                marked.rate.median,
                first - 0.45,
                y + 0.45,
                colors="black",
                linestyles="dashed",
                linewidth=1.2,
                label=legend if len(headers) == 1 else "_",
                gid=f"{gid}-{server}",
            )
        y += 1.5
    ax.set_yticks(ticks, labels)
    for index in headers:
        ax.get_yticklabels()[index].set_fontweight("bold")
    ax.set_ylim(y - 1.0, -0.7)
    ax.set_xlim(0, highest * 1.4)
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(
        f"{scenario.unit}: {_repetitions(runs)}\n"
        f"at the right: the median, and ÷ {against} on the same server"
        " (taken within each repetition)"
    )
    ax.set_title(f"{scenario.name}: {scenario.title()}", loc="left", fontsize=10)
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    if ax.get_legend_handles_labels()[0]:
        figure.legend(loc="outside lower right", fontsize=8)
    return figure


IDLE_PANELS = (
    ("KiB per session (RSS held - before, ÷ sessions opened)", report.kib_per_session),
    ("server CPU % while holding them", report.server_cpu),
    ("sessions opened per second", report.open_rate),
)


def _idle_panel(
    ax: Axes,
    runs: Sequence[RunResult],
    idle: Sequence[Scenario],
    configs: Sequence[Config],
    get: report.Getter,
) -> None:
    """One line per configuration over the idle scenarios."""
    for config in configs:
        points = [(s.clients, report.figure(runs, s, config.name, get)) for s in idle]
        present = [(x, v) for x, v in points if v is not None]
        if not present:
            continue
        xs = [x for x, _ in present]
        medians = [v.median for _, v in present]
        errors = [[v.median - v.low for _, v in present], [v.high - v.median for _, v in present]]
        ax.errorbar(
            xs,
            medians,
            yerr=errors,
            fmt=SERVER_LINES.get(config.server, "o-"),
            color=_colour(config),
            capsize=2.5,
            markersize=4,
            linewidth=1.2,
            label=f"{APP_TITLES.get(config.app, config.app)} / {config.server}",
        )


def idle_scaling(
    runs: Sequence[RunResult], scenarios: Sequence[Scenario], configs: Sequence[Config]
) -> Figure | None:
    """Three panels over the number of idle sessions (log scale): KiB per session,
    the server's CPU while holding them, and how fast they opened; one line per
    configuration, and the key in the fourth place (``None`` without an idle scenario
    that succeeded somewhere)."""
    idle = sorted((s for s in scenarios if s.loadgen == "idle"), key=lambda s: (s.clients, s.name))
    names = {s.name for s in idle}
    if not any(r.scenario in names for r in runs):
        return None
    sizes = sorted({s.clients for s in idle})
    figure = Figure(figsize=(8.0, 6.4), layout="constrained")
    *axes, key = figure.subplots(2, 2).flat
    for ax, (title, get) in zip(axes, IDLE_PANELS, strict=True):
        _idle_panel(ax, runs, idle, configs, get)
        ax.set_xscale("log")
        ax.set_xlim(sizes[0] / 2, sizes[-1] * 2)
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("idle WebSocket sessions")
        ax.grid(linewidth=0.4, alpha=0.5)
    held = ", ".join(f"{s.name}: {s.clients:,} held {s.duration:g} s" for s in idle)
    figure.suptitle(f"Idle WebSocket sessions ({held})", fontsize=10)
    key.axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    key.legend(handles, labels, loc="center", fontsize=8, title=_repetitions(runs))
    return figure


def _figures(saved: Saved) -> dict[str, Figure]:
    runs = [r for r in saved.runs if r.ok]
    configs = saved.configs
    made: dict[str, Figure | None] = {
        s.name: throughput(runs, s, configs) for s in saved.scenarios if s.loadgen != "idle"
    }
    made[IDLE_CHART] = idle_scaling(runs, saved.scenarios, configs)
    return {name: figure for name, figure in made.items() if figure is not None}


def render(saved: Saved) -> dict[str, bytes]:
    """Every chart of a run as SVG, by name: each throughput scenario's, and the idle
    sessions' scaling curve (``IDLE_CHART``); a chart with no successful run to show
    is left out. The same runs give the same bytes."""
    charts = {}
    style = rc_context(
        {
            "svg.hashsalt": "engineio_sc benchmarks",  # the same ids (clip paths) every time
            "svg.fonttype": "none",  # text stays text: searchable, and smaller
            "font.family": "sans-serif",
            "font.size": 9.0,
        }
    )
    with style:
        for name, figure in _figures(saved).items():
            out = io.BytesIO()
            figure.savefig(out, format="svg", metadata={"Date": None})
            charts[name] = out.getvalue()
    return charts


def write(saved: Saved, stem: Path) -> list[Path]:
    """Write every chart of a run as ``<stem>-<name>.svg``; return the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render(saved).items():
        path = stem.with_name(f"{stem.name}-{name}.svg")
        path.write_bytes(data)
        written.append(path)
    return written
