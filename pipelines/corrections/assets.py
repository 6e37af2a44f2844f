"""Corrections back to the departments: the ``corrections`` state table (one entry per quarantined record and per
receiver's refusal, on the list of the department that must put it right) and ``mart_corrections_daily`` (open,
opened, fixed and age, per day and department). The logic is reporting.corrections; docs/corrections.md."""

import pandas as pd
import sqlalchemy as sa
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, ResourceParam, asset

from core import clock
from core.warehouse import Warehouse, replace_table
from pipelines.deliver.assets import DELIVERY_ASSETS, delivery_status
from pipelines.marts.assets import MART, MART_DESCRIPTION
from pipelines.metadata import md, table_metadata
from reporting.corrections import FIXED, OPEN, STAGED_FEEDS, build, daily_counts, listed_feeds
from schemas.case import departments
from schemas.warehouse import corrections, mart_corrections_daily
from schemas.workdays import calendar

#: The staging assets of the feeds whose quarantined records are on the departments' lists (named after their table).
FEED_STAGING = sorted({STAGED_FEEDS[kind][0].name for kind in listed_feeds().values()})


def by_department(entries: pd.DataFrame) -> pd.DataFrame:
    """Open and fixed entries per department and kind, the department by its short name: what the UI shows."""
    if entries.empty:
        return pd.DataFrame(columns=["department", "kind", "open", "fixed"])
    names = departments().set_index("department_code")["short_name"]
    table = entries.pivot_table(index=["department", "kind"], columns="status", values="entry_key", aggfunc="count")
    table = table.reindex(columns=[OPEN, FIXED], fill_value=0).fillna(0).astype(int).reset_index()
    table["department"] = table["department"].map(names).fillna(table["department"])
    return table.rename_axis(columns=None)


@asset(
    name="corrections",
    deps=[
        "quarantined_records",
        "staged_cases",
        "case_resolution",
        *FEED_STAGING,
        *(a.key for a in DELIVERY_ASSETS),
        delivery_status.key,
    ],
    group_name="corrections",
    kinds={"pandas", "sqlalchemy"},
    owners=["team:approval-bureau"],
    metadata=table_metadata(corrections),
    description="纠错清单: every quarantined record (per source record: its newest quarantine) and every receiver's "
    "refusal or version held back (per receiver and golden case: its newest version) as one entry on the list of "
    "the department that must put it right (schemas/codes/correction_departments.csv; a refusal goes to the "
    "department whose record supplied the refused field, a department's own record before the bureau's re-entry): "
    "the record as its clerks know it, 办件编号, applicant (identifiers masked), field, reason in a clerk's words. "
    "Open until the record arrives again and stages cleanly, or a later version is acknowledged by that receiver. "
    "Dated by partition days: the same facts give the same entries, however the days were loaded. Rebuilt whole, "
    "keeping closed what a re-loaded day took away. `approval-bridge report corrections --day D` writes the lists. "
    "docs/corrections.md.",
)
def corrections_asset(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    with warehouse.begin() as conn:
        entries = build(conn)
        replace_table(conn, corrections, entries, context.log.info)
    status = entries["status"].value_counts() if len(entries) else pd.Series(dtype=int)
    open_entries = entries[entries["status"] == OPEN] if len(entries) else entries
    reasons = (
        open_entries.groupby(["kind", "reason_code"]).size().rename("open").sort_values(ascending=False).reset_index()
        if len(open_entries)
        else pd.DataFrame()
    )
    fixed = (
        entries["fixed_how"].value_counts().rename_axis("how").rename("entries").reset_index()
        if len(entries)
        else pd.DataFrame()
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(entries),
            "open": int(status.get(OPEN, 0)),
            "fixed": int(status.get(FIXED, 0)),
            "by_department": md(by_department(entries)),
            "fixed_how": md(fixed),
            "open_by_reason": md(reasons.head(20)),
        }
    )


@asset(
    deps=["corrections", "working_calendar"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_corrections_daily),
    description="Correction entries per day and department: open at the end of the day (quarantined records, "
    "refusals), opened and fixed that day, the open ones by age in working days (0-2, 3-5, 6-10, over 10; the day "
    "first seen is day 0) and the oldest. From each department's first entry to today. No personal data."
    + MART_DESCRIPTION,
)
def corrections_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    today = clock.today()
    with warehouse.begin() as conn:
        entries = warehouse.read(sa.select(corrections), conn)
        mart = daily_counts(entries, calendar(), today)
        replace_table(conn, mart_corrections_daily, mart, context.log.info)
    latest = mart[mart["day"] == today] if len(mart) else mart
    shown = latest[["department", "open", "open_over_10", "oldest_open_working_days"]] if len(latest) else latest
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(mart),
            "as_of": MetadataValue.text(today.isoformat()),
            "open_today": md(shown),
        }
    )
