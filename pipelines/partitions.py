"""The one daily partitioning every case asset shares, so a backfill of "failed and missing" spans the spine."""

import datetime as dt

from dagster import AssetExecutionContext, DailyPartitionsDefinition

from schemas.case import LOCAL_TZ

#: Records belong to the Asia/Shanghai day they changed on; the newest partition is yesterday.
DAILY = DailyPartitionsDefinition(start_date="2025-01-01", timezone=LOCAL_TZ, end_offset=0)


def partition_window(context: AssetExecutionContext) -> tuple[dt.datetime, dt.datetime, dt.date]:
    """The partition's [start, end) as naive Asia/Shanghai wall-clock times, and its date."""
    window = context.partition_time_window
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    return start, end, start.date()
