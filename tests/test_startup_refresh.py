"""The 企业开办 chains are kept per enterprise: after a load only the enterprises whose cases changed (as they are
now and as the chains held them) and those whose chain still runs with the day are built again, and the tables end
with exactly the rows a whole build writes on the same day: a chain completed by a later step, days passing (a
running chain falls overdue, a window closes), a sister company's case corrected to the enterprise's USCC, a case a
re-run took away, a registration that named a person and is corrected to its USCC. On SQLite (unit) and PostgreSQL
(server tier). The cases are tests.test_startup's hand-made ones, written as golden cases."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, insert_frame
from reporting.deadlines import refresh_case_deadlines
from reporting.definitions import definitions
from reporting.refresh import CaseChanges
from reporting.startup import refresh_startup
from schemas.warehouse import golden_cases, mart_startup_chains, mart_startup_steps
from schemas.workdays import calendar
from tests.conftest import rolled_back
from tests.test_startup import INVOICE, REG, SEAL, SOCIAL, TODAY, U, _case, _golden

NOW = dt.datetime(2026, 12, 1, 9)


def _write(warehouse: Warehouse, frame: pd.DataFrame, removed: tuple[str, ...] = ()) -> None:
    """Golden cases as resolution writes them (a content hash of what they say)."""
    rows = frame.assign(
        source_system="market_regulation",
        source_record_id=frame["golden_case_id"],
        record_count=1,
        version=1,
        content_hash=[hashlib.sha256(repr(r).encode()).hexdigest() for r in frame.astype(str).to_dict("records")],
        first_partition=dt.date(2026, 9, 30),
        updated_partition=dt.date(2026, 9, 30),
        updated_at=NOW,
    )
    ids = [*rows["golden_case_id"], *removed]
    with warehouse.begin() as conn:
        conn.execute(golden_cases.delete().where(golden_cases.c.golden_case_id.in_(ids)))
        insert_frame(conn, golden_cases, rows)


def _refresh(conn: sa.Connection, today: dt.date, full: bool = False) -> int:
    _, pauses, changes = refresh_case_deadlines(conn, calendar(), today, full=full)
    return refresh_startup(conn, calendar(), today, definitions().startup, pauses, changes, full=full)


def _rows(warehouse: Warehouse, conn: sa.Connection) -> dict[str, pd.DataFrame]:
    out = {}
    for table in (mart_startup_chains, mart_startup_steps):
        key = [c.name for c in table.primary_key.columns]
        out[table.name] = warehouse.read(sa.select(table), conn).sort_values(key, ignore_index=True).astype(str)
    return out


def _step(warehouse: Warehouse, today: dt.date) -> pd.DataFrame:
    """Refresh, then assert the tables equal a whole build on the same day (rolled back); the chains as kept."""
    with warehouse.begin() as conn:
        built = _refresh(conn, today)

    def rebuild(conn: sa.Connection) -> dict[str, pd.DataFrame]:
        _, pauses, _ = refresh_case_deadlines(conn, calendar(), today)
        refresh_startup(conn, calendar(), today, definitions().startup, pauses, CaseChanges(True, (), ()))
        return _rows(warehouse, conn)

    rebuilt = rolled_back(warehouse, rebuild)
    with warehouse.engine.connect() as conn:
        kept = _rows(warehouse, conn)
    for name, frame in kept.items():
        pd.testing.assert_frame_equal(frame, rebuilt[name], obj=name)
    assert built <= len(kept["mart_startup_chains"])
    return kept["mart_startup_chains"].set_index("chain_id")


def _history(warehouse: Warehouse) -> None:
    golden = _golden()
    _write(warehouse, golden[~golden["golden_case_id"].isin(["E3"])])
    first = _step(warehouse, TODAY)
    assert first.loc["E", "result"] == "running" and first.loc["D", "result"] == "stalled"
    assert first.loc["F", "result"] == "no_uscc"

    with warehouse.begin() as conn:  # nothing new: only the chains still running (E, D, F) built again
        assert _refresh(conn, TODAY) == 3

    # E's invoice and enrolment arrive: its chain completes; a new enterprise registers
    _write(
        warehouse,
        pd.DataFrame(
            [
                _case("E2", INVOICE, U[5], "2026-11-30 09:00", "2026-11-30 10:00"),
                _case("E3", SOCIAL, U[5], "2026-11-27 14:00", "2026-11-27 16:00"),
                _case("K", REG, U[8], "2026-11-30 09:00", None, status="受理"),
            ]
        ),
    )
    second = _step(warehouse, TODAY)
    assert second.loc["E", "result"] in ("on_time", "late") and second.loc["K", "result"] == "running"

    # a fortnight on: K falls overdue
    later = TODAY + dt.timedelta(days=14)
    assert _step(warehouse, later).loc["K", "result"] == "overdue"

    # the sister company's seal was the enterprise's own (its USCC corrected): B's chain counts it; A's second
    # invoice batch is taken away by a re-run
    b = golden[golden["golden_case_id"] == "B"].iloc[0]
    seal = _case("S1", SEAL, b["applicant_id"], "2026-11-23 14:00", "2026-11-23 15:00", name="常州B机械有限公司")
    _write(warehouse, pd.DataFrame([seal]), removed=("A4",))
    third = _step(warehouse, later)
    assert third.loc["B", "cases"] == "5" and third.loc["A", "cases"] == "4"

    # the registration that named its investor is corrected to the company's USCC, and its steps follow
    _write(
        warehouse,
        pd.DataFrame(
            [
                _case("F", REG, U[4].replace("MA", "MB"), "2026-10-14 09:00", "2026-10-15 09:00"),
                _case("F1", SEAL, U[4].replace("MA", "MB"), "2026-10-15 14:00", "2026-10-15 15:00"),
            ]
        ),
    )
    fourth = _step(warehouse, later)
    assert fourth.loc["F", "result"] != "no_uscc" and fourth.loc["F", "cases"] == "2"


@pytest.mark.unit
def test_kept_chains_equal_a_whole_build_on_sqlite(warehouse):
    _history(warehouse)


@pytest.mark.integration
def test_kept_chains_equal_a_whole_build_on_postgresql(postgres_warehouse):
    _history(postgres_warehouse)
