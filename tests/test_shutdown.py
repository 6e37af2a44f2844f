"""Clean shutdown (core.shutdown, docs/operations.md): each long-running command, started as IT staff start it,
stops on SIGINT and on SIGTERM within BOUND seconds, with every process it started, without a traceback, with one
line saying so and exit code 0. And the helper itself, in this process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from core import shutdown
from sandbox.instance import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BOUND = 15.0  # seconds from the signal to the command's exit
SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


# ---------------------------------------------------------------- the helper, in this process
@pytest.mark.unit
def test_the_first_stop_signal_ends_the_block_and_later_ones_let_the_clean_up_finish(capsys):
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with shutdown.stop_signals("thing") as stop:
        try:
            signal.raise_signal(signal.SIGTERM)
            raise AssertionError("not reached: the signal ends the block")
        finally:
            signal.raise_signal(signal.SIGINT)  # a second signal during the clean-up is only counted
            cleaned.append(True)
    assert cleaned and stop.requested and stop.signum == signal.SIGTERM and stop.count == 2
    assert capsys.readouterr().out == "thing stopped (SIGTERM)\n"
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.unit
def test_a_block_that_ends_by_itself_says_nothing(capsys):
    with shutdown.stop_signals("thing") as stop:
        pass
    assert not stop.requested and capsys.readouterr().out == ""


# ---------------------------------------------------------------- the commands, as processes
def _started_at(pid: int) -> str | None:
    """The process's start time (clock ticks after boot), None once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid``, each with its start time (so a reused pid is not mistaken for it)."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                started = _started_at(child)
                if started is not None and child not in found:
                    found[child] = started
                    todo.append(child)
    return found


def _environment(home: Path, **extra: str) -> dict[str, str]:
    """The embedded default on a DAGSTER_HOME of the test's own; nothing of the caller's endpoints or secrets."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_DIR", "_APP_KEY", "_APP_SECRET"))}
    return {**env, "DAGSTER_HOME": str(home), **extra}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _run_and_stop(
    command: list[str], env: dict[str, str], ready: Callable[[], bool], signum: int, what: str, startup: float = 120
) -> dict[int, str]:
    """Start the command, wait until ``ready()``, send ``signum``; check how it ended. Returns what it had started."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + startup
        while not ready():
            started.update(_descendants(process.pid))
            assert process.poll() is None, f"{what} exited before it was ready:\n{process.communicate()[1][-3000:]}"
            assert time.monotonic() < deadline, f"{what} was not ready after {startup} s"
            time.sleep(0.3)
        started.update(_descendants(process.pid))
        signalled = time.monotonic()
        process.send_signal(signum)
        try:
            out, err = process.communicate(timeout=BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what} still running {BOUND} s after {signal.Signals(signum).name}")
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "Traceback" not in err, err[-3000:]
    assert process.returncode == 0, (process.returncode, out[-2000:], err[-2000:])
    assert f"{what} stopped ({signal.Signals(signum).name})" in out, out[-2000:]
    left = {pid for pid, at in started.items() if _started_at(pid) == at}
    assert not left, f"still running after {what} stopped: {left}"
    print(f"{what}: stopped {took:.1f} s after {signal.Signals(signum).name}; {len(started)} processes it started")
    return started


@pytest.mark.integration
@pytest.mark.parametrize("signum", SIGNALS)
def test_sandbox_serve_stops(tmp_path, signum):
    endpoints = tmp_path / "sandbox" / "endpoints.json"

    def ready() -> bool:
        return endpoints.exists() and _answers(json.loads(endpoints.read_text())["municipal"] + "/_sandbox/served")

    command = [sys.executable, "-m", "sandbox", "serve", "--free-ports", "--days", "3", "--cases-per-day", "5"]
    _run_and_stop(command, _environment(tmp_path), ready, signum, "sandbox")


@pytest.mark.integration
@pytest.mark.parametrize("signum", SIGNALS)
def test_sharing_api_stops(tmp_path, warehouse, signum):
    port = free_port()
    env = _environment(tmp_path, BRIDGE_WAREHOUSE_URL=str(warehouse.engine.url.render_as_string(hide_password=False)))
    command = [str(BIN / "approval-bridge"), "serve", "--port", str(port)]
    ready = lambda: _answers(f"http://127.0.0.1:{port}/openapi.json")  # noqa: E731
    _run_and_stop(command, env, ready, signum, "licence sharing API")


@pytest.mark.integration
@pytest.mark.parametrize("signum", SIGNALS)
def test_dashboard_stops(tmp_path, warehouse, signum):
    port = free_port()
    env = _environment(tmp_path, BRIDGE_WAREHOUSE_URL=str(warehouse.engine.url.render_as_string(hide_password=False)))
    command = [str(BIN / "approval-bridge"), "dashboard", "--port", str(port), "--output", str(tmp_path / "d.html")]
    ready = lambda: _answers(f"http://127.0.0.1:{port}/d.html")  # noqa: E731
    _run_and_stop(command, env, ready, signum, "dashboard")


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(300)
@pytest.mark.parametrize("signum", SIGNALS)
def test_dev_stops_with_dagster_dev_and_everything_it_started(tmp_path, signum):
    """The stand-ins and ``dagster dev`` (webserver, daemon, code servers): all of it gone within BOUND."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    command = [sys.executable, "-m", "sandbox", "dev", "--free-ports", "--days", "3", "--port", str(port)]
    ready = lambda: _answers(f"http://127.0.0.1:{port}/server_info")  # noqa: E731
    started = _run_and_stop(command, _environment(home), ready, signum, "dev", startup=240)
    assert len(started) >= 5, started  # the sandbox, dagster dev, its webserver, daemon and code server(s)
