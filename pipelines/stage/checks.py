"""Checks on each day's staging, re-runnable on their own (Dagster UI: the check's "Execute"): nothing pulled is
lost between the raw records and staged or quarantined, and the Great Expectations gate on the staged rows."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    ResourceParam,
)

from core.warehouse import Warehouse
from pipelines.metadata import check_result, md
from pipelines.partitions import daily_check, run_window
from pipelines.stage.assets import RECONCILED, partition_counts
from schemas.expectations import validate_staged
from schemas.warehouse import source_loads, staged_cases


def loaded_days(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The (day, source) pairs from first to last whose pull finished (a row in ``source_loads``)."""
    s = source_loads.c
    frame = warehouse.read(
        sa.select(s.partition_date, s.source_system).where(s.partition_date.between(first, last)).distinct()
    )
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return frame


def days_not_pulled(warehouse: Warehouse, first: dt.date, last: dt.date) -> list[dt.date]:
    """Days from first to last on which no department's pull finished: nothing downstream can be verified."""
    loaded = set(loaded_days(warehouse, first, last)["partition_date"])
    return [d for d in pd.date_range(first, last).date if d not in loaded]


@daily_check(
    asset="staged_cases",
    name=RECONCILED,
    blocking=True,
    description="Per day and source: pulled (raw_records) = staged + quarantined, so nothing is dropped silently. "
    "A source whose pull of a day has not finished (no source_loads row) cannot be verified: a warning.",
)
def pulled_equals_staged_plus_quarantined(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    first, last = run_window(context)
    counts = partition_counts(warehouse, first, last)
    loads = loaded_days(warehouse, first, last).assign(pulled_finished=True)
    counts = counts.merge(loads, on=["partition_date", "source_system"], how="left")
    counts["pulled_finished"] = counts["pulled_finished"].astype("boolean").fillna(False).astype(bool)
    counts["difference"] = counts["pulled"] - counts["staged"] - counts["quarantined"]
    unbalanced = counts[counts["difference"] != 0]
    not_pulled = counts[~counts["pulled_finished"] & (counts["difference"] == 0)]
    daily = counts.groupby("partition_date")[["pulled", "staged", "quarantined", "difference"]].sum().reset_index()
    return check_result(
        failing=not unbalanced.empty,
        unverified=[
            f"{row.partition_date} {row.source_system}: not pulled yet (no source_loads row)"
            for row in not_pulled.itertuples()
        ],
        metadata={
            "days": (last - first).days + 1,
            "pulled": int(counts["pulled"].sum()),
            "staged": int(counts["staged"].sum()),
            "quarantined": int(counts["quarantined"].sum()),
            "failing_days": ", ".join(str(d) for d in sorted(set(unbalanced["partition_date"]))) or "none",
            "by_day": md(daily),
            "unbalanced": md(unbalanced.drop(columns="pulled_finished")),
        },
    )


@daily_check(
    asset="staged_cases",
    blocking=True,
    description="Great Expectations suite `staged_cases` (schemas/expectations.py) on the run's days' staged rows.",
)
def staged_cases_expectations(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    first, last = run_window(context)
    frame = warehouse.read(sa.select(staged_cases).where(staged_cases.c.partition_date.between(first, last)))
    success, results = validate_staged(frame)
    failed = results[~results["success"]]
    return AssetCheckResult(
        passed=success,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "days": (last - first).days + 1,
            "rows": len(frame),
            "expectations": len(results),
            "failed": MetadataValue.md(failed.to_markdown(index=False) if len(failed) else "none"),
        },
    )
