"""The one daily partitioning every case asset shares, so a backfill of "failed and missing" spans the spine."""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import pandas as pd
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    BackfillPolicy,
    DailyPartitionsDefinition,
    FreshnessPolicy,
    MetadataValue,
    Output,
    ResourceParam,
    asset_check,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # which materialisation a day's verdict is about (the UI's link)
)

from core import clock, settings
from core.warehouse import Warehouse
from schemas.case import LOCAL_TZ

#: Records belong to the Asia/Shanghai day they changed on; the newest partition is yesterday, the first is where the
#: data starts (BRIDGE_PARTITIONS_START, core/settings.py), so "% filled" in the UI counts the days there can be.
DAILY = DailyPartitionsDefinition(start_date=settings.partitions_start().isoformat(), timezone=LOCAL_TZ, end_offset=0)


#: The daily load (01:30) must have landed by 04:00: past it, the UI shows the asset as late, which is how IT
#: staff see that a department or a receiver stopped.
DAILY_LOAD = FreshnessPolicy.cron(deadline_cron="0 4 * * *", lower_bound_delta=dt.timedelta(hours=3), timezone=LOCAL_TZ)
#: Marts rebuild after every load; a day without one means dashboards show yesterday's figures.
MART_REFRESH = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30), warn_window=dt.timedelta(hours=26))

#: A backfill runs a week of days per run: the daily assets loop over the run's days, oldest first, each day
#: replaced on its own exactly as the daily schedule's one-day run would. Per-day runs would spend most of a
#: 90-day backfill starting run workers; larger chunks would re-run more days when one fails.
WEEKLY_CHUNKS = BackfillPolicy.multi_run(max_partitions_per_run=7)


@dataclass(frozen=True)
class Day:
    """One partition: its date and its [start, end) as naive Asia/Shanghai wall-clock times."""

    date: dt.date
    start: dt.datetime
    end: dt.datetime


def partition_days(context: AssetExecutionContext | AssetCheckExecutionContext) -> list[Day]:
    """The run's days, oldest first: one for a scheduled run, up to a week for a backfill run."""
    window = context.partition_time_window
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    starts = pd.date_range(start, end, freq="D", inclusive="left").to_pydatetime()
    return [Day(s.date(), s, s + dt.timedelta(days=1)) for s in starts]


#: A daily check run without a partition (the UI's "Execute" in an asset's list of checks, "Execute all") checks the
#: last week's days, each on its own.
RECHECK_DAYS = 7

#: One verdict per day: a check's judgement of the days it is given.
Verdicts = Mapping[dt.date, AssetCheckResult]


def checked_days(context: AssetCheckExecutionContext) -> list[dt.date]:
    """The days a check run covers, oldest first: its partitions, or the last RECHECK_DAYS days when it has none."""
    if context.has_partition_key or context.has_partition_key_range:
        return [day.date for day in partition_days(context)]
    today = dt.datetime.combine(clock.today(), dt.time(), clock.SHANGHAI)
    return [dt.date.fromisoformat(k) for k in DAILY.get_partition_keys(current_time=today)[-RECHECK_DAYS:]]


def _target(context: AssetCheckExecutionContext, asset: AssetKey, day: str):
    """The day's latest materialisation of the asset, which the UI links the day's verdict to."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset, asset_partitions=[day]), limit=1
    ).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.event_log_entry.run_id, timestamp=record.timestamp
    )


def day_evaluations(
    context: AssetCheckExecutionContext, asset: AssetKey, name: str, blocking: bool, verdicts: Verdicts, days
) -> Iterator[AssetCheckEvaluation]:
    """Each day's verdict as the evaluation of that day's partition of the check; a run without a partition adds
    one line over its days (the UI has planned one without a partition)."""
    missing = [str(d) for d in days if d not in verdicts]
    if missing:
        raise ValueError(f"check {name} gave no verdict for {', '.join(missing)}")
    for day in days:
        result = verdicts[day]
        yield AssetCheckEvaluation(
            asset_key=asset,
            check_name=name,
            passed=result.passed,
            metadata={"day": MetadataValue.text(str(day)), **result.metadata},
            target_materialization_data=_target(context, asset, str(day)),
            severity=result.severity,
            description=result.description,
            blocking=blocking,
            partition=str(day),
        )
    if not (context.has_partition_key or context.has_partition_key_range):
        failed = [d for d in days if not verdicts[d].passed]
        errors = [d for d in failed if verdicts[d].severity == AssetCheckSeverity.ERROR]
        yield AssetCheckEvaluation(
            asset_key=asset,
            check_name=name,
            passed=bool(days) and not failed,  # no day to check is nothing verified: a warning
            metadata={
                "days": MetadataValue.text(f"{days[0]} … {days[-1]}" if days else "none"),
                "failed_days": MetadataValue.text(", ".join(map(str, failed)) or "none"),
            },
            target_materialization_data=None,
            severity=AssetCheckSeverity.ERROR if errors else AssetCheckSeverity.WARN,
            description=f"the last {len(days)} days, each recorded on its partition" if days else "no day yet",
            blocking=False,
            partition=None,
        )


#: Every daily check's judge by ``<asset>.<check>``: what the check decides, callable without Dagster (the tests read
#: the query plans of every check).
JUDGES: dict[str, Callable[[Warehouse, list[dt.date]], Verdicts]] = {}


def daily_check(*, asset: str, description: str, name: str | None = None, blocking: bool = False):
    """A standalone check on a daily asset with one verdict per day: a week's run records seven, each on its
    partition with that day's figures (never one line for the week and seven days "skipped"). The decorated
    function judges days, ``judge(warehouse, days) -> {day: AssetCheckResult}``, with one result for each day.

    Re-run from the UI: the ``recheck_days`` job checks the days named by the run's partition tags (Launchpad) and
    materialises nothing; "Materialize" on the asset's partitions re-runs the days and their checks; the "Execute"
    beside a check in the asset's list checks the last week."""
    key = AssetKey.from_user_string(asset)

    def decorate(judge: Callable[[Warehouse, list[dt.date]], Verdicts]) -> AssetChecksDefinition:
        check_name = name or judge.__name__
        JUDGES[f"{asset}.{check_name}"] = judge

        @asset_check(asset=asset, name=check_name, partitions_def=DAILY, blocking=blocking, description=description)
        def check(context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]):
            days = checked_days(context)
            verdicts = judge(warehouse, days) if days else {}  # no day yet: the partitions start today
            yield from day_evaluations(context, key, check_name, blocking, verdicts, days)
            yield Output(None)

        return check

    return decorate


def days_of(frame: pd.DataFrame, day: dt.date, column: str = "partition_date") -> pd.DataFrame:
    """The rows of ``frame`` on ``day``."""
    return frame[frame[column] == day]


def per_day(rows: list[dict]) -> str:
    """A markdown table with one row per day of the run, for metadata a person reads in the UI."""
    return pd.DataFrame(rows).to_markdown(index=False) if rows else "none"


def partition_range_tags(keys: list[str]) -> dict[str, str]:
    """The tags that make one run of a job cover the days from keys[0] to keys[-1]."""
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
