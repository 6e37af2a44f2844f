"""Checks behind the marts that can be re-run on their own (Dagster UI: the check's "Execute")."""

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, ResourceParam, asset_check

from core.warehouse import Warehouse
from pipelines.marts.assets import ALL_LINKED
from pipelines.metadata import md
from pipelines.resolve.checks import linked_by_day
from schemas.warehouse import case_links, staged_cases


@asset_check(
    asset="resolution_backlog_mart",
    name=ALL_LINKED,
    description="Across all days: staged records = golden records + duplicates (each staged record has one link). "
    "A warning, as while a backfill is under way a day can be staged before it is linked; each day's load is "
    "held to it by `staged_equals_golden_plus_duplicates`.",
)
def every_staged_record_linked_once(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    span = warehouse.read(
        sa.select(
            sa.func.min(staged_cases.c.partition_date).label("first"),
            sa.func.max(staged_cases.c.partition_date).label("last"),
        ).union_all(sa.select(sa.func.min(case_links.c.partition_date), sa.func.max(case_links.c.partition_date)))
    )
    first, last = pd.to_datetime(span["first"]).min(), pd.to_datetime(span["last"]).max()
    by_day = pd.DataFrame() if pd.isna(first) else linked_by_day(warehouse, first.date(), last.date())
    wrong = (
        by_day[(by_day["difference"] != 0) | (by_day["not_linked"] > 0) | (by_day["links_without_record"] > 0)]
        if len(by_day)
        else by_day
    )
    return AssetCheckResult(
        passed=wrong.empty,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "staged": int(by_day["staged"].sum()) if len(by_day) else 0,
            "golden": int(by_day["golden"].sum()) if len(by_day) else 0,
            "duplicates": int(by_day["duplicates"].sum()) if len(by_day) else 0,
            "failing_days": ", ".join(str(d) for d in wrong["partition_date"]) if len(wrong) else "none",
            "days_that_differ": md(wrong.head(50)),
        },
    )
