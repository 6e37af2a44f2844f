"""Runs a stopped instance left behind: ended, and their pool slots given back.

A run's worker is a process of the code server (the default run launcher). When the UI, the daemon or the
machine stops while a run is in flight, nothing is left to record its end: the run stays "Starting" or
"Started" for good, and the run queue counts it against the pools its steps name (a receiver's
``target_<name>``, ``case_resolution``), so every later run that needs one of them waits behind it.

Dagster's run monitoring (``run_monitoring`` in dagster.yaml) fails a run that did not start within
``start_timeout_seconds`` and frees the slots of ended runs after ``free_slots_after_run_end_seconds``, but the
default run launcher cannot tell whether a started run's worker is still alive. :func:`recover` can, on this
machine: each worker records its process id when it starts (Dagster's engine event "Started process for run
(pid: …)"), and a run whose worker is gone is reported failed (canceled, if it was being canceled), its step
slots freed. It is run with no daemon of the instance running (``python -m sandbox dev`` before it starts and
after it stopped ``dagster dev``; ``approval-bridge runs recover`` before the daemon's service starts), so a run
still "Starting" without a worker was launched by a process that is gone too.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

IN_FLIGHT = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
_WORKER = re.compile(r"Started process for run \(pid: (\d+)\)")


@dataclass(frozen=True)
class Recovered:
    run_id: str
    job: str
    was: str  # the status it was left in
    now: str  # FAILURE or CANCELED
    worker: int | None  # the worker's process id, when it had started


def worker_of(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The run worker's process id and when it said it started (epoch seconds), or None before it started."""
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)[::-1]:
        found = _WORKER.search(record.message or "") or _WORKER.search(
            (record.dagster_event.message if record.dagster_event else "") or ""
        )
        if found:
            return int(found.group(1)), record.timestamp
    return None


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def alive(pid: int, since: float) -> bool:
    """Whether process ``pid`` runs and is the one that reported ``since`` (a process started after that moment
    is another one that got the number again)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): whether any process has the number
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = stat[stat.rfind(")") + 2 :].split()  # state ppid pgrp … starttime is the 20th after the name
    if fields[0] in ("Z", "X"):
        return False
    boot = _boot_time()
    if boot is None:
        return True
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= since + 5  # the clock ticks and the event's timestamp are seconds apart at most


def recover(instance: DagsterInstance) -> list[Recovered]:
    """End every run in flight whose worker is gone (see the module) and free the pool slots that runs already
    ended still hold. Runs whose worker is alive are left alone. What was ended, oldest first."""
    ended: list[Recovered] = []
    records = instance.get_run_records(filters=RunsFilter(statuses=IN_FLIGHT), ascending=True)
    for record in records:
        run = record.dagster_run
        worker = worker_of(instance, run.run_id)
        if worker is not None and alive(*worker):
            continue
        pid = worker[0] if worker else None
        gone = f"its run worker (pid {pid}) is gone" if pid else "its run worker never started"
        message = f"Run left {run.status.value} by a stopped instance: {gone}. Marked ended at restart."
        if run.status == DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message)
        else:
            instance.report_run_failed(run, message)
        now = instance.get_run_by_id(run.run_id)
        ended.append(Recovered(run.run_id, run.job_name, run.status.value, now.status.value if now else "?", pid))
    free_slots_of_ended_runs(instance)
    return ended


def free_slots_of_ended_runs(instance: DagsterInstance) -> int:
    """Give back the pool slots (and queued step claims) of runs that have ended; how many runs held some."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    holders = storage.get_concurrency_run_ids()
    if not holders:
        return 0
    ended = instance.get_run_records(filters=RunsFilter(run_ids=list(holders), statuses=FINISHED))
    for record in ended:
        storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
    return len(ended)


def recover_home(wait_seconds: float = 0.0) -> list[Recovered]:
    """:func:`recover` on the instance at DAGSTER_HOME; ``wait_seconds`` lets workers that were just signalled
    finish recording their own end first."""
    deadline = time.monotonic() + wait_seconds
    with DagsterInstance.get() as instance:
        while time.monotonic() < deadline and any(
            (w := worker_of(instance, r.dagster_run.run_id)) is not None and alive(*w)
            for r in instance.get_run_records(filters=RunsFilter(statuses=IN_FLIGHT))
        ):
            time.sleep(0.5)
        return recover(instance)
