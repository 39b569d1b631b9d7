"""The benchmark runner's charts: built from a run's JSON, the ceiling drawn, failed
runs left out, and the same bytes for the same JSON."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import run as runner
from benchlib import charts
from benchlib.scenarios import RunResult, Saved, Scenario, runs_on
from benchlib.servers import Config

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
LATEST = BENCHMARKS / "results" / "latest.json"
SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: bytes) -> set[str]:
    """Every text of an SVG (which must parse as XML)."""
    root = ET.fromstring(svg)
    return {"".join(element.itertext()).strip() for element in root.iter(f"{SVG}text")}


def _ids(svg: bytes) -> set[str]:
    return {element.get("id", "") for element in ET.fromstring(svg).iter()}


def _echo(scenario: str, config: str, rep: int, rate: float, ok: bool = True) -> RunResult:
    return RunResult(scenario, config, rep, ok=ok, rate=rate, server_cpu_pct=100.0)


def _idle(scenario: str, config: str, rep: int, kib: float, cpu: float, open_s: float) -> RunResult:
    sessions = {"idle-1k": 1000, "idle-10k": 10_000}[scenario]
    memory = {"sessions": sessions, "kib_per_session": kib, "open_s": open_s}
    return RunResult(scenario, config, rep, rate=0.0, server_cpu_pct=cpu, memory=memory)


def _small_run(idle: tuple[str, ...] = ("idle-1k", "idle-10k")) -> Saved:
    scenarios = [
        Scenario("ws-echo", "ws-echo", 100, 6.0, 1.0),
        Scenario("sio-echo", "sio-echo", 100, 6.0, 1.0),
        *(
            Scenario(name, "idle", {"idle-1k": 1000, "idle-10k": 10_000}[name], 8.0, 0.0)
            for name in idle
        ),
    ]
    runs = []
    for rep in (1, 2):
        runs += [
            _echo("ws-echo", "eio_sc/uvicorn", rep, 3000.0 * rep),
            _echo("ws-echo", "bare/uvicorn", rep, 4000.0 * rep),
            _echo("ws-echo", "pyeio/uvicorn", rep, 1500.0 * rep),
            _echo("ws-echo", "eio_sc/hypercorn-trio", rep, 700.0),
            _echo("sio-echo", "sio_native/uvicorn", rep, 2000.0),
            _echo("sio-echo", "bare_sio/uvicorn", rep, 2500.0),
        ]
        for name in idle:
            runs += [
                _idle(name, "eio_sc/uvicorn", rep, 27.0, 25.0, 5.0),
                _idle(name, "bare/uvicorn", rep, 20.0, 1.0, 4.0),
            ]
    # A failed run with a figure that would show if it were not left out.
    runs.append(_echo("ws-echo", "pyeio/uvicorn", 3, 987_654.0, ok=False))
    return Saved({}, scenarios, runs)


def test_small_run(tmp_path: Path) -> None:
    saved = _small_run()
    json_file = tmp_path / "run.json"
    saved.write(json_file)
    written = charts.write(Saved.read(json_file), tmp_path / "run")
    assert sorted(p.name for p in written) == [
        "run-idle-scaling.svg",
        "run-sio-echo.svg",
        "run-ws-echo.svg",
    ]
    ws = (tmp_path / "run-ws-echo.svg").read_bytes()
    texts = _texts(ws)
    assert {"uvicorn", "hypercorn-trio", "engineio_sc", "python-engineio", "bare echo"} <= texts
    # The medians over the two repetitions, and each ratio taken within a repetition.
    assert {"4,500 · 0.75x", "2,250 · 0.38x", "6,000 · ceiling", "700"} <= texts
    assert not any("987,654" in text for text in texts)
    ids = _ids(ws)
    assert "ceiling-uvicorn" in ids
    assert "ceiling-hypercorn-trio" not in ids  # no bare echo ran there
    sio = (tmp_path / "run-sio-echo.svg").read_bytes()
    assert {"engineio_sc.socketio", "bare Socket.IO", "2,000 · 0.80x"} <= _texts(sio)
    assert "ceiling-uvicorn" in _ids(sio)
    idle = _texts((tmp_path / "run-idle-scaling.svg").read_bytes())
    assert {"engineio_sc / uvicorn", "bare echo / uvicorn", "1,000", "10,000"} <= idle


def test_one_idle_scenario_or_none() -> None:
    assert "idle-scaling" in charts.render(_small_run(idle=("idle-10k",)))
    assert sorted(charts.render(_small_run(idle=()))) == ["sio-echo", "ws-echo"]


def test_a_scenario_with_no_successful_run_has_no_chart() -> None:
    saved = _small_run(idle=())
    for run in saved.runs:
        run.ok = run.scenario != "sio-echo"
    assert sorted(charts.render(saved)) == ["ws-echo"]


def test_clients_spread_over_workers_against_one_worker() -> None:
    """In a scenario spread over workers, each configuration is measured against one
    worker without Redis on its server, and the Redis configurations run it alone."""
    spread = Scenario("sio-fanout-cluster", "sio-fanout", 3000, 6.0, 1.0, procs=3, spread=True)
    runs = [
        _echo(spread.name, config, rep, rate)
        for rep in (1, 2)
        for config, rate in (
            ("sio_native/uvicorn", 40_000.0),
            ("sio_redis/uvicorn", 30_000.0),
            ("sio_cluster/uvicorn", 60_000.0 * rep),
        )
    ]
    svg = charts.render(Saved({}, [spread], runs))[spread.name]
    texts = _texts(svg)
    assert {"40,000 · one worker", "30,000 · 0.75x", "90,000 · 2.25x"} <= texts
    assert "engineio_sc.socketio, Redis, 3 workers" in texts
    assert "one-worker-uvicorn" in _ids(svg)
    cluster, native, echo = (
        Config("sio_cluster", "uvicorn"),
        Config("sio_native", "uvicorn"),
        Config("eio_sc", "uvicorn"),
    )
    sio_fanout = Scenario("sio-fanout", "sio-fanout", 1000, 6.0, 1.0)
    assert runs_on(spread, cluster)
    assert runs_on(spread, native)
    assert not runs_on(spread, echo)
    assert not runs_on(sio_fanout, cluster)
    assert runs_on(sio_fanout, native)


def test_latest_results(tmp_path: Path) -> None:
    """The committed run: its charts, and the same bytes from another process (another
    hash seed) running the standalone entry."""
    rendered = charts.render(Saved.read(LATEST))
    assert "idle-scaling" in rendered
    for scenario in ("ws-echo", "ws-echo-1000", "poll-echo", "sessions"):
        svg = rendered[scenario]
        assert {"engineio_sc", "bare echo", "uvicorn", "hypercorn-asyncio"} <= _texts(svg)
        assert {"ceiling-hypercorn-trio", "ceiling-hypercorn-asyncio", "ceiling-uvicorn"} <= _ids(
            svg
        )
    assert "engineio_sc / hypercorn-trio" in _texts(rendered["idle-scaling"])
    subprocess.run(
        [sys.executable, str(BENCHMARKS / "charts.py"), str(LATEST), "--stem", str(tmp_path / "x")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    again = {
        p.name.removeprefix("x-").removesuffix(".svg"): p.read_bytes() for p in tmp_path.iterdir()
    }
    assert again == rendered


def test_same_json_same_bytes() -> None:
    assert charts.render(_small_run()) == charts.render(_small_run())


def test_the_runner_writes_them_next_to_its_markdown(tmp_path: Path) -> None:
    markdown = tmp_path / "tables" / "report.md"
    assert runner.main(["--report-from", str(LATEST), "--markdown", str(markdown)]) == 0
    assert markdown.read_text().startswith("# engineio_sc benchmark results")
    rendered = charts.render(Saved.read(LATEST))
    for name, svg in rendered.items():
        assert (markdown.parent / f"report-{name}.svg").read_bytes() == svg
