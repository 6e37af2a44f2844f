"""Checks on the 好差评 evaluations, re-runnable on their own: nothing a feed sent is lost between its raw records
and staged or quarantined, every evaluation pulled ends linked, waiting or quarantined, and an evaluation whose
case has not come for days is reported."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, ResourceParam, asset_check

from core import clock
from core.warehouse import Warehouse
from pipelines.feeds.assets import EVALUATION_FEEDS
from pipelines.metadata import check_result, md
from pipelines.partitions import daily_check, run_window
from reporting.definitions import definitions
from reporting.evaluations import LINKED, QUARANTINED, WAITING, accounted
from schemas.warehouse import evaluations, quarantined_feed_records, raw_feed_records, source_loads, staged_evaluations


def _per_day(warehouse: Warehouse, table: sa.Table, name: str, first: dt.date, last: dt.date) -> pd.DataFrame:
    t = table.c
    frame = warehouse.read(
        sa.select(t.partition_date, t.source_system, sa.func.count().label(name))
        .where(t.partition_date.between(first, last) & t.source_system.in_(list(EVALUATION_FEEDS)))
        .group_by(t.partition_date, t.source_system)
    )
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return frame.set_index(["partition_date", "source_system"])


@daily_check(
    asset="staged_evaluations",
    name="evaluation_records_staged_or_quarantined",
    blocking=True,
    description="Per day and evaluation feed: records pulled (raw_feed_records) = staged + quarantined. A feed "
    "whose pull of a day has not finished (no source_loads row) cannot be verified: a warning.",
)
def evaluation_records_staged_or_quarantined(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    first, last = run_window(context)
    every = pd.MultiIndex.from_product(
        [pd.date_range(first, last).date, list(EVALUATION_FEEDS)], names=["partition_date", "source_system"]
    )
    counts = pd.concat(
        [
            _per_day(warehouse, raw_feed_records, "pulled", first, last),
            _per_day(warehouse, staged_evaluations, "staged", first, last),
            _per_day(warehouse, quarantined_feed_records, "quarantined", first, last),
            _per_day(warehouse, source_loads, "loads", first, last),
        ],
        axis=1,
    )
    counts = counts.reindex(every.union(counts.index)).fillna(0).astype(int).reset_index()
    counts["difference"] = counts["pulled"] - counts["staged"] - counts["quarantined"]
    unbalanced = counts[counts["difference"] != 0]
    not_pulled = counts[(counts["loads"] == 0) & (counts["difference"] == 0)]
    return check_result(
        failing=not unbalanced.empty,
        unverified=[f"{r.partition_date} {r.source_system}: not pulled yet" for r in not_pulled.itertuples()],
        metadata={
            "pulled": int(counts["pulled"].sum()),
            "staged": int(counts["staged"].sum()),
            "quarantined": int(counts["quarantined"].sum()),
            "unbalanced": md(unbalanced.drop(columns="loads")),
        },
    )


@asset_check(
    asset="evaluations",
    blocking=True,
    description="Every evaluation pulled (read from the raw records) is in `evaluations` exactly once, linked, "
    "waiting or quarantined: pulled = linked + waiting + quarantined, and none that was never pulled.",
)
def every_evaluation_accounted_for(warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    found = accounted(warehouse, EVALUATION_FEEDS)
    return AssetCheckResult(
        passed=found["missing"].empty and found["never_pulled"].empty and not found["twice"],
        severity=AssetCheckSeverity.ERROR,
        metadata={
            **{key: found[key] for key in ("pulled", LINKED, WAITING, QUARANTINED, "twice")},
            "pulled_but_missing": md(found["missing"].head(20)),
            "never_pulled": md(found["never_pulled"].head(20)),
        },
    )


@asset_check(
    asset="evaluations",
    description="No evaluation waits for its case longer than `waiting_report_after_days` (reporting/"
    "definitions.yaml): one that does names a case no system has reported, or a number mistyped; a warning, for "
    "the office to chase.",
)
def evaluations_waiting(warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    days = definitions().evaluations.waiting_report_after_days
    since = clock.today() - dt.timedelta(days=days)
    e = evaluations.c
    waiting = warehouse.read(
        sa.select(e.source_system, e.evaluation_id, e.case_no, e.evaluated_at, e.first_partition, e.note)
        .where((e.status == WAITING) & (e.first_partition < since))
        .order_by(e.first_partition)
    )
    return AssetCheckResult(
        passed=waiting.empty,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "waiting_longer_than_days": days,
            "evaluations": len(waiting),
            "oldest": md(waiting.head(30)),
        },
    )


EVALUATION_CHECKS = [evaluation_records_staged_or_quarantined, every_evaluation_accounted_for, evaluations_waiting]
