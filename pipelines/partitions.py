"""The one daily partitioning every case asset shares, so a backfill of "failed and missing" spans the spine."""

from dagster import DailyPartitionsDefinition

from schemas.case import LOCAL_TZ

#: Records belong to the Asia/Shanghai day they changed on; the newest partition is yesterday.
DAILY = DailyPartitionsDefinition(start_date="2025-01-01", timezone=LOCAL_TZ, end_offset=0)
