"""Restart-safe (docs/operations.md, "Stopping"): SIGTERM to ``python -m sandbox dev`` while a run's step holds a
receiver's pool slot, and a SIGINT a second later; the run ends canceled or failed, nothing holds the slot, and after
``dev`` starts again the next run that needs the pool starts and finishes. Then the same for what a stop cannot tidy
(``kill -9`` of the whole of it, as a power cut would): ``dev`` ends the run when it starts again
(pipelines/recovery.py).

The code location is tests/restart_location.py (one asset holding ``target_one_network`` as long as it is told),
so the run is caught in mid-step without loading days; everything else is ``dev`` as ``make dev`` runs it, on a
DAGSTER_HOME of the test's own with the embedded default's dagster.yaml."""

from __future__ import annotations

import contextlib
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
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef

from core import shutdown
from sandbox.instance import free_port
from tests.restart_location import POOL

ROOT = Path(__file__).resolve().parents[1]
ENDED = {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_DIR", "_APP_KEY", "_APP_SECRET"))}
    return {**env, "DAGSTER_HOME": str(home)}


def _wait(condition: Callable[[], object], what: str, seconds: float, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        if process is not None and process.poll() is not None:
            pytest.fail(f"dev exited while waiting for {what}: {Path(process.args[-1]).read_text()[-3000:]}")
        assert time.monotonic() < deadline, f"{what}: not after {seconds} s"
        time.sleep(0.5)
    return found


class Dev:
    """``python -m sandbox dev`` on the test's home and port, its output (children's included) in a file."""

    def __init__(self, home: Path, port: int, name: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = home.parent / f"{name}.log"
        command = [sys.executable, "-m", "sandbox", "dev", "--free-ports", "--days", "3", "--port", str(port),
                   "--module", "tests.restart_location"]  # fmt: skip
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=_environment(home), stdout=out, stderr=out)
        self.process.args = [*command, str(self.log)]  # for _wait's message
        _wait(self._answers, "the UI", 240, self.process)

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url + "/server_info", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def launch(self, seconds: float) -> str:
        params = {
            "selector": {"repositoryLocationName": "tests.restart_location", "repositoryName": "__repository__",
                         "jobName": "hold_pool"},
            "runConfigData": {"ops": {"held_pool": {"config": {"seconds": seconds}}}},
        }  # fmt: skip
        answer = httpx.post(self.url + "/graphql", json={"query": LAUNCH, "variables": {"params": params}}, timeout=60)
        result = answer.json()["data"]["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def stop(self, signum: int = signal.SIGTERM, again: int | None = None) -> str:
        """``signum`` to dev (and ``again`` a second later, as an impatient second Ctrl-C); its output."""
        self.process.send_signal(signum)
        if again is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)
            if self.process.poll() is None:
                self.process.send_signal(again)
        self.process.wait(timeout=60)
        return self.log.read_text()

    def kill(self) -> None:
        """SIGKILL to dev and to every process it started (each child leads a process group of its own)."""
        groups = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _parent(int(p.name)) == self.process.pid
        ]
        self.process.kill()
        self.process.wait()
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        _wait(lambda: not any(shutdown.group_members(g) for g in groups), "dev's processes to be gone", 30)


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else int(fields[1])


def _instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def _status(home: Path, run_id: str) -> DagsterRunStatus:
    with _instance(home) as instance:
        return instance.get_run_by_id(run_id).status


def _slots_held(home: Path) -> list:
    with _instance(home) as instance:
        return list(instance.event_log_storage.get_concurrency_info(POOL).claimed_slots)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


def _next_run_finishes(dev: Dev, home: Path) -> None:
    """A run that needs the same pool starts and succeeds (the queue does not count the ended run against it)."""
    run_id = dev.launch(seconds=1)
    _wait(lambda: _status(home, run_id) in {DagsterRunStatus.SUCCESS, *ENDED}, "the next run to end", 240)
    assert _status(home, run_id) == DagsterRunStatus.SUCCESS
    assert not _slots_held(home)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(900)
def test_sigterm_to_dev_mid_run_ends_the_run_and_frees_its_pool(tmp_path):
    home = _home(tmp_path)
    port = free_port()
    dev = Dev(home, port, "first")
    try:
        run_id = dev.launch(seconds=600)
        _wait(lambda: _slots_held(home), f"the run's step to hold {POOL}", 240, dev.process)
        signalled = time.monotonic()
        output = dev.stop(signal.SIGTERM, again=signal.SIGINT)
        took = time.monotonic() - signalled
    finally:
        if dev.process.poll() is None:
            dev.kill()
    assert dev.process.returncode == 0, output[-3000:]
    assert "dev stopped (SIGTERM)" in output, output[-3000:]
    assert "Traceback" not in output, output[-5000:]
    assert _status(home, run_id) in ENDED
    assert not _slots_held(home)
    print(f"dev stopped {took:.1f} s after SIGTERM; the run ended {_status(home, run_id).value}")

    dev = Dev(home, port, "second")
    try:
        _next_run_finishes(dev, home)
    finally:
        output = dev.stop(signal.SIGINT)
    assert "Traceback" not in output, output[-5000:]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(900)
def test_a_run_left_started_by_a_killed_dev_is_ended_when_dev_starts_again(tmp_path):
    home = _home(tmp_path)
    port = free_port()
    dev = Dev(home, port, "first")
    try:
        run_id = dev.launch(seconds=600)
        _wait(lambda: _slots_held(home), f"the run's step to hold {POOL}", 240, dev.process)
    finally:
        dev.kill()  # nothing of it records anything: the run stays STARTED, its slot held
    assert _status(home, run_id) == DagsterRunStatus.STARTED and _slots_held(home)

    dev = Dev(home, port, "second")
    try:
        assert _status(home, run_id) == DagsterRunStatus.FAILURE
        assert f"run {run_id[:8]} (hold_pool) was left started; marked failure before starting" in dev.log.read_text()
        _next_run_finishes(dev, home)
    finally:
        output = dev.stop(signal.SIGTERM)
    assert "Traceback" not in output, output[-5000:]
