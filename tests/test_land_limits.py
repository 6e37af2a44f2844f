"""A record whose id or change time is longer than the warehouse keeps does not fail the day (issue 24): on
PostgreSQL one such value raised ``StringDataRightTruncation`` and the whole day's ``land()`` was lost. It is kept
under a key made from its id's digest, with the reason, so staging quarantines it and the day adds up; on SQLite
(which does not check lengths) and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.sources import RawRecord, SourceBatch
from core.warehouse import Warehouse
from pipelines.pull.assets import land
from schemas.warehouse import raw_feed_records, raw_records

DAY = dt.date(2026, 11, 16)
WINDOW = (dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 17))


def _batch() -> SourceBatch:
    batch = SourceBatch()
    batch.records += [
        RawRecord("WJ1", "2026-11-16 09:00", {"办件编号": "WJ1"}),
        RawRecord("W" * 300, "2026-11-16 09:00", {"办件编号": "W" * 300}),
        RawRecord("WJ3", "2026-11-16 09:00:00.000000+08:00 (as the system wrote it)", {"办件编号": "WJ3"}),
    ]
    return batch


def _land_and_read(warehouse: Warehouse, table: sa.Table) -> dict[str, dict]:
    land(warehouse, "health", DAY, WINDOW, _batch(), table)
    rows = warehouse.read(sa.select(table.c.record_key, table.c.changed_at, table.c.payload))
    return {r.record_key: {"changed_at": r.changed_at, **json.loads(r.payload)} for r in rows.itertuples()}


def _check(warehouse: Warehouse) -> None:
    for table in (raw_records, raw_feed_records):
        landed = _land_and_read(warehouse, table)
        assert len(landed) == 3 and landed["WJ1"]["changed_at"] == "2026-11-16 09:00"
        long_id = next(v for k, v in landed.items() if k.startswith("too-long#"))
        assert long_id["办件编号"] == "W" * 300  # nothing of the record lost
        assert long_id["_error"].startswith(f"its id is 300 characters, over the {table.c.record_key.type.length}")
        assert landed["WJ3"]["_error"].startswith("its change time is") and pd.isna(landed["WJ3"]["changed_at"])


@pytest.mark.unit
def test_over_long_values_are_set_aside_on_sqlite(warehouse):
    _check(warehouse)


@pytest.mark.integration
def test_over_long_values_are_set_aside_on_postgresql(postgres_warehouse):
    _check(postgres_warehouse)
