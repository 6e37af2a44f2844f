"""The warehouse keeps the planner's statistics on PostgreSQL: after a transaction that changed a table by more
than autovacuum's threshold, the table is analysed (the test server runs with autovacuum off, as a server may)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import insert_frame
from schemas.warehouse import refresh_marks


def _marks(rows: int, mart: str = "m") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mart": mart,
            "golden_case_id": [f"GC{i:014d}" for i in range(rows)],
            "content_hash": "h",
            "record_count": 1,
        }
    )


def _measured(warehouse, table: str) -> tuple[float, int]:
    """What the planner believes of ``table`` (pg_class.reltuples: -1 never measured) and how often it was
    analysed by hand."""
    with warehouse.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT c.reltuples, s.analyze_count FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE s.relname = :t AND s.schemaname = current_schema()"
            ),
            {"t": table},
        ).one()


def _write(warehouse, frame: pd.DataFrame) -> None:
    with warehouse.begin() as conn:
        insert_frame(conn, refresh_marks, frame)
        # the server reports a transaction's row counts when it goes idle, at most once a second: flushed now
        conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")


@pytest.mark.integration
def test_a_table_changed_past_the_threshold_is_analysed(postgres_warehouse):
    assert _measured(postgres_warehouse, "refresh_marks") == (-1, 0)  # created, never measured
    _write(postgres_warehouse, _marks(2_000))
    tuples, analysed = _measured(postgres_warehouse, "refresh_marks")
    assert (tuples, analysed) == (2_000, 1)
    assert _measured(postgres_warehouse, "golden_cases") == (-1, 0)  # untouched: left alone


@pytest.mark.integration
def test_a_small_change_or_none_analyses_nothing(postgres_warehouse):
    _write(postgres_warehouse, _marks(2_000))
    assert postgres_warehouse.keep_statistics() == []  # nothing new since
    _write(postgres_warehouse, _marks(100, mart="n"))  # 100 rows: under 50 + a tenth of 2,000
    assert _measured(postgres_warehouse, "refresh_marks") == (2_000, 1)
    _write(postgres_warehouse, _marks(300, mart="o"))  # 400 changed in all: over 250
    assert _measured(postgres_warehouse, "refresh_marks") == (2_400, 2)


@pytest.mark.integration
def test_a_table_locked_elsewhere_is_skipped_with_a_warning(postgres_warehouse, caplog):
    with postgres_warehouse.engine.connect() as other, other.begin():
        other.exec_driver_sql("LOCK TABLE refresh_marks IN SHARE UPDATE EXCLUSIVE MODE")  # as an ANALYZE takes it
        with caplog.at_level(logging.WARNING, logger="core.warehouse"):
            _write(postgres_warehouse, _marks(1_000))  # written; its ANALYZE waits 2 s for the lock, then gives up
    assert "statistics of public.refresh_marks not refreshed" in caplog.text and "lock timeout" in caplog.text
    assert _measured(postgres_warehouse, "refresh_marks") == (-1, 0)
    assert postgres_warehouse.keep_statistics() == ["public.refresh_marks"]  # free again: analysed now


@pytest.mark.unit
def test_nothing_to_keep_on_sqlite(warehouse):
    with warehouse.begin() as conn:
        insert_frame(conn, refresh_marks, _marks(500))
    assert warehouse.keep_statistics() == []


@pytest.mark.integration
def test_a_failed_look_at_the_statistics_leaves_the_committed_work_alone(postgres_warehouse, monkeypatch, caplog):
    monkeypatch.setattr("core.warehouse.STALE_STATISTICS", sa.text("SELECT relname FROM no_such_view"))
    with caplog.at_level(logging.WARNING, logger="core.warehouse"):
        _write(postgres_warehouse, _marks(1_000))  # no exception: the rows are in
    assert "statistics not looked at" in caplog.text and "no_such_view" in caplog.text
    with postgres_warehouse.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(refresh_marks)).scalar() == 1_000
