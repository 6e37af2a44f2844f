"""``staged_cases`` and ``quarantined_records``: every raw record ends in exactly one of the two."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from pipelines.partitions import DAILY, partition_window
from pipelines.pull.sources import SOURCES
from pipelines.stage.normalise import stage_partition
from pipelines.warehouse import Warehouse
from schemas.warehouse import quarantined_records, raw_records, staged_cases

RAW_KEYS = [AssetKey(spec.asset_name) for spec in SOURCES]
RECONCILED = "pulled_equals_staged_plus_quarantined"


def partition_counts(warehouse: Warehouse, partition: dt.date) -> pd.DataFrame:
    """Per source: pulled, staged, quarantined for one partition, read back from the warehouse."""
    frames = []
    for name, table in (
        ("pulled", raw_records),
        ("staged", staged_cases),
        ("quarantined", quarantined_records),
    ):
        query = (
            sa.select(table.c.source_system, sa.func.count().label(name))
            .where(table.c.partition_date == partition)
            .group_by(table.c.source_system)
        )
        frames.append(warehouse.read(query).set_index("source_system"))
    counts = pd.concat(frames, axis=1).reindex([s.name for s in SOURCES]).fillna(0).astype(int)
    return counts.rename_axis("source_system").reset_index()


@multi_asset(
    specs=[
        AssetSpec(
            "staged_cases",
            deps=RAW_KEYS,
            partitions_def=DAILY,
            group_name="stage",
            kinds={"pandas", "sqlalchemy"},
            owners=["team:data-platform"],
            description="Every source mapped onto the canonical case (办件): identifiers normalised (NFKC, "
            "15→18 digits) and checked, dates parsed from the forms clerks type, local item codes mapped to the "
            "provincial catalogue. Warnings that do not justify quarantine are kept in quality_flags.",
        ),
        AssetSpec(
            "quarantined_records",
            deps=RAW_KEYS,
            partitions_def=DAILY,
            group_name="stage",
            kinds={"sqlalchemy"},
            owners=["team:data-platform"],
            description="Records that cannot be staged, each with one reason a clerk can act on "
            "(unreadable file, missing name, unknown item, malformed identifier, unreadable date…).",
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            RECONCILED,
            asset="staged_cases",
            blocking=True,
            description="Per source: pulled = staged + quarantined. Nothing is dropped silently.",
        ),
    ],
)
def stage(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    _, _, partition = partition_window(context)
    raw = warehouse.read(
        sa.select(raw_records.c.source_system, raw_records.c.record_key, raw_records.c.payload).where(
            raw_records.c.partition_date == partition
        )
    )
    staged, quarantined = stage_partition(raw)
    now = dt.datetime.now().replace(microsecond=0)
    with warehouse.begin() as conn:
        warehouse.replace_partition(conn, staged_cases, partition, staged.assign(partition_date=partition))
        warehouse.replace_partition(
            conn,
            quarantined_records,
            partition,
            quarantined.assign(partition_date=partition, quarantined_at=now),
        )
    counts = partition_counts(warehouse, partition)
    balanced = bool((counts["pulled"] == counts["staged"] + counts["quarantined"]).all())
    reasons = (
        quarantined.groupby(["source_system", "reason_code"]).size().rename("records").reset_index()
        if len(quarantined)
        else pd.DataFrame(columns=["source_system", "reason_code", "records"])
    )
    flags = staged["quality_flags"].dropna().str.split(";").explode().value_counts() if len(staged) else pd.Series()
    yield MaterializeResult(
        asset_key="staged_cases",
        metadata={
            "dagster/row_count": len(staged),
            "by_source": MetadataValue.md(counts.to_markdown(index=False)),
            "quality_flags": MetadataValue.md(
                flags.rename("records").to_frame().to_markdown() if len(flags) else "none"
            ),
        },
        check_results=[
            AssetCheckResult(
                check_name=RECONCILED,
                asset_key="staged_cases",
                passed=balanced,
                metadata={"counts": MetadataValue.md(counts.to_markdown(index=False))},
            )
        ],
    )
    yield MaterializeResult(
        asset_key="quarantined_records",
        metadata={
            "dagster/row_count": len(quarantined),
            "reasons": MetadataValue.md(reasons.to_markdown(index=False) if len(reasons) else "none"),
        },
    )
