"""Delivery to the one network and the municipal platform, and the reconciliation that proves the counts."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
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
from pipelines.deliver.outbox import acknowledged_cases, drain, follow_up, status_counts
from pipelines.partitions import DAILY, partition_window
from pipelines.warehouse import Warehouse
from schemas.warehouse import outbox

TARGET_TITLES = {
    "one_network": "江苏政务服务网 (一张网): exchange table on the front-end database",
    "municipal": "常州市一体化平台: signed HTTP intake, receipts acknowledged later",
}
IDENTITY = "versions_equal_acknowledged_pending_dead_lettered"
RECEIVER_AGREES = "receiver_counts_agree"


def build_delivery_asset(target_name: str) -> AssetsDefinition:
    @asset(
        name=f"{target_name}_delivery",
        deps=["case_resolution"],
        partitions_def=DAILY,
        group_name="deliver",
        kinds={"sqlalchemy"} if target_name == "one_network" else {"api"},
        owners=["team:data-platform"],
        required_resource_keys={target_name, "warehouse"},
        pool=f"target_{target_name}",  # backfills cannot flood a receiver
        description=f"{TARGET_TITLES[target_name]}. Sends the day's queued golden-case versions (idempotency key per "
        "target, case and version), records each outcome, and follows acknowledgements; rejections go to the "
        "dead-letter table with the receiver's reason and what the clerk should fix.",
    )
    def delivery(context: AssetExecutionContext) -> MaterializeResult:
        _, _, partition = partition_window(context)
        target: DeliveryTarget = getattr(context.resources, target_name)
        warehouse: Warehouse = context.resources.warehouse
        figures = drain(warehouse, target_name, target, partition)
        day = warehouse.read(
            sa.select(outbox.c.status, sa.func.count().label("versions"))
            .where((outbox.c.target == target_name) & (outbox.c.partition_date == partition))
            .group_by(outbox.c.status)
        )
        return MaterializeResult(
            metadata={
                **{k: int(v) for k, v in figures.items()},
                "day_by_status": MetadataValue.md(day.to_markdown(index=False) if len(day) else "nothing queued"),
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
            IDENTITY,
            asset="delivery_status",
            blocking=True,
            description="For each receiver: golden-case versions = acknowledged + pending + dead-lettered.",
        ),
        AssetCheckSpec(
            RECEIVER_AGREES,
            asset="delivery_status",
            description="The cases each receiver says it holds equal the cases it acknowledged to us.",
        ),
    ],
    description="Reconciliation across all days: re-sends what faults left queued, follows outstanding "
    "acknowledgements, then counts per receiver what was queued, acknowledged, pending and dead-lettered, and "
    "compares with what the receiver itself holds.",
)
def delivery_status(context: AssetExecutionContext) -> MaterializeResult:
    warehouse: Warehouse = context.resources.warehouse
    agreement, checks = [], []
    for name in TARGET_TITLES:
        target: DeliveryTarget = getattr(context.resources, name)
        drain(warehouse, name, target)  # what a fault or an open circuit left queued, then acknowledgements
        before = target.counts()
        follow_up(warehouse, name, target)  # acknowledgements that arrived while we counted
        ours = acknowledged_cases(warehouse, name)
        after = target.counts()
        if before is None or after is None:
            agreement.append({"target": name, "ours": ours, "receiver": "unknown", "agrees": True})
            continue
        agrees = before["received_cases"] <= ours <= after["received_cases"]
        agreement.append(
            {
                "target": name,
                "ours": ours,
                "receiver": after["received_cases"],
                "duplicate_effects": after["duplicate_effects"],
                "agrees": agrees,
            }
        )
    counts = status_counts(warehouse)
    balanced = bool(
        (counts["case_versions"] == counts["acknowledged"] + counts["pending"] + counts["dead_lettered"]).all()
    )
    agree_frame = pd.DataFrame(agreement)
    checks.append(
        AssetCheckResult(
            check_name=IDENTITY, passed=balanced, metadata={"counts": MetadataValue.md(counts.to_markdown(index=False))}
        )
    )
    checks.append(
        AssetCheckResult(
            check_name=RECEIVER_AGREES,
            passed=bool(agree_frame["agrees"].all()),
            metadata={"receivers": MetadataValue.md(agree_frame.to_markdown(index=False))},
        )
    )
    metadata = {"by_target": MetadataValue.md(counts.to_markdown(index=False))}
    for row in counts.itertuples():
        metadata[f"{row.target}_pending"] = int(row.pending)
        metadata[f"{row.target}_dead_lettered"] = int(row.dead_lettered)
    return MaterializeResult(metadata=metadata, check_results=checks)


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
