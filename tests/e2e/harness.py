"""What the browser tests share: the example app under Hypercorn's trio worker,
a Node.js driver of headless Chromium (tests/e2e/*.mjs, on browser.mjs) and its
JSON report, the screenshots, and the app's refusal to start without its bundle.

The app runs as a subprocess on a free loopback port, exactly as the README runs
it. At teardown it gets SIGINT and must exit by itself, cleanly, within
:data:`~tests.servers.EXIT_DEADLINE` seconds (see :func:`tests.servers.running_server`).

``scripts/test`` installs what this needs (Chromium, and ``npm ci`` in tests/e2e
and in each example); without it the browser tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ..node_driver import json_report
from ..servers import BIN_DIR, REPO_ROOT, RunningServer, free_port, running_server, spawn, stop

HYPERCORN = BIN_DIR / "hypercorn"
CHROMIUM = Path("/usr/bin/chromium")
E2E_DIR = REPO_ROOT / "tests" / "e2e"
PLAYWRIGHT = E2E_DIR / "node_modules" / "playwright-core"

START_DEADLINE = 20.0
"""Seconds for the app to accept connections."""
DRIVER_TIMEOUT_MS = 40_000
"""A browser driver's own deadline; it is killed (with Chromium) a little later."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Test = TypeVar("Test", bound=Callable[..., None])


def hypercorn(app: str, port: int) -> list[str]:
    """``hypercorn APP --worker-class trio`` on a loopback port."""
    return [str(HYPERCORN), app, "--worker-class", "trio", "--bind", f"127.0.0.1:{port}"]


def needs_browser(example: str, bundle: Path) -> Callable[[Test], Test]:
    """Mark a browser test of ``examples/<example>``, whose npm package provides
    ``bundle``: it needs Node.js, and is skipped unless Chromium and both npm
    packages are there."""
    marks = [
        pytest.mark.node,
        pytest.mark.skipif(
            not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing (scripts/test installs it)"
        ),
        pytest.mark.skipif(
            not PLAYWRIGHT.is_dir(),
            reason="tests/e2e/node_modules is missing (run: npm ci --prefix tests/e2e)",
        ),
        pytest.mark.skipif(
            not bundle.is_file(),
            reason=f"examples/{example}/node_modules is missing "
            f"(run: npm ci --prefix examples/{example})",
        ),
    ]

    def mark(test: Test) -> Test:
        for each in marks:
            test = each(test)
        return test

    return mark


@contextmanager
def running_example(example: str) -> Iterator[RunningServer]:
    """``hypercorn examples.<example>.app:app --worker-class trio`` on a free
    loopback port, stopped with SIGINT on the way out (failing the test unless it
    exits cleanly)."""
    port = free_port()
    with running_server(
        f"examples/{example}",
        hypercorn(f"examples.{example}.app:app", port),
        port=port,
        start_deadline=START_DEADLINE,
    ) as server:
        yield server


def run_driver(driver: str, url: str, screenshots: Path) -> dict[str, Any]:
    """Run tests/e2e/``driver`` against ``url``; its JSON report, checked to have
    succeeded. Killed with its Chromium if it hangs."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH"
    args = [node, str(E2E_DIR / driver), "--url", url, "--screenshots", str(screenshots)]
    args += ["--chromium", str(CHROMIUM), "--timeout", str(DRIVER_TIMEOUT_MS)]
    process = subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        start_new_session=True,  # its own process group: Chromium goes with it
    )
    try:
        stdout, stderr = process.communicate(timeout=DRIVER_TIMEOUT_MS / 1000 + 15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=10)
        pytest.fail(f"the browser driver hung\nstdout: {stdout}\nstderr: {stderr}")
    report = json_report(process.returncode, stdout, stderr)
    shown = json.dumps(report, indent=1, ensure_ascii=False)
    assert report["error"] is None, shown
    assert report["ok"] is True, shown
    return report


def check_screenshots(report: dict[str, Any], folder: Path, names: list[str]) -> None:
    """The report lists ``folder/NAME.png`` for each of ``names``, in order, and
    each is a PNG image with something in it."""
    assert report["screenshots"] == [str(folder / f"{name}.png") for name in names], report
    for shot in report["screenshots"]:
        image = Path(shot).read_bytes()
        assert image.startswith(PNG_SIGNATURE), shot
        assert len(image) > 5_000, f"{shot} is suspiciously small: {len(image)} bytes"


def check_refuses_to_start_without_bundle(example: str, tmp_path: Path, missing: str) -> None:
    """A copy of ``examples/<example>/app.py`` with no node_modules beside it does
    not start, and its message says what is ``missing`` and which npm command to run."""
    shutil.copy(REPO_ROOT / "examples" / example / "app.py", tmp_path / "app.py")
    process, log = spawn(hypercorn("app:app", free_port()), cwd=tmp_path, name=example)
    try:
        process.wait(timeout=START_DEADLINE)
    except subprocess.TimeoutExpired:
        stop(process)
        log.close()
        pytest.fail(f"the app started without its bundle; log:\n{log.text}")
    log.close()
    # Hypercorn (0.18, one worker process) exits with status 0 even when its worker
    # fails to load the app, so the status says nothing: the message does.
    assert missing in log.text, log.text
    assert f"npm ci --prefix examples/{example}" in log.text, log.text
    assert "Running on" not in log.text, log.text
    assert "Traceback" not in log.text, log.text
