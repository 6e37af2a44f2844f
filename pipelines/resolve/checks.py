"""Checks on record resolution that can be re-run on their own (Dagster UI: the check's "Execute")."""

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
from schemas.warehouse import case_links, staged_cases

ONE_ITEM = "one_item_per_golden_case"


def golden_cases_with_two_items(warehouse: Warehouse, first, last) -> list[tuple[str, str]]:
    """Golden cases linked from the days ``first``..``last`` whose records (each source record in its newest
    state) carry more than one catalogue item code: (golden case, its codes)."""
    s, newer = staged_cases.alias("s"), staged_cases.alias("newer")
    links = case_links.alias("l")
    joined = links.join(
        s,
        (s.c.source_system == links.c.source_system)
        & (s.c.partition_date == links.c.partition_date)
        & (s.c.record_key == links.c.record_key),
    )
    touched = sa.select(case_links.c.golden_case_id).where(case_links.c.partition_date.between(first, last))
    superseded = sa.exists().where(
        (newer.c.source_system == s.c.source_system)
        & (newer.c.source_record_id == s.c.source_record_id)
        & (newer.c.partition_date > s.c.partition_date)
    )
    codes = (
        sa.select(links.c.golden_case_id, s.c.item_code)
        .select_from(joined)
        .where(links.c.golden_case_id.in_(touched) & s.c.item_code.is_not(None) & (s.c.item_code != "") & ~superseded)
        .distinct()
        .subquery()
    )
    offending = (
        sa.select(codes.c.golden_case_id)
        .group_by(codes.c.golden_case_id)
        .having(sa.func.count(codes.c.item_code) > 1)
        .subquery()
    )
    rows = warehouse.read(
        sa.select(codes.c.golden_case_id, codes.c.item_code)
        .where(codes.c.golden_case_id.in_(sa.select(offending.c.golden_case_id)))
        .order_by(codes.c.golden_case_id, codes.c.item_code)
    )
    return [(gc, ", ".join(group["item_code"])) for gc, group in rows.groupby("golden_case_id")]


@asset_check(
    asset="case_resolution",
    name=ONE_ITEM,
    partitions_def=DAILY,
    blocking=True,
    description="No golden case linked from the run's days holds records with two different catalogue item codes "
    "(aliases are one code after staging; a source record counts in its newest state): a false merge would lose a "
    "case at every receiver.",
)
def one_item_per_golden_case(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    days = partition_days(context)
    found = golden_cases_with_two_items(warehouse, days[0].date, days[-1].date)
    listed = "\n".join(f"- {gc}: {codes}" for gc, codes in found[:20])
    return AssetCheckResult(
        passed=not found,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "days": len(days),
            "golden_cases_with_two_items": len(found),
            "examples": MetadataValue.md(listed or "none"),
        },
    )
