"""电子证照库: the licences completed cases produced and the market-regulation registry reports, one licence per
licence whichever system reports it, with full history, holders linked across sources, daily expiry, and the
approval–supervision feed (审管互动) to the department that supervises each licence type."""

import datetime as dt
import json
import uuid

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from connectors.sources import DepartmentSource
from pipelines.deliver.outbox import queue
from pipelines.licences.repository import (
    FIELDS,
    case_events,
    event_rows,
    feed_events,
    link_holders,
    number_licences,
    refold,
)
from pipelines.partitions import DAILY, partition_window
from pipelines.warehouse import Warehouse, insert_frame
from schemas.case import LOCAL_TZ
from schemas.identifiers import is_valid_licence_identifier
from schemas.licences import VALID
from schemas.warehouse import case_links, golden_cases, holders, licence_events, licences, raw_licence_feed

FEED_SOURCE = "market_regulation"
STATED = (*FIELDS, "holder_id", "golden_case_id")  # what an event may state
SUPERVISION = ("supervision",)
IDENTIFIERS_VALID = "licence_identifiers_valid"
NONE_VALID_PAST_END = "no_licence_valid_past_its_end_date"
ONE_HOLDER_PER_CODE = "one_holder_per_identifier"


def _today() -> dt.date:
    return pd.Timestamp.now(tz=LOCAL_TZ).date()


@asset(
    name="raw_licence_feed",
    partitions_def=DAILY,
    group_name="licences",
    kinds={"rest"},
    owners=["team:market-regulation"],
    required_resource_keys={"licence_feed", "warehouse"},
    pool="source_market_regulation",
    description="区市场监督管理局 登记系统's licence events of the day (营业执照 issued, changed, suspended, "
    "cancelled, revoked), landed untouched; re-running a day replaces exactly that day.",
)
def pull_licence_feed(context: AssetExecutionContext) -> MaterializeResult:
    start, end, partition = partition_window(context)
    source: DepartmentSource = context.resources.licence_feed
    batch = source.fetch_changes(start, end)
    fetched_at = dt.datetime.now().replace(microsecond=0)
    frame = pd.DataFrame(
        {
            "source_system": FEED_SOURCE,
            "partition_date": partition,
            "record_key": [r.record_key for r in batch.records],
            "payload": [json.dumps(r.payload, ensure_ascii=False, sort_keys=True) for r in batch.records],
            "fetched_at": fetched_at,
        }
    ).drop_duplicates("record_key", keep="last")
    warehouse: Warehouse = context.resources.warehouse
    with warehouse.begin() as conn:
        warehouse.replace_partition(conn, raw_licence_feed, partition, frame, source_system=FEED_SOURCE)
    operations = pd.Series([r.payload.get("CZLX") for r in batch.records], dtype="string").value_counts()
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "by_operation_code": MetadataValue.md(
                operations.rename("events").to_markdown() if len(operations) else "none"
            ),
            "batch": f"{FEED_SOURCE}-licences-{partition:%Y%m%d}-{uuid.uuid4().hex[:8]}",
        }
    )


def _queue_supervision(conn: sa.Connection, changed: pd.DataFrame, partition: dt.date, now: dt.datetime) -> int:
    """Every new or changed licence to the department that supervises its type, as a new version."""
    if changed.empty:
        return 0
    fields = changed.drop(columns=["content_hash", "updated_at"]).astype(object)
    payloads = [
        json.dumps(r, ensure_ascii=False, sort_keys=True, default=str)
        for r in fields.where(fields.notna(), None).to_dict("records")
    ]
    return queue(conn, SUPERVISION, changed["licence_key"], changed["version"], payloads, partition, now)


def repository_checks(conn: sa.Connection, today: dt.date) -> list[AssetCheckResult]:
    """The repository-wide quality gates: identifiers, validity against end dates, one holder per identifier."""
    t = licences.c
    ids = pd.Series([r[0] for r in conn.execute(sa.select(t.licence_id))], dtype=object)
    bad_ids = int((~ids.map(is_valid_licence_identifier)).sum()) if len(ids) else 0
    past_end = conn.execute(
        sa.select(sa.func.count()).where((t.status == VALID) & t.valid_to.is_not(None) & (t.valid_to < today))
    ).scalar_one()
    shared = conn.execute(
        sa.select(sa.func.count()).select_from(
            sa.select(holders.c.holder_code).group_by(holders.c.holder_code).having(sa.func.count() > 1).subquery()
        )
    ).scalar_one()
    return [
        AssetCheckResult(
            check_name=IDENTIFIERS_VALID,
            passed=bad_ids == 0,
            metadata={"licences_checked": len(ids), "invalid_identifiers": bad_ids},
        ),
        AssetCheckResult(
            check_name=NONE_VALID_PAST_END, passed=past_end == 0, metadata={"valid_past_end_date": int(past_end)}
        ),
        AssetCheckResult(
            check_name=ONE_HOLDER_PER_CODE, passed=shared == 0, metadata={"identifiers_with_two_holders": int(shared)}
        ),
    ]


CHECK_SPECS = [
    AssetCheckSpec(
        IDENTIFIERS_VALID,
        asset="licence_repository",
        description="Every 证照标识 has the GB/T 36904 layout and a correct MOD 37,36 check character.",
    ),
    AssetCheckSpec(
        NONE_VALID_PAST_END,
        asset="licence_repository",
        description="No licence is shown as 有效 after its end date (expiry is applied daily).",
    ),
    AssetCheckSpec(
        ONE_HOLDER_PER_CODE,
        asset="licence_repository",
        description="Each holder identifier belongs to one holder, so a holder's licences are one lookup.",
    ),
]


def _summary(conn: sa.Connection, today: dt.date) -> dict:
    t = licences.c
    by_status = pd.DataFrame(
        conn.execute(
            sa.select(t.licence_name, t.status, sa.func.count()).group_by(t.licence_name, t.status)
        ).fetchall(),
        columns=["licence", "status", "n"],
    )
    table = by_status.pivot_table(index="licence", columns="status", values="n", fill_value=0, aggfunc="sum")
    soon = today + dt.timedelta(days=30)
    expiring = conn.execute(
        sa.select(sa.func.count()).where((t.status == VALID) & t.valid_to.between(today, soon))
    ).scalar_one()
    total = int(by_status["n"].sum()) if len(by_status) else 0
    return {
        "dagster/row_count": total,
        "holders": int(conn.execute(sa.select(sa.func.count()).select_from(holders)).scalar_one()),
        "valid": int(by_status.loc[by_status["status"] == VALID, "n"].sum()),
        "expiring_within_30_days": int(expiring),
        "revoked_or_cancelled": int(by_status.loc[by_status["status"].isin(["吊销", "撤销", "注销"]), "n"].sum()),
        "by_type_and_status": MetadataValue.md(table.to_markdown() if total else "empty"),
    }


@asset(
    deps=["case_resolution", "raw_licence_feed"],
    partitions_def=DAILY,
    group_name="licences",
    kinds={"sqlalchemy"},
    owners=["team:data-platform"],
    check_specs=CHECK_SPECS,
    description="电子证照库: one licence per licence (its type and printed number), from completed golden cases and "
    "the market-regulation registry, with 证照标识 (GB/T 36904), metadata after GB/T 36903, the holder linked "
    "across sources, and full history in `licence_events`. New and changed licences are queued for the "
    "supervising department (审管互动).",
)
def licence_repository(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    _, _, partition = partition_window(context)
    now, today = dt.datetime.now().replace(microsecond=0), _today()
    with warehouse.begin() as conn:
        touched = sorted(
            {
                r[0]
                for r in conn.execute(
                    sa.select(case_links.c.golden_case_id).where(case_links.c.partition_date == partition)
                )
            }
        )
        cases = warehouse.read(sa.select(golden_cases).where(golden_cases.c.golden_case_id.in_(touched)), conn)
        raw = warehouse.read(
            sa.select(raw_licence_feed.c.payload).where(
                (raw_licence_feed.c.source_system == FEED_SOURCE) & (raw_licence_feed.c.partition_date == partition)
            ),
            conn,
        )
        e = licence_events.c
        replaced = (e.source == "case") & e.source_ref.in_(touched) | (e.source == FEED_SOURCE) & (
            e.partition_date == partition
        )
        before = {r[0] for r in conn.execute(sa.select(e.licence_key).where(replaced))}
        conn.execute(licence_events.delete().where(replaced))
        new = pd.concat([case_events(cases), feed_events(raw, FEED_SOURCE)], ignore_index=True)
        new = number_licences(link_holders(conn, new, now))
        insert_frame(conn, licence_events, event_rows(new, partition, now))
        changed = refold(conn, sorted(before | set(new["licence_key"])), today, now)
        queued = _queue_supervision(conn, changed, partition, now)
        checks = repository_checks(conn, today)
        summary = _summary(conn, today)
    sources = new.groupby(["source", "event"]).size().rename("events").reset_index() if len(new) else pd.DataFrame()
    return MaterializeResult(
        metadata={
            **summary,
            "events_of_the_day": len(new),
            "licences_changed": len(changed),
            "new_licences": int((changed["version"] == 1).sum()) if len(changed) else 0,
            "supervision_versions_queued": queued,
            "events_by_source": MetadataValue.md(sources.to_markdown(index=False) if len(sources) else "none"),
        },
        check_results=checks,
    )


@asset(
    deps=["licence_repository"],
    group_name="licences",
    kinds={"sqlalchemy"},
    owners=["team:data-platform"],
    automation_condition=AutomationCondition.on_cron("15 0 * * *", cron_timezone=LOCAL_TZ),
    description="Daily expiry: every licence still 有效 past its end date gets an `expired` event and becomes "
    "过期失效; the change goes to the supervising department like any other.",
)
def licence_expiry(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    now, today = dt.datetime.now().replace(microsecond=0), _today()
    t = licences.c
    with warehouse.begin() as conn:
        due = warehouse.read(
            sa.select(t.licence_key, t.valid_to).where(
                (t.status == VALID) & t.valid_to.is_not(None) & (t.valid_to < today)
            ),
            conn,
        )
        if len(due):
            ended = pd.to_datetime(due["valid_to"])
            events = pd.DataFrame(
                {
                    "licence_key": due["licence_key"],
                    "event": "expired",
                    "effective_date": (ended + pd.Timedelta(days=1)).dt.date,
                    "source": "expiry",
                    "source_ref": ended.dt.strftime("%Y-%m-%d"),
                    **dict.fromkeys(STATED, None),
                }
            )
            insert_frame(conn, licence_events, event_rows(events, today, now))
        changed = refold(conn, due["licence_key"].tolist(), today, now)
        queued = _queue_supervision(conn, changed, today, now)
    return MaterializeResult(metadata={"expired_today": len(due), "supervision_versions_queued": queued})
