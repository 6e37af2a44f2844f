"""Delivery to the receivers (the one network, the municipal platform, the supervision intake), the follow-up of
their acknowledgements, and the reconciliation that proves the counts.

Only a receiver's delivery asset talks to it about versions (sends, asks about receipts), and it holds the
receiver's pool (``target_<name>``): the daily load, a backfill and the sensor's follow-up take turns at each
receiver. ``delivery_status`` sends nothing; it compares the outbox with each receiver's own listing.
"""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Config,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset,
    define_asset_job,
    schedule,
    sensor,
)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from pydantic import Field

from connectors.targets import DeliveryTarget
from core import clock, settings
from core.vocabulary import OUTBOX_STATUSES, PENDING_STATUSES
from core.warehouse import Warehouse, insert_frame
from delivery import followup
from delivery.outbox import drain
from delivery.reconcile import Reconciled, reconcile_receiver
from pipelines.metadata import fingerprint, md, report_days, table_metadata
from pipelines.partitions import DAILY, WEEKLY_CHUNKS, partition_days, partition_range_tags
from schemas.case import LOCAL_TZ
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
#: Runs that deliver to the receivers: while one is queued or running, the follow-up waits for it.
DELIVERING_JOBS = ("follow_acknowledgements", "daily_cases")
#: A follow-up run names the receivers it follows up (the UI's run tags).
FOLLOW_UP_TAG = "bridge/follow_up"
#: How many partition days the sensor's follow-up and reconciliation look back over (the nightly run: all).
WINDOW_DAYS_VARIABLE = "BRIDGE_RECONCILE_WINDOW_DAYS"


def window_days() -> int:
    return int(settings.number(WINDOW_DAYS_VARIABLE, 7))


def _today() -> dt.date:
    return clock.today()


def build_delivery_asset(target_name: str) -> AssetsDefinition:
    @asset(
        name=f"{target_name}_delivery",
        deps=[ENTITY[target_name]],
        partitions_def=DAILY,
        group_name="deliver",
        kinds={"sqlalchemy"} if target_name == "one_network" else {"api"},
        owners=["team:data-platform"],
        required_resource_keys={target_name, "warehouse"},
        pool=f"target_{target_name}",  # one step at a time per receiver: backfills and follow-ups cannot flood it
        backfill_policy=WEEKLY_CHUNKS,
        metadata=table_metadata(outbox, dead_letters),
        description=f"{TARGET_TITLES[target_name]}. Sends the day's queued versions (idempotency key per target, "
        "entity and version), records each outcome, and follows acknowledgements; rejections go to the "
        "dead-letter table with the receiver's reason and what the clerk should fix. While versions of recent "
        "days are pending, the `outstanding_deliveries` sensor re-runs those days when the receiver's backoff says "
        "so (what a fault left queued goes out again, late receipts are fetched); the nightly reconciliation does "
        "so for every day. Each day's materialisation counts that day's versions by status; its data version is "
        "the days' outbox, unchanged by a follow-up that changed nothing.",
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
        per_status = table.reindex(columns=list(OUTBOX_STATUSES), fill_value=0).astype(int)
        report_days(context, per_status.assign(versions=per_status.sum(axis=1)).reset_index(), rows="versions")
        return MaterializeResult(
            metadata={
                **{k: int(v) for k, v in figures.items()},
                "by_day_and_status": MetadataValue.md(table.to_markdown() if len(table) else "nothing queued"),
            },
            # the days' outbox as it stands: a follow-up that changed nothing leaves it as it was, and the marts
            # do not refresh for it (pipelines/automation.py)
            data_version=fingerprint(by_status.astype({"partition_date": str})),
        )

    return delivery


DELIVERY_ASSETS = [build_delivery_asset(name) for name in TARGET_TITLES]


class ReconcileWindow(Config):
    days: int | None = Field(
        default=None,
        description="Reconcile the versions of the last N partition days (the sensor's follow-up); "
        "empty: the whole history (the nightly run, and a materialisation from the UI).",
    )


def reconcile_all(context, warehouse: Warehouse, since: dt.date | None, stale_before: dt.datetime) -> dict:
    """Each receiver reconciled over the days from ``since`` (None: all, a month at a time), one after another."""
    return {
        name: reconcile_receiver(warehouse, name, getattr(context.resources, name), since, stale_before)
        for name in TARGET_TITLES
    }


def how_read(found: Reconciled) -> str:
    """How a receiver was read, for the metadata: its query and windows, or why it cannot be verified."""
    if found.why_not is not None:
        return f"{found.check}: {found.why_not}"
    twice = "" if found.duplicates_known else "; whether a version took effect twice: cannot verify"
    return f"{found.check} by {found.verified_by} ({found.windows} window(s), {found.read_seconds} s){twice}"


@asset(
    deps=[a.key for a in DELIVERY_ASSETS],
    group_name="deliver",
    kinds={"sqlalchemy"},
    owners=["team:data-platform"],
    required_resource_keys={"warehouse", *TARGET_TITLES},
    metadata=table_metadata(delivery_reconciliation),
    description="Reconciliation per receiver and day: what was queued, acknowledged, pending and dead-lettered, "
    "against what the receiver itself says (`delivery_reconciliation`), read for the window only and by the "
    "receiver's own published query: the province's tables by their time column (`cd_time`) from the window's "
    "first version on, the municipal platform's and the supervision intake's receipts query about the window's "
    "receipts; a receiver that publishes none is `cannot verify` (column `receiver_check`), never a pass. It sends "
    "nothing and fetches no acknowledgement: that is each receiver's delivery asset, the only step holding its pool "
    "(`target_<name>`), so a Dagster step never needs two receivers' pools; its reads go through each receiver's "
    "rate limit, one receiver after another, and claim no pool, as a read cannot race a send. "
    "One trigger: the `outstanding_deliveries` sensor (while versions of the last BRIDGE_RECONCILE_WINDOW_DAYS "
    "days, default 7, are pending, when a receiver's backoff makes it due: those days' delivery steps, then this "
    "over that window); the `nightly_reconciliation` schedule (03:00) widens it to the whole history, read a month "
    "at a time. Its data version is the reconciliation table: a run that found nothing new does not refresh the "
    "marts.",
)
def delivery_status(context: AssetExecutionContext, config: ReconcileWindow) -> MaterializeResult:
    warehouse: Warehouse = context.resources.warehouse
    now = clock.now()
    since = None if config.days is None else _today() - dt.timedelta(days=config.days)
    stale_before = now - dt.timedelta(hours=settings.number("BRIDGE_PENDING_MAX_AGE_HOURS", 24))
    found = reconcile_all(context, warehouse, since, stale_before)
    table = pd.concat([f.table.assign(receiver_check=f.check) for f in found.values()], ignore_index=True).assign(
        reconciled_at=now
    )
    r = delivery_reconciliation.c
    with warehouse.begin() as conn:
        conn.execute(delivery_reconciliation.delete().where(sa.true() if since is None else r.day >= since))
        insert_frame(conn, delivery_reconciliation, table)
    every_day = warehouse.read(sa.select(delivery_reconciliation))
    totals = every_day.drop(columns=["day", "reconciled_at", "receiver_check"]).groupby("target").sum().reset_index()
    metadata: dict = {
        "window": "whole history" if since is None else f"{config.days} days, from {since}",
        "receiver_read": md(pd.DataFrame({"target": list(found), "read": [how_read(f) for f in found.values()]})),
        "by_target": md(totals),
    }
    for name, f in found.items():
        metadata[f"{name}_receiver_check"] = f.check
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
    metadata["open_dead_letters"] = md(letters)
    metadata["by_day"] = md(table.drop(columns="reconciled_at").sort_values(["target", "day"]))
    metadata["dagster/row_count"] = len(every_day)
    return MaterializeResult(metadata=metadata, data_version=fingerprint(every_day.drop(columns="reconciled_at")))


follow_deliveries_job = define_asset_job(
    "follow_acknowledgements",
    selection=AssetSelection.assets(*DELIVERY_ASSETS, delivery_status),  # daily: the delivery assets' partitions
    description="Each receiver's delivery asset over the days with versions still pending (sends what a fault left "
    "queued, asks about receipts, in the receiver's pool), then delivery_status reconciles.",
)


def pending_days(warehouse: Warehouse, since: dt.date | None) -> pd.DataFrame:
    """Per target: the first and last partition day with versions still queued or sent (from ``since``)."""
    t = outbox.c
    condition = t.status.in_(PENDING_STATUSES)
    if since is not None:
        condition &= t.partition_date >= since
    frame = warehouse.read(
        sa.select(
            t.target,
            sa.func.min(t.partition_date).label("first"),
            sa.func.max(t.partition_date).label("last"),
            sa.func.count().label("versions"),
        )
        .where(condition)
        .group_by(t.target)
    )
    for column in ("first", "last"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame[frame["target"].isin(list(TARGET_TITLES))]


def existing_days() -> set[str]:
    """The partition days that exist now: a version queued today waits for today to become a partition (tomorrow)."""
    return set(DAILY.get_partition_keys(current_time=dt.datetime.combine(_today(), dt.time(), clock.SHANGHAI)))


def follow_up_request(
    warehouse: Warehouse,
    days: int | None,
    run_key: str,
    *,
    check_receivers: bool,
    targets: list[str] | None = None,
) -> RunRequest | None:
    """One run: the delivery asset of each receiver with pending versions (of ``targets``, default all), over the
    days from the first to the last such day (of the last ``days`` days, or all), then ``delivery_status`` over the
    same window. None when no version of those days is pending."""
    since = None if days is None else _today() - dt.timedelta(days=days)
    pending = pending_days(warehouse, since)
    if targets is not None:
        pending = pending[pending["target"].isin(targets)]
    existing = existing_days()
    keys = []
    if len(pending):
        span = pd.date_range(pending["first"].min(), pending["last"].max()).date
        keys = [str(d) for d in span if str(d) in existing]
    if not keys and days is not None:
        return None
    targets = pending["target"].tolist() if keys else []
    selection = [*(AssetKey(f"{name}_delivery") for name in targets), delivery_status.key]
    checks = [AssetCheckKey(AssetKey(f"{name}_delivery"), ACCOUNTED) for name in targets]
    checks += [AssetCheckKey(delivery_status.key, NO_STALE_PENDING)]
    if check_receivers:
        checks += [AssetCheckKey(delivery_status.key, RECEIVER_AGREES)]
    return RunRequest(
        run_key=run_key,
        asset_selection=selection,
        asset_check_keys=checks,
        run_config={"ops": {"delivery_status": {"config": {"days": days}}}},
        tags={
            **(partition_range_tags(keys) if keys else {}),
            "outstanding_versions": str(int(pending["versions"].sum())),
            FOLLOW_UP_TAG: ",".join(targets) or "none",
        },
    )


def delivering_run(instance: DagsterInstance) -> str | None:
    """A run queued or running that delivers (a follow-up, a day's load, a backfill of a delivery asset), named for
    the UI; None when there is none."""
    delivery_keys = {a.key for a in DELIVERY_ASSETS}
    for run in instance.get_runs(filters=RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES), limit=50):
        if run.job_name in DELIVERING_JOBS or delivery_keys & set(run.asset_selection or ()):
            return f"run {run.run_id[:8]} ({run.job_name}, {run.status.value.lower()})"
    return None


@sensor(
    job=follow_deliveries_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Follows up the receivers while versions of the last BRIDGE_RECONCILE_WINDOW_DAYS days (default 7) "
    "are queued or unacknowledged, only when one is due: per receiver a backoff of 2, 4, 8 … up to 60 minutes "
    "while nothing changes (BRIDGE_FOLLOW_UP_FIRST_MINUTES, BRIDGE_FOLLOW_UP_MAX_MINUTES), afresh when a version "
    "is queued or acknowledged; never while a follow-up or a load is running. A tick that starts nothing says why.",
)
def outstanding_deliveries(context: SensorEvaluationContext, warehouse: ResourceParam[Warehouse]) -> SensorResult:
    """Receivers acknowledge late and go down: follow up the pending versions of the last window's days, each
    receiver when its backoff says so (delivery/followup.py), one run at a time, and reconcile that window."""
    days, now = window_days(), clock.now()
    existing = sorted(existing_days())
    first = max(_today() - dt.timedelta(days=days), dt.date.fromisoformat(existing[0])) if existing else _today()
    last = dt.date.fromisoformat(existing[-1]) if existing else first - dt.timedelta(days=1)
    pending = followup.pending_by_receiver(warehouse, first, last)
    decided = followup.plan(
        pending, followup.read_cursor(context.cursor), now, followup.Backoff.configured(),
        in_flight=delivering_run(context.instance),
    )  # fmt: skip
    request = None
    if decided.due:
        request = follow_up_request(
            warehouse, days, f"deliveries-{now:%Y%m%d%H%M}", check_receivers=False, targets=decided.due
        )
    if request is None:
        return SensorResult(skip_reason=SkipReason(decided.why_not()), cursor=decided.cursor())
    context.log.info(decided.why_not())
    return SensorResult(run_requests=[request], cursor=decided.cursor())


@schedule(
    job=follow_deliveries_job,
    cron_schedule="0 3 * * *",
    execution_timezone=LOCAL_TZ,
    default_status=DefaultScheduleStatus.RUNNING,
)
def nightly_reconciliation(context: ScheduleEvaluationContext, warehouse: ResourceParam[Warehouse]):
    """03:00, after the daily load: follow up every pending version whatever its day, reconcile the whole history
    and check that every receiver holds what it acknowledged."""
    key = f"reconcile-{context.scheduled_execution_time:%Y%m%d}"
    return follow_up_request(warehouse, None, key, check_receivers=True)
