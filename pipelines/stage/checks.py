"""The Great Expectations gate on each day's staged cases."""

import sqlalchemy as sa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from core.warehouse import Warehouse
from pipelines.partitions import DAILY, partition_days
from schemas.expectations import validate_staged
from schemas.warehouse import staged_cases


@asset_check(
    asset="staged_cases",
    partitions_def=DAILY,
    blocking=True,
    description="Great Expectations suite `staged_cases` (schemas/expectations.py) on the run's days' staged rows.",
)
def staged_cases_expectations(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    days = partition_days(context)
    frame = warehouse.read(
        sa.select(staged_cases).where(staged_cases.c.partition_date.between(days[0].date, days[-1].date))
    )
    success, results = validate_staged(frame)
    failed = results[~results["success"]]
    return AssetCheckResult(
        passed=success,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "days": len(days),
            "rows": len(frame),
            "expectations": len(results),
            "failed": MetadataValue.md(failed.to_markdown(index=False) if len(failed) else "none"),
        },
    )
