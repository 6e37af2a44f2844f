"""The sharing API's purpose binding, checked afterwards: reads whose case never reached the bridge."""

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
    asset_check,
)

from core import clock, settings
from core.warehouse import Warehouse, insert_frame
from pipelines.marts.assets import MART, MART_DESCRIPTION
from pipelines.metadata import md, table_metadata
from reporting.purpose import DAYS_VARIABLE, DEFAULT_DAYS, unbound_reads
from schemas.warehouse import mart_unbound_reads


def window_days() -> int:
    days = settings.number(DAYS_VARIABLE, DEFAULT_DAYS)
    if days < 1 or days != int(days):
        raise ValueError(f"{DAYS_VARIABLE}={days:g}: a whole number of days, at least 1")
    return int(days)


def by_caller(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    return (
        frame.groupby("caller")
        .agg(reads=("read_id", "size"), cases=("case_no", "nunique"), last_read=("read_day", "max"))
        .reset_index()
        .sort_values("reads", ascending=False)
    )


@asset(
    deps=["staged_cases", "case_resolution"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_unbound_reads),
    description="Licence reads whose case never reached the bridge within BRIDGE_UNBOUND_READ_DAYS (default 7) of "
    "the read: each read of the sharing API names the case it is for, and a case that never appears is how "
    "misuse shows. Only answered reads count; a read is judged once its window has closed." + MART_DESCRIPTION,
)
def purpose_binding_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    days = window_days()
    with warehouse.begin() as conn:
        frame = unbound_reads(conn, clock.today(), days)
        conn.execute(mart_unbound_reads.delete())
        rows = insert_frame(conn, mart_unbound_reads, frame)
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "window_days": days,
            "by_caller": md(by_caller(frame)),
        }
    )


@asset_check(
    asset=purpose_binding_mart,
    name="every_read_has_its_case",
    description="A warning while any answered read's case has not reached the bridge within the window: look at "
    "the caller's reads in mart_unbound_reads and ask the department what they were for.",
)
def every_read_has_its_case(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    frame = warehouse.read(sa.select(mart_unbound_reads))
    return AssetCheckResult(
        passed=frame.empty,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "unbound_reads": len(frame),
            "callers": MetadataValue.md(by_caller(frame).to_markdown(index=False)) if len(frame) else "none",
            "latest": md(frame.sort_values("read_at").tail(20)[["read_at", "caller", "action", "case_no"]]),
        },
    )
