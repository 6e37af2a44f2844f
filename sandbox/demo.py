"""The end-to-end demo: sandbox up, the last whole month and this one so far through the whole pipeline, reconciliation
printed with the bureau's figures of that month.

Runs are recorded in the Dagster instance under ``DAGSTER_HOME``, so ``make dev`` shows them afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from cli.reconciliation import TARGETS, render, summary
from core import clock, settings

# Step-by-step logs stay in the instance (make dev shows them); the terminal gets warnings and the summary.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class DemoOptions:
    days: int | None = None  # days ending yesterday; default: from the first day of the last whole month
    cases_per_day: int = 20
    fault_level: str = "mild"
    ack_timeout_seconds: float = 60.0
    end: dt.date | None = None  # last day loaded; default yesterday (Asia/Shanghai)


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    return (_month_start(day) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def demo_window(options: DemoOptions) -> list[str]:
    """The days the demo loads, oldest first: ``days`` days ending ``end`` (yesterday); by default from the first
    day of the last whole month to yesterday (on 7 December: 1 November to 6 December, 36 days), so the month the
    demo's figures are of is loaded whole."""
    end = options.end or clock.yesterday()
    if options.days is None:
        start = _month_start(end if _month_end(end) == end else _month_start(end) - dt.timedelta(days=1))
    else:
        start = end - dt.timedelta(days=options.days - 1)
    return [str(start + dt.timedelta(days=i)) for i in range((end - start).days + 1)]


def figures_month(keys: list[str]) -> str:
    """The month the demo's figures are of: the last month the window holds whole, else the month of its last day
    (a window shorter than a month)."""
    start, end = dt.date.fromisoformat(keys[0]), dt.date.fromisoformat(keys[-1])
    last = end if _month_end(end) == end else _month_start(end) - dt.timedelta(days=1)
    return last.strftime("%Y-%m") if _month_start(last) >= start else end.strftime("%Y-%m")


def partitions_start(days: int | None = None) -> str:
    """Where the UI's partitions start under ``make dev``: the first day of the last demo (demo-summary.json) or of
    the days the stand-ins serve, whichever is earlier."""
    first = demo_window(DemoOptions(days=days))[0]
    try:
        return min(first, json.loads((settings.dagster_home() / "demo-summary.json").read_text())["partitions"][0])
    except (OSError, ValueError, KeyError, IndexError, TypeError):  # no demo yet, or a summary of another shape
        return first


def reset_warehouse(engine: sa.Engine, what: str) -> None:
    """Drop and recreate the bridge's warehouse tables (the marts in their schema), on a database the sandbox owns
    (:func:`sandbox.ownership.claim`): the demo's driver runs the bridge, so it may use the bridge's own DDL."""
    from core.warehouse import create_tables, on_warehouse_schemas
    from sandbox.ownership import claim
    from schemas.warehouse import metadata

    claim(engine, what)
    metadata.drop_all(on_warehouse_schemas(engine))
    create_tables(engine, metadata)


def run_demo(options: DemoOptions, *, log=print) -> dict:
    """Refuses in the production profile and while any production variable is set: the demo refills its
    own warehouse and delivers to its own stand-ins, nothing else."""
    settings.require_sandbox("the demo")
    home = settings.dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    # the partitions start on the demo's first day (unless set), so the UI counts the demo's days as all there are;
    # read when the definitions are first imported, just below
    os.environ.setdefault(settings.PARTITIONS_START_VARIABLE, demo_window(options)[0])

    from dagster import DagsterInstance, build_resources

    from delivery.outbox import drain
    from pipelines.definitions import build_definitions
    from pipelines.partitions import WEEKLY_CHUNKS, partition_range_tags
    from pipelines.resources import build_resources as resource_defs
    from sandbox.runtime import Sandbox, SandboxSettings

    keys = demo_window(options)
    sandbox_settings = SandboxSettings(
        root=settings.sandbox_dir(),
        start=dt.date.fromisoformat(keys[0]),
        days=len(keys),
        cases_per_day=options.cases_per_day,
        fault_level=options.fault_level,
    )
    owned = sa.create_engine(settings.warehouse_url())
    try:
        reset_warehouse(owned, "the demo's warehouse")  # an empty warehouse of its own every time
    finally:
        owned.dispose()
    defs = build_definitions()
    instance = DagsterInstance.get()
    started = time.perf_counter()
    with build_resources(resource_defs()) as resources, Sandbox(sandbox_settings) as sandbox:
        warehouse = resources.warehouse
        log(f"sandbox up: {', '.join(f'{k} {v}' for k, v in sandbox.endpoints().items())}")
        job = defs.resolve_job_def("daily_cases")
        chunk = WEEKLY_CHUNKS.max_partitions_per_run
        for week in (keys[i : i + chunk] for i in range(0, len(keys), chunk)):  # one run a week, as a backfill
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET, tags=partition_range_tags(week)
            )
            span = f"{week[0]} … {week[-1]}"
            log(f"  {span}: {'ok' if result.success else 'FAILED'} ({time.perf_counter() - started:.0f}s)")
            if not result.success:
                raise SystemExit(f"the run for {span} failed: see the Dagster UI (make dev) for its logs")
        deadline = time.time() + options.ack_timeout_seconds
        while True:  # receivers acknowledge late; retry what a fault left queued
            for name in TARGETS:
                drain(warehouse, name, getattr(resources, name))
            waiting = warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sent')")
            if not waiting or time.time() > deadline:
                break
            time.sleep(1.0)
        marts = defs.resolve_job_def("refresh_marts").execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET
        )
        receivers = {name: getattr(resources, name) for name in TARGETS}
        if not marts.success:
            raise SystemExit("the marts' refresh failed: see the Dagster UI (make dev) for its logs")
        figures = summary(warehouse, receivers, month=figures_month(keys))  # the last whole month loaded
        figures["faults_injected"] = sandbox.faults_served()
        figures["seconds"] = round(time.perf_counter() - started, 1)
        figures["partitions"] = keys
        figures["marts_refreshed"] = marts.success
        warehouse.dispose()
    Path(home / "demo-summary.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    log(render(figures))
    log(f"\n{len(keys)} days in {figures['seconds']}s; figures written to {home / 'demo-summary.json'}")
    return figures


def _pairs(frame: pd.DataFrame, cluster: str) -> set[tuple[str, str]]:
    keyed = frame.assign(key=frame["source_system"] + "|" + frame["source_record_id"])[["key", cluster]]
    pairs = keyed.merge(keyed, on=cluster)
    pairs = pairs[pairs["key_x"] < pairs["key_y"]]
    return set(zip(pairs["key_x"], pairs["key_y"], strict=True))


def pairwise_scores(links: pd.DataFrame, truth: pd.DataFrame) -> dict:
    merged = links.merge(truth, on=["source_system", "source_record_id"])
    predicted, actual = _pairs(merged, "golden_case_id"), _pairs(merged, "true_case_id")
    hits = len(predicted & actual)
    return {
        "predicted_pairs": len(predicted),
        "true_pairs": len(actual),
        "precision": hits / len(predicted) if predicted else 1.0,
        "recall": hits / len(actual) if actual else 1.0,
    }
