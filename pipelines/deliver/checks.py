"""Checks on delivery that can be re-run on their own (Dagster UI: the check's "Execute"): every version is in each
receiver's outbox (one verdict per day, pipelines/partitions.py daily_check), every receiver holds what it
acknowledged, nothing waits too long."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    ResourceParam,
    asset_check,
)

from core import clock, settings
from core.vocabulary import PENDING_STATUSES
from core.warehouse import Warehouse
from delivery.outbox import LICENCE_TARGETS, STATUSES
from delivery.reconcile import EPOCH, Reconciled, reconcile_receiver
from pipelines.deliver.assets import (
    ACCOUNTED,
    NO_STALE_PENDING,
    RECEIVER_AGREES,
    TARGET_TITLES,
    delivery_status,
    how_read,
)
from pipelines.metadata import check_result, md
from pipelines.partitions import Verdicts, daily_check, days_of
from schemas.warehouse import case_links, golden_cases, licence_events, licences, outbox


def versions_accounted(warehouse: Warehouse, target_name: str, first: dt.date, last: dt.date) -> dict:
    """For the entities the days first..last touched (golden cases linked from them, or licences with events of
    them, and whatever the target was queued on them): every version from 1 to the current one must have an outbox
    row for the target in a known status. Returns which day touched which entity, the gaps by entity and the days'
    outbox rows."""
    if target_name in LICENCE_TARGETS:
        table, key = licences, licences.c.licence_key
        e = licence_events.c
        touched = sa.select(e.licence_key.label("entity_id"), e.partition_date).where(
            e.partition_date.between(first, last)
        )
    else:
        table, key = golden_cases, golden_cases.c.golden_case_id
        link = case_links.c
        touched = sa.select(link.golden_case_id.label("entity_id"), link.partition_date).where(
            link.partition_date.between(first, last)
        )
    o = outbox.c
    in_days = (o.target == target_name) & o.partition_date.between(first, last)
    pairs = sa.union(touched, sa.select(o.golden_case_id, o.partition_date).where(in_days)).subquery()
    by_day = warehouse.read(sa.select(pairs.c.entity_id, pairs.c.partition_date))
    by_day["partition_date"] = pd.to_datetime(by_day["partition_date"]).dt.date
    ids = sa.select(pairs.c.entity_id)
    entities = warehouse.read(sa.select(key.label("entity_id"), table.c.version.label("current")).where(key.in_(ids)))
    rows = warehouse.read(
        sa.select(o.golden_case_id.label("entity_id"), o.version, o.status, o.partition_date).where(
            (o.target == target_name) & o.golden_case_id.in_(ids)
        )
    )
    current = entities["current"].astype(int)
    held = rows.merge(entities.assign(current=current), on="entity_id").astype({"version": int})
    held = held[held["version"].between(1, held["current"]) & held["status"].isin(STATUSES)]
    held = held.drop_duplicates(["entity_id", "version"])
    # versions 1 … current less those held, counted in columns; the missing ones listed only where some are
    missing = current - entities["entity_id"].map(held.groupby("entity_id").size()).fillna(0).astype(int)
    versions = pd.DataFrame(
        {"entity": entities["entity_id"], "current_version": current, "missing": missing, "missing_versions": None}
    )
    short = versions.index[missing > 0]
    if len(short):
        kept = held[held["entity_id"].isin(versions.loc[short, "entity"])].groupby("entity_id")["version"].agg(set)
        lacking = versions.loc[short]
        versions.loc[short, "missing_versions"] = pd.Series(
            [
                sorted(set(range(1, top + 1)) - kept.get(entity, set()))
                for entity, top in zip(lacking["entity"], lacking["current_version"], strict=True)
            ],
            index=short,
            dtype=object,
        )
    rows["partition_date"] = pd.to_datetime(rows["partition_date"]).dt.date
    return {
        "touched": by_day,
        "versions": versions,
        "rows": rows[rows["partition_date"].between(first, last)],
    }


ENTITY_NAMES = {True: "licence", False: "golden case"}


def build_accounted_check(target_name: str) -> AssetChecksDefinition:
    @daily_check(
        asset=f"{target_name}_delivery",
        name=ACCOUNTED,
        description=f"Every version (1 … current) of every {ENTITY_NAMES[target_name in LICENCE_TARGETS]} the "
        "day touched has a row in this receiver's outbox, acknowledged, pending (queued or sent) or "
        "dead-lettered: nothing queued is lost, nothing is left unqueued.",
    )
    def every_version_accounted_for(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
        found = versions_accounted(warehouse, target_name, days[0], days[-1])
        versions, rows = found["versions"], found["rows"]
        verdicts = {}
        for day in days:
            of_day = versions[versions["entity"].isin(days_of(found["touched"], day)["entity_id"])]
            gaps = of_day[of_day["missing"] > 0]
            queued = days_of(rows, day)
            unknown = queued[~queued["status"].isin(STATUSES)]
            verdicts[day] = check_result(
                failing=not gaps.empty or not unknown.empty,
                unverified=[],
                metadata={
                    "entities_checked": len(of_day),
                    "versions_expected": int(of_day["current_version"].sum()),
                    "versions_accounted": int(of_day["current_version"].sum()) - int(of_day["missing"].sum()),
                    "entities_with_missing_versions": len(gaps),
                    "examples": md(gaps.head(20).drop(columns="missing").astype({"missing_versions": str})),
                    "rows_in_unknown_status": len(unknown),
                    "queued_on_the_day_by_status": md(
                        queued["status"].value_counts().rename("versions").rename_axis("status").reset_index(),
                        "nothing queued on this day",
                    ),
                },
            )
        return verdicts

    return every_version_accounted_for


ACCOUNTED_CHECKS = [build_accounted_check(name) for name in TARGET_TITLES]


def receiver_agrees(target_name: str, found: Reconciled) -> tuple[dict, pd.DataFrame]:
    """One receiver's verdict over the whole history (read a month at a time): a summary row and the days that
    differ."""
    cases = found.cases
    acknowledged = int(cases["our_version"].notna().sum()) if len(cases) else 0
    summary = {"target": target_name, "acknowledged_cases": acknowledged, "receiver_check": found.check}
    if found.why_not is not None:
        return summary | {"verified_by": how_read(found)}, pd.DataFrame()
    table = found.table
    differing = table[table["differences"] > 0].drop(columns=["stale_pending"])
    verdicts = cases["verdict"].value_counts() if len(cases) else pd.Series(dtype=int)
    summary |= {
        "verified_by": how_read(found),
        "receiver_cases": int(cases["receiver_version"].notna().sum()) if len(cases) else 0,
        "in_flight": int(verdicts.get("in_flight", 0)),
        "differences": int(table["differences"].sum()),
        "duplicate_effects": int(cases["duplicate_effects"].fillna(0).sum()) if found.duplicates_known else "?",
    }
    return summary, differing


@asset_check(
    asset=delivery_status,
    name=RECEIVER_AGREES,
    required_resource_keys={"warehouse", *TARGET_TITLES},
    description="Per receiver, over the whole history, read a month at a time by the receiver's own published "
    "query (the province's tables by their time column; the platforms' receipts query): it holds exactly the newest "
    "version it acknowledged to us for every case (a case taken in whose receipt we have not fetched yet is in "
    "flight, not a difference), and nothing took effect twice (where its query can tell). A receiver that "
    "publishes no such query, or does not answer, is `cannot verify`: a warning saying so, never a pass.",
)
def receiver_holds_what_it_acknowledged(context: AssetCheckExecutionContext) -> AssetCheckResult:
    warehouse: Warehouse = context.resources.warehouse
    summaries, differing, unverified = [], [], []
    for name in TARGET_TITLES:
        found = reconcile_receiver(warehouse, name, getattr(context.resources, name), None, EPOCH)
        summary, days = receiver_agrees(name, found)  # stale versions: no_stale_pending
        summaries.append(summary)
        differing.append(days)
        if found.why_not is not None:
            unverified.append(f"{name}: {found.why_not}")
    table = pd.DataFrame(summaries)
    differences = int(pd.to_numeric(table.get("differences", pd.Series(dtype=int))).fillna(0).sum())
    days = pd.concat(differing, ignore_index=True)
    return check_result(
        failing=differences > 0,
        unverified=unverified,
        metadata={
            "receivers": md(table),
            **{f"{row.target}_receiver_check": row.receiver_check for row in table.itertuples()},
            "differences": differences,
            "failing_days": ", ".join(sorted({f"{r.target} {r.day}" for r in days.itertuples()})) or "none",
            "days_that_differ": md(days),
        },
    )


@asset_check(
    asset=delivery_status,
    name=NO_STALE_PENDING,
    description="No version has waited for delivery or acknowledgement longer than BRIDGE_PENDING_MAX_AGE_HOURS "
    "(default 24): a receiver that stopped answering shows here (a warning).",
)
def no_stale_pending(context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    hours = settings.number("BRIDGE_PENDING_MAX_AGE_HOURS", 24)
    before = clock.now() - dt.timedelta(hours=hours)
    o = outbox.c
    stale = warehouse.read(
        sa.select(
            o.target,
            o.partition_date.label("day"),
            o.status,
            sa.func.count().label("versions"),
            sa.func.min(o.created_at).label("oldest_queued_at"),
        )
        .where(o.status.in_(PENDING_STATUSES) & (o.created_at < before))
        .group_by(o.target, o.partition_date, o.status)
        .order_by(o.target, o.partition_date)
    )
    return AssetCheckResult(
        passed=stale.empty,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "max_age_hours": hours,
            "stale_pending": int(stale["versions"].sum()) if len(stale) else 0,
            "failing_days": ", ".join(sorted({f"{r.target} {r.day}" for r in stale.itertuples()})) or "none",
            "by_target_and_day": md(stale),
        },
    )


DELIVERY_CHECKS = [*ACCOUNTED_CHECKS, receiver_holds_what_it_acknowledged, no_stale_pending]
