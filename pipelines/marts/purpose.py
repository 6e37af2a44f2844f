"""The sharing API's purpose binding, checked afterwards: reads whose case never reached the bridge, or whose
holder is not a party of it."""

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
from core.warehouse import Warehouse, replace_table
from pipelines.marts.assets import MART, MART_DESCRIPTION
from pipelines.metadata import md, table_metadata
from reporting.purpose import DAYS_VARIABLE, DEFAULT_DAYS, LATE_CASE, NO_CASE, NOT_A_PARTY, unbound_reads
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
        .agg(
            reads=("read_id", "size"),
            no_case=("finding", lambda f: int((f == NO_CASE).sum())),
            late_case=("finding", lambda f: int((f == LATE_CASE).sum())),
            not_a_party=("finding", lambda f: int((f == NOT_A_PARTY).sum())),
            cases=("case_no", "nunique"),
            last_read=("read_day", "max"),
        )
        .reset_index()
        .sort_values("reads", ascending=False)
    )


@asset(
    deps=["staged_cases", "case_resolution", "licence_repository"],  # the cases, and their parties
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_unbound_reads),
    description="Licence reads not bound to their case: the case never reached the bridge within "
    "BRIDGE_UNBOUND_READ_DAYS (default 7) of the read (`no_case`, `late_case`), or the holder read is not a party "
    "of it (`not_a_party`: neither its applicant nor its licences' holder). Each read of the sharing API names the "
    "case it is for; a case that never appears, or one case cited for strangers, is how misuse shows. Only "
    "answered reads count; a read is judged once its window has closed." + MART_DESCRIPTION,
)
def purpose_binding_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    days = window_days()
    with warehouse.begin() as conn:
        frame = unbound_reads(conn, clock.today(), days)
        rows = replace_table(conn, mart_unbound_reads, frame, context.log.info)
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
    description="A warning while any answered read is not bound to its case (the case has not reached the bridge "
    "within the window, or the holder read is not a party of it): look at the caller's reads in "
    "mart_unbound_reads and ask the department what they were for.",
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
            "latest": md(frame.sort_values("read_at").tail(20)[["read_at", "caller", "action", "case_no", "finding"]]),
        },
    )
