"""电子证照库: the licences completed cases produced and the market-regulation registry reports, one licence per
licence whichever system reports it, with full history, holders linked across sources, daily expiry, and the
approval–supervision feed (审管互动) to the department that supervises each licence type."""

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from connectors.sources import DepartmentSource
from core import clock
from core.departments import licence_feeds
from core.feeds import feeds_of
from core.warehouse import Warehouse, insert_frame
from delivery.outbox import queue
from licensing.parties import record_parties
from licensing.repository import (
    FIELDS,
    awaiting_holder,
    case_events,
    due_supervision_keys,
    event_rows,
    feed_events,
    finding_events,
    link_findings,
    link_holders,
    name_holders,
    number_licences,
    refold,
)
from pipelines.metadata import report_days, table_metadata
from pipelines.partitions import DAILY, WEEKLY_CHUNKS, partition_days, per_day
from schemas.case import COMPLETED_STATUSES, LOCAL_TZ
from schemas.licences import VALID
from schemas.warehouse import (
    case_links,
    case_parties,
    golden_cases,
    holders,
    licence_events,
    licences,
    raw_licence_feed,
    staged_cases,
    staged_findings,
)

STATED = (*FIELDS, "holder_id", "golden_case_id")  # what an event may state
SUPERVISION = ("supervision",)
SUPERVISION_SOURCE = "supervision"
IDENTIFIERS_VALID = "licence_identifiers_valid"
NONE_VALID_PAST_END = "no_licence_valid_past_its_end_date"
ONE_HOLDER_PER_CODE = "one_holder_per_identifier"


def _today() -> dt.date:
    return clock.today()


FEEDS = licence_feeds()
FINDING_FEEDS = feeds_of("findings")  # 审管互动: supervisors' findings, whose suspensions and revocations fold in


@asset(
    name="raw_licence_feed",
    partitions_def=DAILY,
    group_name="licences",
    kinds={"rest"},
    owners=sorted({d.owner for d in FEEDS.values()}) or None,
    required_resource_keys={"warehouse", *(d.licence_resource for d in FEEDS.values())},
    pool=next((d.pool for d in FEEDS.values()), None),  # a feed shares its system's pool (one system declares one)
    backfill_policy=WEEKLY_CHUNKS,
    metadata=table_metadata(raw_licence_feed),
    description="The licence events of the day (营业执照 issued, changed, suspended, cancelled, revoked) from every "
    "system that declares a licence feed ("
    + ", ".join(d.title for d in FEEDS.values())
    + "), landed untouched; re-running a day replaces exactly that day.",
)
def pull_licence_feed(context: AssetExecutionContext) -> MaterializeResult:
    warehouse: Warehouse = context.resources.warehouse
    days, operations = [], []
    for name, declaration in FEEDS.items():
        source: DepartmentSource = getattr(context.resources, declaration.licence_resource)
        operation_field = declaration.licence_feed.fields["operation"]
        for day in partition_days(context):
            batch = source.fetch_changes(day.start, day.end)
            for note in batch.notes:
                (context.log.info if batch.complete else context.log.warning)(note)
            frame = pd.DataFrame(
                {
                    "source_system": name,
                    "partition_date": day.date,
                    "record_key": [r.record_key for r in batch.records],
                    "payload": [json.dumps(r.payload, ensure_ascii=False, sort_keys=True) for r in batch.records],
                    "fetched_at": clock.now(),
                }
            ).drop_duplicates("record_key", keep="last")
            with warehouse.begin() as conn:
                warehouse.replace_partition(conn, raw_licence_feed, day.date, frame, source_system=name)
            operations += [f"{name} {r.payload.get(operation_field)}" for r in batch.records]
            days.append({"source_system": name, "partition_date": day.date, "events": len(frame)})
    by_operation = pd.Series(operations, dtype="string").value_counts()
    report_days(context, pd.DataFrame(days, columns=["source_system", "partition_date", "events"]), "events")
    return MaterializeResult(
        metadata={
            "events_in_run": sum(d["events"] for d in days),
            "by_day": MetadataValue.md(per_day(days)),
            "by_operation_code": MetadataValue.md(
                by_operation.rename("events").to_markdown() if len(by_operation) else "none"
            ),
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
        "licences_in_repository": total,  # each day's row count is its events (report_days)
        "holders": int(conn.execute(sa.select(sa.func.count()).select_from(holders)).scalar_one()),
        "valid": int(by_status.loc[by_status["status"] == VALID, "n"].sum()),
        "expiring_within_30_days": int(expiring),
        "revoked_or_cancelled": int(by_status.loc[by_status["status"].isin(["吊销", "撤销", "注销"]), "n"].sum()),
        "by_type_and_status": MetadataValue.md(table.to_markdown() if total else "empty"),
    }


@asset(
    deps=["case_resolution", "raw_licence_feed", *(["staged_findings"] if FINDING_FEEDS else [])],
    partitions_def=DAILY,
    group_name="licences",
    kinds={"sqlalchemy"},
    owners=["team:data-platform"],
    pool="licence_repository",  # days share holders and licences: one day's load at a time
    backfill_policy=WEEKLY_CHUNKS,
    metadata=table_metadata(licences, licence_events, holders, case_parties),
    description="电子证照库: one licence per licence (its type and printed number), from completed golden cases and "
    "the market-regulation registry, with 证照标识 (GB/T 36904), metadata after GB/T 36903, the holder linked "
    "across sources, and full history in `licence_events`; the day's suspensions and revocations fed back by "
    "supervisors (`staged_findings`) fold in as events of source `supervision`. New and changed licences are "
    "queued for the supervising department (审管互动). Each touched case's parties (its applicant and its "
    "licences' holders, under every number it is known by) are recorded in `case_parties`, to which the sharing "
    "API binds reads.",
)
def licence_repository(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    now, today = clock.now(), _today()
    days, events = [], []
    for day in partition_days(context):
        with warehouse.begin() as conn:
            new, changed, queued, awaiting, parties = _load_day(warehouse, conn, day.date, today, now)
        events.append(new[["source", "event"]])
        days.append(
            {
                "partition_date": day.date,
                "events": len(new),
                "licences_changed": len(changed),
                "new_licences": int((changed["version"] == 1).sum()) if len(changed) else 0,
                "supervision_versions_queued": queued,
                "completed_awaiting_holder_id": awaiting,
                "case_parties_recorded": parties,
            }
        )
    with warehouse.begin() as conn:  # its quality gates are checks of their own (licences/checks.py)
        summary = _summary(conn, today)
    events = pd.concat(events)
    sources = events.groupby(["source", "event"]).size().rename("events").reset_index()
    report_days(context, days, "events")  # each day's own figures; the repository's size stays in the summary
    return MaterializeResult(
        metadata={
            **summary,
            **{k: sum(d[k] for d in days) for k in days[0] if k != "partition_date"},  # the run's totals
            "by_day": MetadataValue.md(per_day(days)),
            "events_by_source": MetadataValue.md(sources.to_markdown(index=False) if len(sources) else "none"),
        },
    )


def _load_day(warehouse: Warehouse, conn: sa.Connection, partition: dt.date, today: dt.date, now: dt.datetime):
    """Replace the day's licence events, refold every licence they touch, and queue the changed ones for
    supervision. Returns (the day's events, changed licences, versions queued, completed cases whose licence
    waits for the holder's identifier, ``case_parties`` rows written).

    The day's events are its registry feed and the licences of the golden cases it touched. A case's licence
    belongs to the day its completion was loaded: a run that covers a week, or re-runs an earlier day, sees
    golden cases as they are now, and must not issue a licence before the day the daily run would have."""
    link, st = case_links.c, staged_cases.c
    touched = sorted(
        {r[0] for r in conn.execute(sa.select(link.golden_case_id).where(link.partition_date == partition))}
    )
    completion = (
        sa.select(link.golden_case_id, sa.func.min(link.partition_date))
        .join(
            staged_cases,
            (st.source_system == link.source_system)
            & (st.partition_date == link.partition_date)
            & (st.record_key == link.record_key),
        )
        .where(link.golden_case_id.in_(touched) & st.status.in_(COMPLETED_STATUSES))
        .group_by(link.golden_case_id)
    )
    completed_on = dict(conn.execute(completion).fetchall())
    mine = sorted(g for g in touched if completed_on.get(g, partition) <= partition)  # incl. no longer completed
    cases = warehouse.read(sa.select(golden_cases).where(golden_cases.c.golden_case_id.in_(mine)), conn)
    raw = warehouse.read(
        sa.select(raw_licence_feed.c.source_system, raw_licence_feed.c.payload).where(
            raw_licence_feed.c.source_system.in_(list(FEEDS)) & (raw_licence_feed.c.partition_date == partition)
        ),
        conn,
    )
    e = licence_events.c
    before: set[str] = set()
    # the touched cases' events and the day's feed events: each found by its own index (one OR of the two read
    # every event of the history)
    for replaced in (
        (e.source == "case") & e.source_ref.in_(mine),
        e.source.in_(list(FEEDS)) & (e.partition_date == partition),
    ):
        before |= {r[0] for r in conn.execute(sa.select(e.licence_key).where(replaced))}
        conn.execute(licence_events.delete().where(replaced))
    from_feeds = [feed_events(rows, name) for name, rows in raw.groupby("source_system") if len(rows)]
    new = pd.concat([case_events(cases), *from_feeds], ignore_index=True)
    new = number_licences(link_holders(conn, new, now))
    owner = new["source_ref"].map(completed_on).where(new["source"] == "case").fillna(partition)
    insert_frame(conn, licence_events, event_rows(new, owner.to_numpy(), now))
    changed = refold(conn, sorted(before | set(new["licence_key"])), today, now)
    name_holders(conn, [*new["holder_id"].dropna(), *changed["holder_id"].dropna()])
    # The day's findings, once the day's licences and holders are in: a licence issued and suspended on one day
    # is suspended. Refolded again (its version grows once more); what changed either time is queued once.
    supervised = _supervision_day(warehouse, conn, partition, now)
    if len(supervised) or supervised.attrs["before"]:
        again = refold(conn, sorted(set(supervised["licence_key"]) | supervised.attrs["before"]), today, now)
        changed = pd.concat([changed[~changed["licence_key"].isin(again["licence_key"])], again], ignore_index=True)
        new = pd.concat([new, supervised], ignore_index=True)
    queued = _queue_supervision(conn, changed, partition, now)
    # the parties the sharing API binds reads of these cases to, once their licences are in
    return new, changed, queued, awaiting_holder(cases), record_parties(conn, touched)


def _supervision_day(warehouse: Warehouse, conn: sa.Connection, partition: dt.date, now: dt.datetime) -> pd.DataFrame:
    """Replace the day's supervision events with those of the findings staged that day."""
    e, f = licence_events.c, staged_findings.c
    replaced = (e.source == SUPERVISION_SOURCE) & (e.partition_date == partition)
    before = {r[0] for r in conn.execute(sa.select(e.licence_key).where(replaced))}
    conn.execute(licence_events.delete().where(replaced))
    staged = (
        warehouse.read(
            sa.select(staged_findings).where(
                (f.partition_date == partition) & f.source_system.in_(list(FINDING_FEEDS))
            ),
            conn,
        )
        if FINDING_FEEDS
        else pd.DataFrame()
    )
    events = finding_events(link_findings(conn, staged), partition) if len(staged) else pd.DataFrame()
    if len(events):
        insert_frame(conn, licence_events, event_rows(events, partition, now))
    events = events if len(events) else pd.DataFrame(columns=["licence_key", "source", "event", "holder_id"])
    events.attrs["before"] = before
    return events


@asset(
    deps=["licence_repository"],
    group_name="licences",
    kinds={"sqlalchemy"},
    owners=["team:data-platform"],
    automation_condition=AutomationCondition.on_cron("15 0 * * *", cron_timezone=LOCAL_TZ),
    metadata=table_metadata(licence_events),
    description="Daily expiry: every licence still 有效 past its end date gets an `expired` event and becomes "
    "过期失效; a licence whose suspension ended (or whose supervisor's decision took effect) in the last week is "
    "refolded; the change goes to the supervising department like any other.",
)
def licence_expiry(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    now, today = clock.now(), _today()
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
        # a supervisor's decision that came due (a suspension's end, a revocation effective later) refolds too
        changed = refold(conn, sorted({*due["licence_key"], *due_supervision_keys(conn, today)}), today, now)
        # Queued under the newest daily partition (yesterday), which the delivery follow-up covers: today's is not
        # a partition until tomorrow.
        queued = _queue_supervision(conn, changed, today - dt.timedelta(days=1), now)
    return MaterializeResult(metadata={"expired_today": len(due), "supervision_versions_queued": queued})
