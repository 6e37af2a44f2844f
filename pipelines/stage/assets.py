"""``staged_cases`` and ``quarantined_records``: every raw record ends in exactly one of the two."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    multi_asset,
)

from core import clock
from core.departments import departments
from core.warehouse import Warehouse
from pipelines.metadata import report_days, table_metadata
from pipelines.partitions import DAILY, WEEKLY_CHUNKS, partition_days, per_day
from schemas.warehouse import quarantined_records, raw_records, staged_cases, staged_materials, staged_pauses
from staging import materials as listed_materials
from staging.normalise import stage_partition
from staging.pauses import flag_records, stage_pauses

RAW_KEYS = [AssetKey(spec.asset_name) for spec in departments().values()]
RECONCILED = "pulled_equals_staged_plus_quarantined"


def partition_counts(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Per day and source (every declared one, and any other found): pulled, staged, quarantined, read back from
    the warehouse."""
    frames = []
    for name, table in (
        ("pulled", raw_records),
        ("staged", staged_cases),
        ("quarantined", quarantined_records),
    ):
        query = (
            sa.select(table.c.partition_date, table.c.source_system, sa.func.count().label(name))
            .where(table.c.partition_date.between(first, last))
            .group_by(table.c.partition_date, table.c.source_system)
        )
        frames.append(warehouse.read(query).set_index(["partition_date", "source_system"]))
    every = pd.MultiIndex.from_product(
        [pd.date_range(first, last).date, list(departments())], names=["partition_date", "source_system"]
    )
    found = pd.concat(frames, axis=1)
    found.index = found.index.set_levels(pd.to_datetime(found.index.levels[0]).date, level=0)
    counts = found.reindex(every.union(found.index)).fillna(0).astype(int)
    return counts.reset_index()


@multi_asset(
    specs=[
        AssetSpec(
            "staged_cases",
            deps=RAW_KEYS,
            partitions_def=DAILY,
            group_name="stage",
            kinds={"pandas", "sqlalchemy"},
            owners=["team:data-platform"],
            metadata=table_metadata(staged_cases),
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
            metadata=table_metadata(quarantined_records),
            description="Records that cannot be staged, each with one reason a clerk can act on "
            "(unreadable file, missing name, unknown item, malformed identifier, unreadable date…).",
        ),
    ],
    backfill_policy=WEEKLY_CHUNKS,
)
def stage(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    days = partition_days(context)
    staged_days, quarantined_days, pause_days = [], [], []
    for day in days:
        staged, quarantined, pauses = stage_day(warehouse, day.date)
        staged_days.append(staged)
        quarantined_days.append(quarantined)
        pause_days.append(pauses)
    staged, quarantined, pauses = pd.concat(staged_days), pd.concat(quarantined_days), pd.concat(pause_days)
    counts = partition_counts(warehouse, days[0].date, days[-1].date)  # the identity: stage/checks.py
    by_source = counts.groupby("source_system", sort=False)[["pulled", "staged", "quarantined"]].sum().reset_index()
    reasons = (
        quarantined.groupby(["source_system", "reason_code"]).size().rename("records").reset_index()
        if len(quarantined)
        else pd.DataFrame(columns=["source_system", "reason_code", "records"])
    )
    flags = staged["quality_flags"].dropna().str.split(";").explode().value_counts() if len(staged) else pd.Series()
    daily = counts.groupby("partition_date")[["pulled", "staged", "quarantined"]].sum().reset_index()
    report_days(context, daily, "staged", asset_key="staged_cases")  # each day's own counts
    report_days(context, daily[["partition_date", "quarantined"]], "quarantined", asset_key="quarantined_records")
    yield MaterializeResult(
        asset_key="staged_cases",
        metadata={
            "staged_in_run": len(staged),
            "by_source": MetadataValue.md(by_source.to_markdown(index=False)),
            "by_day": MetadataValue.md(per_day(daily.to_dict("records"))),
            "quality_flags": MetadataValue.md(
                flags.rename("records").to_frame().to_markdown() if len(flags) else "none"
            ),
            "pauses": MetadataValue.md(_pause_summary(pauses)),
        },
    )
    yield MaterializeResult(
        asset_key="quarantined_records",
        metadata={
            "quarantined_in_run": len(quarantined),
            "reasons": MetadataValue.md(reasons.to_markdown(index=False) if len(reasons) else "none"),
        },
    )


def _pause_summary(pauses: pd.DataFrame) -> str:
    """特别程序 staged, per kind (and how many cannot be counted, per problem)."""
    if pauses.empty:
        return "none"
    labels = pauses["kind"].fillna("?").where(pauses["problem"].isna(), "not counted: " + pauses["problem"])
    return labels.value_counts().rename("pauses").to_frame().to_markdown()


def stage_day(warehouse: Warehouse, partition: dt.date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stage one day's raw records, replacing exactly that day's staged, quarantined, pause and material rows."""
    raw = warehouse.read(
        sa.select(raw_records.c.source_system, raw_records.c.record_key, raw_records.c.payload).where(
            raw_records.c.partition_date == partition
        )
    )
    staged, quarantined = stage_partition(raw)
    pauses = stage_pauses(raw, staged)
    materials = listed_materials.stage_materials(raw, staged)
    if len(staged):
        staged["quality_flags"] = flag_records(staged, pauses)
        staged["quality_flags"] = listed_materials.flag_records(staged, materials)
    now = clock.now()
    with warehouse.begin() as conn:
        warehouse.replace_partition(conn, staged_cases, partition, staged.assign(partition_date=partition))
        warehouse.replace_partition(conn, staged_pauses, partition, pauses.assign(partition_date=partition))
        warehouse.replace_partition(conn, staged_materials, partition, materials.assign(partition_date=partition))
        warehouse.replace_partition(
            conn,
            quarantined_records,
            partition,
            quarantined.assign(partition_date=partition, quarantined_at=now),
        )
    return staged, quarantined, pauses
