"""The one daily partitioning every case asset shares, so a backfill of "failed and missing" spans the spine."""

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    BackfillPolicy,
    DailyPartitionsDefinition,
    FreshnessPolicy,
    asset_check,
)

from schemas.case import LOCAL_TZ

#: Records belong to the Asia/Shanghai day they changed on; the newest partition is yesterday.
DAILY = DailyPartitionsDefinition(start_date="2025-01-01", timezone=LOCAL_TZ, end_offset=0)


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


def run_window(context: AssetExecutionContext | AssetCheckExecutionContext) -> tuple[dt.date, dt.date]:
    """The first and last day a run (or a check's run) covers."""
    days = partition_days(context)
    return days[0].date, days[-1].date


def daily_check(*, asset: str, description: str, name: str | None = None, blocking: bool = False):
    """A standalone check on a daily asset: evaluated over the days of its run, re-runnable from the UI."""
    return asset_check(asset=asset, name=name, partitions_def=DAILY, blocking=blocking, description=description)


def per_day(rows: list[dict]) -> str:
    """A markdown table with one row per day of the run, for metadata a person reads in the UI."""
    return pd.DataFrame(rows).to_markdown(index=False) if rows else "none"


def partition_range_tags(keys: list[str]) -> dict[str, str]:
    """The tags that make one run of a job cover the days from keys[0] to keys[-1]."""
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
