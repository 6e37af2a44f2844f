"""Every item a feed sent, read from the raw records alone (reporting.accounting.pulled_items): the id taken out of
each payload by the database, on SQLite and on PostgreSQL, as a clerk reads the record: trimmed, and a record
without one (blank, absent) counted by its day and record key."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from core.feeds import feeds
from core.warehouse import Warehouse, insert_frame
from reporting.accounting import pulled_items
from schemas.warehouse import raw_feed_records

DAY = dt.date(2026, 11, 16)
AT = dt.datetime(2026, 11, 16, 20)


def _raw(source: str, key: str, payload: dict, day: dt.date = DAY) -> dict:
    return {"source_system": source, "partition_date": day, "record_key": key, "changed_at": None,
            "payload": json.dumps(payload, ensure_ascii=False), "batch_id": "b1", "fetched_at": AT}  # fmt: skip


def _pulled(warehouse: Warehouse) -> list[tuple[str, str]]:
    with warehouse.begin() as conn:
        insert_frame(
            conn,
            raw_feed_records,
            pd.DataFrame(
                [
                    _raw("evaluations", "r1", {"evaluateId": "PJ-001", "level": "5"}),
                    _raw("evaluations", "r2", {"evaluateId": "  PJ-002 "}),  # spaces around: the same id
                    _raw("evaluations", "r3", {"evaluateId": "PJ-001"}, DAY + dt.timedelta(days=1)),  # sent again
                    _raw("evaluations", "r4", {"evaluateId": ""}),  # blank: its day and key
                    _raw("evaluations", "r5", {"level": "1"}),  # none at all
                    _raw("evaluations", "r6", {"evaluateId": 20261116}),  # a number, as an API may send it
                    _raw("hotline", "h1", {"工单编号": "CZ-9"}),  # another kind of feed: not asked for
                ]
            ),
        )
    evaluation_feeds = {name: feed for name, feed in feeds().items() if feed.kind == "evaluations"}
    found = pulled_items(warehouse, evaluation_feeds, "evaluation_id")
    return sorted(zip(found["source_system"], found["item_id"], strict=True))


EXPECTED = sorted(
    [
        ("evaluations", "20261116"),
        ("evaluations", "2026-11-16/r4"),
        ("evaluations", "2026-11-16/r5"),
        ("evaluations", "PJ-001"),
        ("evaluations", "PJ-002"),
    ]
)


@pytest.mark.unit
def test_items_pulled_are_read_from_the_payloads_on_sqlite(warehouse):
    assert _pulled(warehouse) == EXPECTED


@pytest.mark.integration
def test_items_pulled_are_read_from_the_payloads_on_postgresql(postgres_warehouse):
    assert _pulled(postgres_warehouse) == EXPECTED
