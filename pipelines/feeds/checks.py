"""Checks on the platforms' feeds, re-runnable on their own from the UI: nothing a feed sent is lost between its raw
records and staged or quarantined (per day); every 好差评 evaluation pulled ends linked, waiting or quarantined, and
one whose case has not come for days is reported; every 12345 order pulled ends in exactly one state."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, ResourceParam, asset_check

from core import clock
from core.warehouse import Warehouse
from pipelines.feeds.assets import (
    EVALUATION_FEEDS,
    FINDING_FEEDS,
    HOTLINE_FEEDS,
    PROCESS_STAGE_FEEDS,
    PROJECT_FEEDS,
    PROJECT_ITEM_FEEDS,
)
from pipelines.metadata import check_result, md
from pipelines.partitions import Verdicts, daily_check, days_of
from reporting.accounting import accounted, balanced
from reporting.definitions import definitions
from reporting.evaluations import LINKED, QUARANTINED, WAITING
from reporting.supervision import STATUSES as FINDING_STATUSES
from schemas.warehouse import (
    evaluations,
    findings,
    hotline_orders,
    quarantined_feed_records,
    raw_feed_records,
    source_loads,
    staged_evaluations,
    staged_findings,
    staged_hotline_orders,
    staged_process_stages,
    staged_project_items,
    staged_projects,
)

EVALUATION_STATUSES = (LINKED, WAITING, QUARANTINED)
ORDER_STATUSES = ("linked", "review", "unlinked", "quarantined")


def _per_day(
    warehouse: Warehouse, table: sa.Table, name: str, feeds: list[str], first: dt.date, last: dt.date
) -> pd.DataFrame:
    t = table.c
    frame = warehouse.read(
        sa.select(t.partition_date, t.source_system, sa.func.count().label(name))
        .where(t.partition_date.between(first, last) & t.source_system.in_(feeds))
        .group_by(t.partition_date, t.source_system)
    )
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return frame.set_index(["partition_date", "source_system"])


def records_staged_or_quarantined(*, asset: str, name: str, feeds: dict, staged: sa.Table, what: str):
    """A daily check on a feed's staging: per day and feed, records pulled (raw_feed_records) = staged +
    quarantined; a feed whose pull of a day has not finished (no source_loads row) cannot be verified: a warning."""

    @daily_check(
        asset=asset,
        name=name,
        blocking=True,
        description=f"Per day and {what} feed: records pulled (raw_feed_records) = staged + quarantined. A feed "
        "whose pull of a day has not finished (no source_loads row) cannot be verified: a warning.",
    )
    def check(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
        first, last = days[0], days[-1]
        names = list(feeds)
        every = pd.MultiIndex.from_product([days, names], names=["partition_date", "source_system"])
        counts = pd.concat(
            [
                _per_day(warehouse, raw_feed_records, "pulled", names, first, last),
                _per_day(warehouse, staged, "staged", names, first, last),
                _per_day(warehouse, quarantined_feed_records, "quarantined", names, first, last),
                _per_day(warehouse, source_loads, "loads", names, first, last),
            ],
            axis=1,
        )
        counts = counts.reindex(every.union(counts.index)).fillna(0).astype(int).reset_index()
        counts["difference"] = counts["pulled"] - counts["staged"] - counts["quarantined"]
        verdicts = {}
        for day in days:
            of_day = days_of(counts, day)
            unbalanced = of_day[of_day["difference"] != 0]
            not_pulled = of_day[(of_day["loads"] == 0) & (of_day["difference"] == 0)]
            verdicts[day] = check_result(
                failing=not unbalanced.empty,
                unverified=[f"{feed}: not pulled yet" for feed in not_pulled["source_system"]],
                metadata={
                    "pulled": int(of_day["pulled"].sum()),
                    "staged": int(of_day["staged"].sum()),
                    "quarantined": int(of_day["quarantined"].sum()),
                    "by_feed": md(of_day.drop(columns=["partition_date", "loads"])),
                    "unbalanced_feeds": ", ".join(unbalanced["source_system"]) or "none",
                },
            )
        return verdicts

    return check


evaluation_records_staged_or_quarantined = records_staged_or_quarantined(
    asset="staged_evaluations",
    name="evaluation_records_staged_or_quarantined",
    feeds=EVALUATION_FEEDS,
    staged=staged_evaluations,
    what="evaluation",
)
hotline_pulled_equals_staged_plus_quarantined = records_staged_or_quarantined(
    asset="staged_hotline_orders",
    name="hotline_pulled_equals_staged_plus_quarantined",
    feeds=HOTLINE_FEEDS,
    staged=staged_hotline_orders,
    what="hotline",
)

project_records_staged_or_quarantined = records_staged_or_quarantined(
    asset="staged_projects",
    name="project_records_staged_or_quarantined",
    feeds=PROJECT_FEEDS,
    staged=staged_projects,
    what="project",
)
project_item_records_staged_or_quarantined = records_staged_or_quarantined(
    asset="staged_project_items",
    name="project_item_records_staged_or_quarantined",
    feeds=PROJECT_ITEM_FEEDS,
    staged=staged_project_items,
    what="project item",
)
process_stage_records_staged_or_quarantined = records_staged_or_quarantined(
    asset="staged_process_stages",
    name="process_stage_records_staged_or_quarantined",
    feeds=PROCESS_STAGE_FEEDS,
    staged=staged_process_stages,
    what="process stage",
)


@asset_check(
    asset="evaluations",
    blocking=True,
    description="Every evaluation pulled (read from the raw records) is in `evaluations` exactly once, linked, "
    "waiting or quarantined: pulled = linked + waiting + quarantined, and none that was never pulled.",
)
def every_evaluation_accounted_for(warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    found = accounted(warehouse, EVALUATION_FEEDS, "evaluation_id", evaluations, EVALUATION_STATUSES)
    return AssetCheckResult(
        passed=balanced(found, EVALUATION_STATUSES),
        severity=AssetCheckSeverity.ERROR,
        metadata={
            **{key: found[key] for key in ("pulled", *EVALUATION_STATUSES, "twice")},
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


@asset_check(
    asset="hotline_orders",
    blocking=True,
    description="Every 12345 order pulled (an id staged or quarantined; a record without an id by itself) is in "
    "hotline_orders exactly once, in one of linked, review, unlinked, quarantined; a linked one names its case.",
)
def every_order_once(warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    found = accounted(warehouse, HOTLINE_FEEDS, "order_id", hotline_orders, ORDER_STATUSES)
    h = hotline_orders.c
    unnamed = len(warehouse.read(sa.select(h.order_id).where((h.status == "linked") & h.golden_case_id.is_(None))))
    return check_result(
        failing=not balanced(found, ORDER_STATUSES) or bool(unnamed),
        unverified=[],
        metadata={
            **{key: found[key] for key in ("pulled", *ORDER_STATUSES, "twice", "other_status")},
            "missing": md(found["missing"].head(20)),
            "never_pulled": md(found["never_pulled"].head(20)),
            "linked_without_case": int(unnamed or 0),
        },
    )


finding_records_staged_or_quarantined = records_staged_or_quarantined(
    asset="staged_findings",
    name="finding_records_staged_or_quarantined",
    feeds=FINDING_FEEDS,
    staged=staged_findings,
    what="findings",
)


@asset_check(
    asset="findings",
    blocking=True,
    description="Every 审管互动 finding pulled (read from the raw records) is in `findings` exactly once, linked to "
    "its holder, unknown_holder or quarantined: pulled = linked + unknown holder + quarantined, none never pulled. "
    "A finding for a holder the repository does not know is kept and counted, never dropped.",
)
def every_finding_accounted_for(warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    found = accounted(warehouse, FINDING_FEEDS, "finding_id", findings, FINDING_STATUSES)
    return check_result(
        failing=not balanced(found, FINDING_STATUSES),
        unverified=[],
        metadata={
            **{key: found[key] for key in ("pulled", *FINDING_STATUSES, "twice", "other_status")},
            "missing": md(found["missing"].head(20)),
            "never_pulled": md(found["never_pulled"].head(20)),
        },
    )


FEED_CHECKS = [
    evaluation_records_staged_or_quarantined,
    every_evaluation_accounted_for,
    evaluations_waiting,
    hotline_pulled_equals_staged_plus_quarantined,
    every_order_once,
    project_records_staged_or_quarantined,
    project_item_records_staged_or_quarantined,
    process_stage_records_staged_or_quarantined,
    finding_records_staged_or_quarantined,
    every_finding_accounted_for,
]
