"""The month-scoped marts refresh only the months a load touched, and end with exactly the rows a full rebuild
writes: after several loads, a late correction that moves a case to an earlier month, a duplicate linked to an old
case (its record count only), a case a re-run took away, and a refresh with nothing new. On SQLite (unit) and on
PostgreSQL (server tier: the months are computed in SQL, ``substr(cast(...))`` on each dialect)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, insert_frame
from pipelines.marts.assets import refresh_channel, refresh_daily_volume
from schemas.warehouse import golden_cases, mart_channel_monthly, mart_daily_volume

NOW = dt.datetime(2026, 12, 1, 9)


def _case(case_id: str, submitted: str, *, status: str = "受理", records: int = 1, channel: str | None = "1") -> dict:
    content = f"{case_id}|{submitted}|{status}|{channel}"
    return {"golden_case_id": case_id, "source_system": "market_regulation", "source_record_id": case_id,
            "item_code": "000102001000", "item_name": "企业设立登记",
            "submitted_at": dt.datetime.fromisoformat(submitted),
            "accepted_at": dt.datetime.fromisoformat(submitted) + dt.timedelta(hours=1), "status": status,
            "handling_dept": "market_regulation", "submission_channel": channel, "delivery_method": "2",
            "accepting_place": None, "approval_mode": "审批", "record_count": records, "version": 1,
            "content_hash": hashlib.sha256(content.encode()).hexdigest(), "first_partition": dt.date(2026, 8, 1),
            "updated_partition": dt.date(2026, 8, 1), "updated_at": NOW}  # fmt: skip


def _load(warehouse: Warehouse, cases: list[dict], removed: tuple[str, ...] = ()) -> None:
    """As case_resolution writes a day: the touched golden cases deleted and written anew, in one transaction."""
    ids = [c["golden_case_id"] for c in cases] + list(removed)
    with warehouse.begin() as conn:
        conn.execute(golden_cases.delete().where(golden_cases.c.golden_case_id.in_(ids)))
        insert_frame(conn, golden_cases, pd.DataFrame(cases))


MARTS = {mart_daily_volume: refresh_daily_volume, mart_channel_monthly: refresh_channel}  # as the mart assets do


def _refresh_in(conn: sa.Connection, *, full: bool = False) -> dict[str, tuple[str, ...]]:
    rebuilt = {}
    for table, refresh in MARTS.items():
        done = refresh(conn, full=full)
        rebuilt[table.name] = done.months if not done.full else ("full",)
    return rebuilt


def _refresh(warehouse: Warehouse) -> dict[str, tuple[str, ...]]:
    with warehouse.begin() as conn:
        return _refresh_in(conn)


def _contents(warehouse: Warehouse, conn: sa.Connection | None = None) -> dict[str, list[tuple]]:
    out = {}
    for table in MARTS:
        frame = warehouse.read(sa.select(table), conn)
        key = [c.name for c in table.primary_key.columns]
        out[table.name] = [tuple(r) for r in frame.sort_values(key).astype(str).itertuples(index=False)]
    return out


def _full_rebuild_of(warehouse: Warehouse) -> dict[str, list[tuple]]:
    """What a full rebuild writes from the same golden cases, in a transaction rolled back afterwards."""
    with warehouse.engine.connect() as conn:
        transaction = conn.begin()
        assert set(_refresh_in(conn, full=True).values()) == {("full",)}
        rebuilt = _contents(warehouse, conn)
        transaction.rollback()
    return rebuilt


def _history_with_a_late_correction(warehouse: Warehouse) -> None:
    # the first refresh builds whole (no marks yet)
    _load(warehouse, [_case(f"GC{m}{n}", f"2026-{m:02d}-{10 + n}T09:00:00") for m in (8, 9, 10) for n in range(3)])
    assert set(_refresh(warehouse).values()) == {("full",)}
    assert _contents(warehouse) == _full_rebuild_of(warehouse)

    # a day of new cases in November: only November is rebuilt
    _load(warehouse, [_case("GC-N1", "2026-11-02T09:00:00"), _case("GC-N2", "2026-11-02T10:00:00", channel=None)])
    assert _refresh(warehouse) == {"mart_daily_volume": ("2026-11",), "mart_channel_monthly": ("2026-11",)}
    assert _contents(warehouse) == _full_rebuild_of(warehouse)

    # a late correction: the department's record says GC100 (counted in October) was submitted in September, and a
    # status update completes a November case: September, October and November
    _load(warehouse, [_case("GC100", "2026-09-30T16:00:00"), _case("GC-N1", "2026-11-02T09:00:00", status="办结")])
    assert _refresh(warehouse)["mart_daily_volume"] == ("2026-09", "2026-10", "2026-11")
    assert _contents(warehouse) == _full_rebuild_of(warehouse)

    # a re-entry linked to an August case (its record count only, content unchanged) and a case a re-run took away
    august = _case("GC81", "2026-08-11T09:00:00", records=2)
    august["content_hash"] = _case("GC81", "2026-08-11T09:00:00")["content_hash"]
    _load(warehouse, [august], removed=("GC-N2",))
    assert _refresh(warehouse)["mart_daily_volume"] == ("2026-08", "2026-11")
    assert _contents(warehouse) == _full_rebuild_of(warehouse)

    # nothing new: nothing rebuilt, nothing changed
    assert _refresh(warehouse) == {"mart_daily_volume": (), "mart_channel_monthly": ()}
    assert _contents(warehouse) == _full_rebuild_of(warehouse)
    cases = warehouse.read(sa.select(mart_daily_volume.c.day, mart_daily_volume.c.cases))
    assert int(cases["cases"].sum()) == 10  # nine cases of August to October, GC-N1; GC-N2 taken away


@pytest.mark.unit
def test_incremental_refresh_equals_a_full_rebuild_on_sqlite(warehouse):
    _history_with_a_late_correction(warehouse)


@pytest.mark.integration
def test_incremental_refresh_equals_a_full_rebuild_on_postgresql(postgres_warehouse):
    _history_with_a_late_correction(postgres_warehouse)
