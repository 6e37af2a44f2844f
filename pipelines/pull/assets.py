"""``raw_<source>``: what each department system said about the day's changes, landed untouched."""

import datetime as dt
import hashlib
import json
import uuid

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Backoff,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)

from connectors.sources import DepartmentSource, RawRecord
from core import clock
from core.departments import Department, departments
from core.warehouse import Warehouse, insert_frame
from pipelines.metadata import report_days, table_metadata
from pipelines.partitions import DAILY, DAILY_LOAD, WEEKLY_CHUNKS, partition_days, per_day
from schemas.warehouse import raw_records, source_loads
from schemas.workdays import calendar

SENT_RECORDS = "department_sent_records"


def fitted(record: RawRecord, table: sa.Table) -> RawRecord:
    """``record`` as ``table`` can hold it. A record id or change time longer than its column (a broken export, a
    hostile one) would fail the whole day's insert on PostgreSQL (SQLite does not check): the record is kept (an
    over-long id replaced by a key made from its digest, the change time dropped) and carries the reason
    (``_error``), so staging quarantines it and the day adds up."""
    key_limit = table.c.record_key.type.length
    changed_limit = table.c.changed_at.type.length
    key, changed = str(record.record_key), record.changed_at
    problems = []
    if key_limit and len(key) > key_limit:
        problems.append(f"its id is {len(key)} characters, over the {key_limit} the warehouse keeps")
    if changed is not None and changed_limit and len(str(changed)) > changed_limit:
        problems.append(f"its change time is {len(str(changed))} characters, over {changed_limit}")
    if not problems:
        return record
    if key_limit and len(key) > key_limit:
        key = "too-long#" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    payload = {**record.payload, "_error": "; ".join(problems) + ": the source must send a shorter value"}
    return RawRecord(key, None, payload)


def land(
    warehouse: Warehouse,
    source: str,
    partition: dt.date,
    window: tuple[dt.datetime, dt.datetime],
    batch,
    table: sa.Table = raw_records,
) -> dict:
    """Replace the partition's raw rows (in ``table``: ``raw_records``, or ``raw_feed_records`` for a platform's
    feed) and its load record in one transaction."""
    fetched_at = clock.now()
    batch_id = f"{source}-{partition:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    records = [fitted(r, table) for r in batch.records]
    frame = pd.DataFrame(
        {
            "record_key": [r.record_key for r in records],
            "changed_at": [r.changed_at for r in records],
            "payload": [json.dumps(r.payload, ensure_ascii=False, sort_keys=True, default=str) for r in records],
        },
        dtype=object,
    )
    pulled = len(frame)
    # A record returned twice in one window (paging shifted under us, a 补报 file) is one record: keep its latest.
    frame = frame.sort_values("changed_at", na_position="first", kind="stable").drop_duplicates(
        "record_key", keep="last"
    )
    frame = frame.assign(source_system=source, partition_date=partition, batch_id=batch_id, fetched_at=fetched_at)
    load = {
        "source_system": source,
        "partition_date": partition,
        "batch_id": batch_id,
        "window_start": window[0],
        "window_end": window[1],
        "cursor": batch.cursor,
        "rows_pulled": len(frame),
        "rows_collapsed": pulled - len(frame),
        "fetched_at": fetched_at,
    }
    with warehouse.begin() as conn:
        warehouse.replace_partition(conn, table, partition, frame, source_system=source)
        conn.execute(
            source_loads.delete().where(
                (source_loads.c.source_system == source) & (source_loads.c.partition_date == partition)
            )
        )
        insert_frame(conn, source_loads, pd.DataFrame([load]))
    return load


def build_raw_asset(spec: Department) -> AssetsDefinition:
    @asset(
        name=spec.asset_name,
        partitions_def=DAILY,
        group_name="pull",
        kinds={spec.connector.kind, "sqlalchemy"},
        owners=[spec.owner],
        required_resource_keys={spec.name, "warehouse"},
        pool=spec.pool,
        retry_policy=RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS),
        freshness_policy=DAILY_LOAD,
        backfill_policy=WEEKLY_CHUNKS,
        check_specs=[
            AssetCheckSpec(
                SENT_RECORDS,
                asset=spec.asset_name,
                description="On a working day the department sent records: none means its system or export "
                "stopped (a warning, so the day can be re-pulled once it sends).",
            )
        ],
        metadata=table_metadata(raw_records, source_loads),
        description=f"{spec.title}: records changed on the partition's day, exactly as the source sent them, "
        "with batch id, fetch time and cursor. Re-running a day replaces that day.",
    )
    def raw_source(context: AssetExecutionContext) -> MaterializeResult:
        source: DepartmentSource = getattr(context.resources, spec.name)
        warehouse: Warehouse = context.resources.warehouse
        days = partition_days(context)
        loads, notes = [], []
        for day in days:
            batch = source.fetch_changes(day.start, day.end)
            loads.append(land(warehouse, spec.name, day.date, (day.start, day.end), batch))
            notes += batch.notes
            for note in batch.notes:  # an incomplete listing is worth a warning: re-pull the day once fixed
                (context.log.info if batch.complete else context.log.warning)(note)
        frame = pd.DataFrame(loads)
        frame["working_day"] = calendar().is_working_day(frame["partition_date"]).to_numpy()
        silent = frame.loc[frame["working_day"] & (frame["rows_pulled"] == 0), "partition_date"]
        report_days(context, frame[["partition_date", "rows_pulled", "rows_collapsed", "working_day"]], "rows_pulled")
        return MaterializeResult(
            check_results=[
                AssetCheckResult(
                    check_name=SENT_RECORDS,
                    passed=silent.empty,
                    severity=AssetCheckSeverity.WARN,
                    metadata={
                        "rows_pulled": int(frame["rows_pulled"].sum()),
                        "working_days": int(frame["working_day"].sum()),
                        "silent_working_days": ", ".join(map(str, silent)) or "none",
                    },
                )
            ],
            metadata={  # the run's; each day's own counts: report_days
                "rows_in_run": int(frame["rows_pulled"].sum()),
                "cursor": loads[-1]["cursor"] or "",
                "batch_id": ", ".join(frame["batch_id"]),
                "by_day": MetadataValue.md(
                    per_day(
                        frame[["partition_date", "rows_pulled", "rows_collapsed", "working_day"]].to_dict("records")
                    )
                ),
                "notes": MetadataValue.md("\n".join(f"- {n}" for n in notes) or "none"),
            },
        )

    return raw_source


RAW_ASSETS = [build_raw_asset(spec) for spec in departments().values()]
