"""The end-to-end demo: sandbox up, a week of days through the whole pipeline, reconciliation printed.

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

from core import settings
from schemas.case import LOCAL_TZ

TARGETS = ("one_network", "municipal", "supervision")
# Step-by-step logs stay in the instance (make dev shows them); the terminal gets warnings and the summary.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class DemoOptions:
    days: int = 35  # five weeks ending yesterday: last month whole, for the monthly marts
    cases_per_day: int = 20
    fault_level: str = "mild"
    ack_timeout_seconds: float = 60.0
    end: dt.date | None = None  # last day loaded; default yesterday (Asia/Shanghai)


def summary(warehouse, receivers: dict | None = None) -> dict:
    """The reconciliation figures: pulled, staged, quarantined, golden, duplicates, and per receiver what we
    sent and, where ``receivers`` (name → target) are given, what the receiver itself says it holds."""
    from delivery.outbox import status_counts, unaccounted_versions

    def count(sql: str) -> int:
        return int(warehouse.scalar(sql) or 0)

    targets = {}
    by_target = status_counts(warehouse).set_index("target")
    for name in TARGETS:
        row = by_target.loc[name] if name in by_target.index else None
        targets[name] = {
            key: int(row[key]) if row is not None else 0
            for key in ("case_versions", "acknowledged", "pending", "dead_lettered")
        }
        targets[name]["unaccounted"] = unaccounted_versions(warehouse, name)
        targets[name]["acknowledged_cases"] = count(
            f"SELECT COUNT(DISTINCT golden_case_id) FROM outbox WHERE target = '{name}' AND status = 'acknowledged'"
        )
        held = receivers[name].counts() if receivers else None
        if held is not None:  # counted on the receiver's side
            targets[name].update(held)
    return {
        "pulled": count("SELECT COUNT(*) FROM raw_records"),
        "staged": count("SELECT COUNT(*) FROM staged_cases"),
        "quarantined": count("SELECT COUNT(*) FROM quarantined_records"),
        "golden": count("SELECT COUNT(*) FROM golden_cases"),
        "duplicates": count("SELECT COUNT(*) FROM case_links WHERE role = 'duplicate'"),
        "status_updates": count(  # earlier states of a record seen again later: duplicates of it, not re-entries
            "SELECT COUNT(*) FROM case_links WHERE match_rule = 'same_source_record' AND role = 'duplicate'"
        ),
        "golden_versions": count("SELECT COALESCE(SUM(version), 0) FROM golden_cases"),
        "licences": count("SELECT COUNT(*) FROM licences"),
        "licences_valid": count("SELECT COUNT(*) FROM licences WHERE status = '有效'"),
        "licences_from_both_sources": count("SELECT COUNT(*) FROM licences WHERE sources = 'case,market_regulation'"),
        "holders": count("SELECT COUNT(*) FROM holders"),
        "licence_events": count("SELECT COUNT(*) FROM licence_events"),
        "targets": targets,
    }


def identities(figures: dict) -> list[tuple[str, bool]]:
    checks = [
        ("pulled = staged + quarantined", figures["pulled"] == figures["staged"] + figures["quarantined"]),
        ("staged = golden + duplicates", figures["staged"] == figures["golden"] + figures["duplicates"]),
    ]
    for name, t in figures["targets"].items():
        checks.append(
            (
                f"{name}: every version acknowledged, pending or dead-lettered",
                t["unaccounted"] == 0 and t["case_versions"] == t["acknowledged"] + t["pending"] + t["dead_lettered"],
            )
        )
        if "received_cases" in t:
            checks.append(
                (
                    f"{name}: receiver holds the cases it acknowledged, none twice",
                    t["received_cases"] == t["acknowledged_cases"] and t["duplicate_effects"] == 0,
                )
            )
    return checks


def render(figures: dict) -> str:
    lines = [
        "Reconciliation",
        f"  pulled       {figures['pulled']:>7}",
        f"  staged       {figures['staged']:>7}",
        f"  quarantined  {figures['quarantined']:>7}",
        f"  golden cases {figures['golden']:>7}  ({figures['golden_versions']} versions)",
        f"  duplicates   {figures['duplicates']:>7}  (of which {figures['status_updates']} later states of a record)",
        f"  licences     {figures['licences']:>7}  ({figures['licences_valid']} valid, "
        f"{figures['licences_from_both_sources']} reported by a case and the registry alike; "
        f"{figures['holders']} holders, {figures['licence_events']} events)",
        "",
        f"  {'receiver':<12} {'versions':>8} {'acknowledged':>12} {'pending':>8} {'dead-lettered':>13}"
        f" {'receiver holds':>14} {'twice':>6}",
    ]
    for name, t in figures["targets"].items():
        lines.append(
            f"  {name:<12} {t['case_versions']:>8} {t['acknowledged']:>12} {t['pending']:>8} {t['dead_lettered']:>13}"
            f" {t.get('received_cases', '?'):>14} {t.get('duplicate_effects', '?'):>6}"
        )
    if figures.get("faults_injected"):
        lines.append("")
        for name, served in figures["faults_injected"].items():
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in served.items() if v)
            lines.append(f"  faults the {name} stand-in showed: {shown or 'none'}")
    lines.append("")
    for label, ok in identities(figures):
        lines.append(f"  [{'ok' if ok else 'FAILED'}] {label}")
    return "\n".join(lines)


def demo_window(options: DemoOptions) -> list[str]:
    end = options.end or (pd.Timestamp.now(tz=LOCAL_TZ).date() - dt.timedelta(days=1))
    start = end - dt.timedelta(days=options.days - 1)
    return [str(start + dt.timedelta(days=i)) for i in range(options.days)]


def run_demo(options: DemoOptions, *, log=print) -> dict:
    home = settings.dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)

    from dagster import DagsterInstance, build_resources

    from delivery.outbox import drain
    from pipelines.definitions import build_definitions
    from pipelines.definitions import build_resources as resource_defs
    from pipelines.partitions import WEEKLY_CHUNKS, partition_range_tags
    from sandbox.runtime import Sandbox, SandboxSettings
    from schemas.warehouse import metadata

    keys = demo_window(options)
    sandbox_settings = SandboxSettings(
        root=settings.sandbox_dir(),
        start=dt.date.fromisoformat(keys[0]),
        days=options.days,
        cases_per_day=options.cases_per_day,
        fault_level=options.fault_level,
    )
    defs = build_definitions()
    instance = DagsterInstance.get()
    started = time.perf_counter()
    with build_resources(resource_defs()) as resources, Sandbox(sandbox_settings) as sandbox:
        warehouse = resources.warehouse
        metadata.drop_all(warehouse.engine)  # the demo starts from an empty warehouse every time
        metadata.create_all(warehouse.engine)
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
        figures = summary(warehouse, {name: getattr(resources, name) for name in TARGETS})
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
