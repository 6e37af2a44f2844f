"""Checks on the 12345 orders, re-runnable on their own from the UI: nothing pulled is lost between the raw records
and staged or quarantined (per day), and every order pulled ends in exactly one state."""

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckExecutionContext, AssetCheckResult, ResourceParam, asset_check

from core.warehouse import Warehouse
from pipelines.feeds.assets import HOTLINE_FEEDS
from pipelines.metadata import check_result, md
from pipelines.partitions import daily_check, run_window
from schemas.warehouse import hotline_orders, quarantined_feed_records, raw_feed_records, source_loads
from schemas.warehouse import staged_hotline_orders as staged

STATUSES = ("linked", "review", "unlinked", "quarantined")


def _per_day(warehouse: Warehouse, table: sa.Table, first, last, label: str) -> pd.DataFrame:
    t = table.c
    query = (
        sa.select(t.partition_date, t.source_system, sa.func.count().label(label))
        .where(t.partition_date.between(first, last) & t.source_system.in_(list(HOTLINE_FEEDS)))
        .group_by(t.partition_date, t.source_system)
    )
    frame = warehouse.read(query)
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return frame


@daily_check(
    asset="staged_hotline_orders",
    name="hotline_pulled_equals_staged_plus_quarantined",
    blocking=True,
    description="Per day and hotline feed: records pulled (raw_feed_records) = staged + quarantined. A day whose "
    "pull has not finished (no source_loads row) cannot be verified: a warning.",
)
def hotline_pulled_equals_staged_plus_quarantined(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    first, last = run_window(context)
    keys = ["partition_date", "source_system"]
    counts = _per_day(warehouse, raw_feed_records, first, last, "pulled")
    for table, label in ((staged, "staged"), (quarantined_feed_records, "quarantined")):
        counts = counts.merge(_per_day(warehouse, table, first, last, label), on=keys, how="outer")
    counts[["pulled", "staged", "quarantined"]] = counts[["pulled", "staged", "quarantined"]].fillna(0).astype(int)
    loads = _per_day(warehouse, source_loads, first, last, "loads")
    counts = counts.merge(loads, on=keys, how="outer").fillna({"pulled": 0, "staged": 0, "quarantined": 0})
    counts["difference"] = counts["pulled"] - counts["staged"] - counts["quarantined"]
    unbalanced = counts[counts["difference"] != 0]
    days = {d.date() for d in pd.date_range(first, last)}
    pulled_days = {(d, f) for d, f in zip(loads["partition_date"], loads["source_system"], strict=True)}
    not_pulled = [f"{d} {f}: not pulled yet (no source_loads row)" for d in sorted(days) for f in HOTLINE_FEEDS
                  if (d, f) not in pulled_days]  # fmt: skip
    return check_result(
        failing=not unbalanced.empty,
        unverified=not_pulled,
        metadata={
            "days": len(days),
            "pulled": int(counts["pulled"].sum()),
            "staged": int(counts["staged"].sum()),
            "quarantined": int(counts["quarantined"].sum()),
            "failing_days": ", ".join(str(d) for d in sorted(set(unbalanced["partition_date"]))) or "none",
            "unbalanced": md(unbalanced.drop(columns="loads")),
        },
    )


@asset_check(
    asset="hotline_orders",
    blocking=True,
    description="Every 12345 order pulled (an id staged or quarantined; a record without an id by itself) is in "
    "hotline_orders exactly once, in one of linked, review, unlinked, quarantined; a linked one names its case.",
)
def every_order_once(warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    h, s, q = hotline_orders.c, staged.c, quarantined_feed_records.c
    feeds = list(HOTLINE_FEEDS)
    states = warehouse.read(sa.select(h.source_system, h.order_id, h.status, h.golden_case_id))
    usable = warehouse.read(sa.select(s.source_system, s.order_id).distinct())
    held = warehouse.read(
        sa.select(q.source_system, q.partition_date, q.record_key, q.item_id).where(q.source_system.in_(feeds))
    )
    day = pd.to_datetime(held["partition_date"]).dt.strftime("%Y-%m-%d")
    held_ids = held["item_id"].astype("string").fillna(day + "/" + held["record_key"].astype("string"))
    pulled = set(zip(usable["source_system"], usable["order_id"], strict=True)) | set(
        zip(held["source_system"], held_ids, strict=True)
    )
    present = list(zip(states["source_system"], states["order_id"], strict=True))
    missing = pulled - set(present)
    extra = set(present) - pulled
    twice = len(present) - len(set(present))
    bad_status = states[~states["status"].isin(STATUSES)]
    unnamed = states[(states["status"] == "linked") & states["golden_case_id"].isna()]
    return check_result(
        failing=bool(missing or extra or twice or len(bad_status) or len(unnamed)),
        unverified=[],
        metadata={
            "orders_pulled": len(pulled),
            "orders_held": len(present),
            "missing": ", ".join(sorted(o for _, o in missing)[:10]) or "none",
            "not_pulled": ", ".join(sorted(o for _, o in extra)[:10]) or "none",
            "twice": twice,
            "by_status": md(states["status"].value_counts().rename_axis("status").reset_index()),
            "linked_without_case": len(unnamed),
        },
    )
