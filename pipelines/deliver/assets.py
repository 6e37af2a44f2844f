"""Delivery to the one network and the municipal platform, and the reconciliation that proves the counts."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AutomationCondition,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)

from connectors.targets import DeliveryTarget
from core import settings
from core.warehouse import Warehouse, insert_frame
from delivery.outbox import drain, unaccounted_versions
from delivery.reconcile import compare_cases, outbox_rows, per_day
from pipelines.partitions import DAILY, WEEKLY_CHUNKS, partition_days
from schemas.warehouse import dead_letters, delivery_reconciliation, outbox

TARGET_TITLES = {
    "one_network": "江苏政务服务网 (一张网): exchange table on the front-end database",
    "municipal": "常州市一体化平台: signed HTTP intake, receipts acknowledged later",
    "supervision": "审管互动: new and changed licences to the supervising departments' signed intake",
}
#: What each receiver is sent versions of: the entity table and the asset that queues them.
ENTITY = {"one_network": "case_resolution", "municipal": "case_resolution", "supervision": "licence_repository"}
ACCOUNTED = "every_version_accounted_for"
RECEIVER_AGREES = "receiver_holds_what_it_acknowledged"
NO_STALE_PENDING = "no_stale_pending"


def build_delivery_asset(target_name: str) -> AssetsDefinition:
    @asset(
        name=f"{target_name}_delivery",
        deps=[ENTITY[target_name]],
        partitions_def=DAILY,
        group_name="deliver",
        kinds={"sqlalchemy"} if target_name == "one_network" else {"api"},
        owners=["team:data-platform"],
        required_resource_keys={target_name, "warehouse"},
        pool=f"target_{target_name}",  # backfills cannot flood a receiver
        backfill_policy=WEEKLY_CHUNKS,
        description=f"{TARGET_TITLES[target_name]}. Sends the day's queued golden-case versions (idempotency key per "
        "target, case and version), records each outcome, and follows acknowledgements; rejections go to the "
        "dead-letter table with the receiver's reason and what the clerk should fix.",
    )
    def delivery(context: AssetExecutionContext) -> MaterializeResult:
        days = partition_days(context)
        first, last = days[0].date, days[-1].date
        target: DeliveryTarget = getattr(context.resources, target_name)
        warehouse: Warehouse = context.resources.warehouse
        figures = drain(warehouse, target_name, target, (first, last))
        t = outbox.c
        by_status = warehouse.read(
            sa.select(t.partition_date, t.status, sa.func.count().label("versions"))
            .where((t.target == target_name) & t.partition_date.between(first, last))
            .group_by(t.partition_date, t.status)
        )
        table = by_status.pivot_table(index="partition_date", columns="status", values="versions", fill_value=0)
        return MaterializeResult(
            metadata={
                **{k: int(v) for k, v in figures.items()},
                "by_day_and_status": MetadataValue.md(table.to_markdown() if len(table) else "nothing queued"),
            }
        )

    return delivery


DELIVERY_ASSETS = [build_delivery_asset(name) for name in TARGET_TITLES]


@asset(
    deps=[a.key for a in DELIVERY_ASSETS],
    group_name="deliver",
    kinds={"sqlalchemy"},
    owners=["team:data-platform"],
    required_resource_keys={"warehouse", *TARGET_TITLES},
    automation_condition=AutomationCondition.eager(),
    check_specs=[
        AssetCheckSpec(
            ACCOUNTED,
            asset="delivery_status",
            blocking=True,
            description="Every version of every golden case is in the outbox of each receiver, as queued, sent, "
            "acknowledged or dead-lettered: nothing unaccounted.",
        ),
        AssetCheckSpec(
            RECEIVER_AGREES,
            asset="delivery_status",
            description="Per receiver and day, the receiver holds exactly the newest version it acknowledged to "
            "us for every case, and nothing took effect twice.",
        ),
        AssetCheckSpec(
            NO_STALE_PENDING,
            asset="delivery_status",
            description="No case version has waited for delivery or acknowledgement longer than "
            "BRIDGE_PENDING_MAX_AGE_HOURS (default 24).",
        ),
    ],
    description="Reconciliation across all days: re-sends what faults left queued, follows outstanding "
    "acknowledgements, then compares per receiver and day what was queued, acknowledged, pending and "
    "dead-lettered with what the receiver itself holds. The table is kept in `delivery_reconciliation`.",
)
def delivery_status(context: AssetExecutionContext) -> MaterializeResult:
    warehouse: Warehouse = context.resources.warehouse
    now = dt.datetime.now().replace(microsecond=0)
    stale_before = now - dt.timedelta(hours=settings.number("BRIDGE_PENDING_MAX_AGE_HOURS", 24))
    days, unaccounted = [], []
    for name in TARGET_TITLES:
        target: DeliveryTarget = getattr(context.resources, name)
        drain(warehouse, name, target)  # what a fault or an open circuit left queued, then acknowledgements
        rows = outbox_rows(warehouse, name)
        days.append(per_day(name, rows, compare_cases(rows, target.holdings()), stale_before))
        unaccounted.append({"target": name, "unaccounted_versions": unaccounted_versions(warehouse, name)})
    table = pd.concat(days, ignore_index=True).assign(reconciled_at=now)
    with warehouse.begin() as conn:
        conn.execute(delivery_reconciliation.delete())
        insert_frame(conn, delivery_reconciliation, table)
    totals = table.drop(columns=["day", "reconciled_at"]).groupby("target").sum().reset_index()
    missing = pd.DataFrame(unaccounted)
    differing = table[table["differences"] > 0]
    stale = table[table["stale_pending"] > 0]
    checks = [
        AssetCheckResult(
            check_name=ACCOUNTED,
            passed=bool((missing["unaccounted_versions"] == 0).all()),
            metadata={"by_target": MetadataValue.md(missing.to_markdown(index=False))},
        ),
        AssetCheckResult(
            check_name=RECEIVER_AGREES,
            passed=differing.empty,
            metadata={
                "totals": MetadataValue.md(totals.to_markdown(index=False)),
                "days_that_differ": MetadataValue.md(_md(differing)),
            },
        ),
        AssetCheckResult(
            check_name=NO_STALE_PENDING,
            passed=stale.empty,
            severity=AssetCheckSeverity.WARN,
            metadata={"stale_pending": int(table["stale_pending"].sum()), "days": MetadataValue.md(_md(stale))},
        ),
    ]
    metadata: dict = {"by_target": MetadataValue.md(totals.to_markdown(index=False))}
    for row in totals.itertuples():
        metadata[f"{row.target}_pending"] = int(row.pending)
        metadata[f"{row.target}_dead_lettered"] = int(row.dead_lettered)
        metadata[f"{row.target}_differences"] = int(row.differences)
    letters = warehouse.read(
        sa.select(
            dead_letters.c.target,
            dead_letters.c.reason_code,
            dead_letters.c.clerk_message,
            sa.func.count().label("open"),
        )
        .where(dead_letters.c.closed_at.is_(None))
        .group_by(dead_letters.c.target, dead_letters.c.reason_code, dead_letters.c.clerk_message)
    )
    for name in TARGET_TITLES:
        metadata[f"{name}_open_dead_letters"] = int(letters.loc[letters["target"] == name, "open"].sum())
    metadata["open_dead_letters"] = MetadataValue.md(_md(letters))
    metadata["by_day"] = MetadataValue.md(_md(table.drop(columns="reconciled_at").sort_values(["target", "day"])))
    return MaterializeResult(metadata=metadata, check_results=checks)


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if len(frame) else "none"


follow_deliveries_job = define_asset_job(
    "follow_acknowledgements",
    selection=["delivery_status"],
    description="Ask receivers about sent case versions.",
)


@sensor(job=follow_deliveries_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def outstanding_deliveries(context: SensorEvaluationContext, warehouse: Warehouse):
    """Receivers acknowledge late and go down: while anything is queued or unacknowledged, follow up every minute."""
    waiting = warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sent')")
    if not waiting:
        return SkipReason("every case version is acknowledged or dead-lettered")
    bucket = dt.datetime.now().strftime("%Y%m%d%H%M")
    return RunRequest(run_key=f"deliveries-{bucket}", tags={"outstanding_versions": str(waiting)})
