"""The one daily partitioning every case asset shares, so a backfill of "failed and missing" spans the spine."""

import datetime as dt

from dagster import AssetExecutionContext, DailyPartitionsDefinition, FreshnessPolicy

from schemas.case import LOCAL_TZ

#: Records belong to the Asia/Shanghai day they changed on; the newest partition is yesterday.
DAILY = DailyPartitionsDefinition(start_date="2025-01-01", timezone=LOCAL_TZ, end_offset=0)


#: The daily load (01:30) must have landed by 04:00: past it, the UI shows the asset as late, which is how IT
#: staff see that a department or a receiver stopped.
DAILY_LOAD = FreshnessPolicy.cron(deadline_cron="0 4 * * *", lower_bound_delta=dt.timedelta(hours=3), timezone=LOCAL_TZ)
#: Marts rebuild after every load; a day without one means dashboards show yesterday's figures.
MART_REFRESH = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30), warn_window=dt.timedelta(hours=26))


def partition_window(context: AssetExecutionContext) -> tuple[dt.datetime, dt.datetime, dt.date]:
    """The partition's [start, end) as naive Asia/Shanghai wall-clock times, and its date."""
    window = context.partition_time_window
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    return start, end, start.date()
