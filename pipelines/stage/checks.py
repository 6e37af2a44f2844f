"""Checks on each day's staging, one verdict per day, re-runnable on their own (pipelines/partitions.py,
daily_check): nothing pulled is lost between the raw records and staged or quarantined, and the Great Expectations
gate on the staged rows."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from core.warehouse import Warehouse
from pipelines.metadata import check_result, md
from pipelines.partitions import Verdicts, daily_check, days_of
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
def pulled_equals_staged_plus_quarantined(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
    counts = partition_counts(warehouse, days[0], days[-1])
    loads = loaded_days(warehouse, days[0], days[-1]).assign(pulled_finished=True)
    counts = counts.merge(loads, on=["partition_date", "source_system"], how="left")
    counts["pulled_finished"] = counts["pulled_finished"].astype("boolean").fillna(False).astype(bool)
    counts["difference"] = counts["pulled"] - counts["staged"] - counts["quarantined"]
    verdicts = {}
    for day in days:
        of_day = days_of(counts, day)
        unbalanced = of_day[of_day["difference"] != 0]
        not_pulled = of_day[~of_day["pulled_finished"] & (of_day["difference"] == 0)]
        verdicts[day] = check_result(
            failing=not unbalanced.empty,
            unverified=[f"{source}: not pulled yet (no source_loads row)" for source in not_pulled["source_system"]],
            metadata={
                "pulled": int(of_day["pulled"].sum()),
                "staged": int(of_day["staged"].sum()),
                "quarantined": int(of_day["quarantined"].sum()),
                "by_source": md(of_day.drop(columns="partition_date")),
                "unbalanced_sources": ", ".join(unbalanced["source_system"]) or "none",
            },
        )
    return verdicts


@daily_check(
    asset="staged_cases",
    blocking=True,
    description="Great Expectations suite `staged_cases` (schemas/expectations.py) on each day's staged rows.",
)
def staged_cases_expectations(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
    s = staged_cases.c
    frame = warehouse.read(sa.select(staged_cases).where(s.partition_date.between(days[0], days[-1])))
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    # Every expectation is about single rows (uniqueness is per day and source), so the days pass together when
    # their rows do; only a failure is worth a validation per day, to say which day.
    success, results = validate_staged(frame)
    verdicts = {}
    for day in days:
        rows = days_of(frame, day).reset_index(drop=True)
        passed, of_day = (success, results) if success else validate_staged(rows)
        failed = of_day[~of_day["success"]]
        verdicts[day] = AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "rows": len(rows),
                "expectations": len(of_day),
                "failed": MetadataValue.md(failed.to_markdown(index=False) if len(failed) else "none"),
            },
        )
    return verdicts
