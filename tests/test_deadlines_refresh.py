"""``mart_case_deadlines`` is kept per case: a refresh computes again only the cases that are new, changed (content,
record count, or their 特别程序 pauses), gone, or still running (their working days run on with the day), and ends
with exactly the rows a full rebuild writes on the same day: through a day with nothing new, the next day (a running
case's clock moves on, a status update completes a case), a pause found on a re-run with the record count
unchanged, a case a re-run took away, and a full rebuild on demand. On SQLite (unit) and PostgreSQL (server tier).

The cases are written here by hand, as ``case_resolution`` writes them; the expected rows are those of a full
rebuild (``case_deadlines`` over every case, whose rules ``tests/test_pauses.py`` and ``tests/test_marts.py`` hold
against hand-counted working days)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, insert_frame
from reporting.deadlines import refresh_case_deadlines
from schemas.warehouse import case_links, golden_cases, mart_case_deadlines, staged_pauses
from schemas.workdays import calendar
from tests.conftest import rolled_back

NOW = dt.datetime(2026, 11, 20, 9)
MONDAY, TUESDAY = dt.date(2026, 11, 23), dt.date(2026, 11, 24)


def _case(case_id: str, accepted: str | None, completed: str | None = None, *, records: int = 1) -> dict:
    status = "办结" if completed else ("审查" if accepted else "收件")
    content = f"{case_id}|{accepted}|{completed}|{status}"
    return {"golden_case_id": case_id, "case_no": f"NO-{case_id}", "source_system": "market_regulation",
            "source_record_id": case_id, "item_code": "000102001000", "item_name": "企业设立登记",
            "submitted_at": dt.datetime(2026, 10, 12, 9),
            "accepted_at": dt.datetime.fromisoformat(accepted) if accepted else None,
            "completed_at": dt.datetime.fromisoformat(completed) if completed else None, "status": status,
            "handling_dept": "market_regulation", "promised_days": 10, "statutory_days": 20,
            "record_count": records, "version": 1, "content_hash": hashlib.sha256(content.encode()).hexdigest(),
            "first_partition": dt.date(2026, 10, 12), "updated_partition": dt.date(2026, 10, 12),
            "updated_at": NOW}  # fmt: skip


def _load(warehouse: Warehouse, cases: list[dict], removed: tuple[str, ...] = ()) -> None:
    """As case_resolution writes a day: the touched golden cases deleted and written anew, in one transaction."""
    ids = [c["golden_case_id"] for c in cases] + list(removed)
    with warehouse.begin() as conn:
        conn.execute(golden_cases.delete().where(golden_cases.c.golden_case_id.in_(ids)))
        insert_frame(conn, golden_cases, pd.DataFrame(cases))


def _pause(warehouse: Warehouse, case_id: str, started: str, ended: str | None) -> None:
    """A 补正 of the case's record, staged on the record's day and linked to the case."""
    key = {"source_system": "market_regulation", "partition_date": dt.date(2026, 10, 12), "record_key": case_id}
    with warehouse.begin() as conn:
        seq = conn.execute(sa.select(sa.func.count()).select_from(staged_pauses)).scalar_one()
        conn.execute(
            staged_pauses.insert(),
            [{**key, "seq": seq, "kind": "补正", "started_at": dt.datetime.fromisoformat(started),
              "ended_at": dt.datetime.fromisoformat(ended) if ended else None, "problem": None}],
        )  # fmt: skip
        linked = sa.select(sa.func.count()).where(case_links.c.record_key == case_id)
        if not conn.execute(linked.select_from(case_links)).scalar_one():
            conn.execute(
                case_links.insert(),
                [{**key, "golden_case_id": case_id, "role": "golden", "match_rule": "new", "linked_at": NOW}],
            )


def _refresh(warehouse: Warehouse, today: dt.date, conn: sa.Connection | None = None, full: bool = False):
    if conn is not None:
        return refresh_case_deadlines(conn, calendar(), today, full=full)[0]
    with warehouse.begin() as own:
        return refresh_case_deadlines(own, calendar(), today, full=full)[0]


def _rows(warehouse: Warehouse, conn: sa.Connection | None = None) -> pd.DataFrame:
    frame = warehouse.read(sa.select(mart_case_deadlines), conn)
    return frame.sort_values("golden_case_id", ignore_index=True).astype(str)


def _full_rebuild_of(warehouse: Warehouse, today: dt.date) -> pd.DataFrame:
    """What a full rebuild writes from the same cases on ``today``, in a transaction rolled back afterwards."""

    def rebuild(conn: sa.Connection) -> pd.DataFrame:
        assert _refresh(warehouse, today, conn, full=True).full
        return _rows(warehouse, conn)

    return rolled_back(warehouse, rebuild)


def _same_as_full(warehouse: Warehouse, today: dt.date) -> pd.DataFrame:
    rows = _rows(warehouse)
    pd.testing.assert_frame_equal(rows, _full_rebuild_of(warehouse, today))
    return rows.set_index("golden_case_id")


def _history(warehouse: Warehouse) -> None:
    # A done, B and F running, C not accepted, D done with a 补正 of three working days (Wednesday to Monday)
    _load(
        warehouse,
        [
            _case("A", "2026-10-13T10:00:00", "2026-10-20T15:00:00"),
            _case("B", "2026-11-02T10:00:00"),
            _case("C", None),
            _case("D", "2026-10-13T10:00:00", "2026-10-30T15:00:00"),
            _case("F", "2026-11-09T10:00:00"),
        ],
    )
    _pause(warehouse, "D", "2026-10-14T09:00:00", "2026-10-19T09:00:00")
    first = _refresh(warehouse, MONDAY)
    assert first.full and first.rows_written == 5
    monday = _same_as_full(warehouse, MONDAY)
    assert float(monday.loc["D", "paused_working_days"]) == 3  # 15, 16 and 19 October

    # nothing new, the same day: only the running cases are computed again, and nothing changes
    again = _refresh(warehouse, MONDAY)
    assert not again.full and again.cases_changed == 2 and again.rows_written == 2
    assert again.describe() == "2 case(s) recomputed"
    pd.testing.assert_frame_equal(_same_as_full(warehouse, MONDAY), monday)

    # the next day: F's clock moves on a working day; a status update completes B; a new running case E
    _load(
        warehouse, [_case("B", "2026-11-02T10:00:00", "2026-11-23T16:00:00", records=2), _case("E", MONDAY.isoformat())]
    )
    tuesday = _refresh(warehouse, TUESDAY)
    assert tuesday.cases_changed == 3  # B (changed), E (new), F (running)
    rows = _same_as_full(warehouse, TUESDAY)
    assert float(rows.loc["F", "working_days_gross"]) == float(monday.loc["F", "working_days_gross"]) + 1
    assert rows.loc["B", "completed_on"] == "2026-11-23"

    # a re-run finds a pause of A's record: A's content and record count are the same, its pauses are not
    _pause(warehouse, "A", "2026-10-15T09:00:00", "2026-10-16T09:00:00")
    assert _refresh(warehouse, TUESDAY).cases_changed == 3  # A, and the running E and F
    rows = _same_as_full(warehouse, TUESDAY)
    assert float(rows.loc["A", "paused_working_days"]) == 1

    # a case a re-run took away is gone from the mart
    _load(warehouse, [], removed=("C",))
    assert _refresh(warehouse, TUESDAY).cases_changed == 3  # C (gone), E, F
    rows = _same_as_full(warehouse, TUESDAY)
    assert sorted(rows.index) == ["A", "B", "D", "E", "F"]

    # asked for a full rebuild: everything, the same rows
    assert _refresh(warehouse, TUESDAY, full=True).describe() == "full rebuild"
    pd.testing.assert_frame_equal(_same_as_full(warehouse, TUESDAY), rows)
    assert not _refresh(warehouse, TUESDAY).full  # the marks were written again


@pytest.mark.unit
def test_per_case_refresh_equals_a_full_rebuild_on_sqlite(warehouse):
    _history(warehouse)


@pytest.mark.unit
def test_a_change_of_rules_rebuilds_whole(warehouse, monkeypatch):
    _load(warehouse, [_case("A", "2026-10-13T10:00:00", "2026-10-20T15:00:00"), _case("B", "2026-11-02T10:00:00")])
    assert _refresh(warehouse, MONDAY).full
    assert not _refresh(warehouse, MONDAY).full
    monkeypatch.setattr("reporting.deadlines.deadlines_key", lambda cal: "mart_case_deadlines:new-rules")
    assert _refresh(warehouse, MONDAY).full
    with warehouse.engine.connect() as conn:
        marks = conn.exec_driver_sql("SELECT DISTINCT mart FROM refresh_marks").scalars().all()
    assert marks == ["mart_case_deadlines:new-rules"]  # the old rules' marks are gone


@pytest.mark.integration
def test_per_case_refresh_equals_a_full_rebuild_on_postgresql(postgres_warehouse):
    _history(postgres_warehouse)


@pytest.mark.unit
def test_a_returned_case_stops_its_clock_and_is_not_recomputed(warehouse):
    """退件: a case returned after acceptance ended uncompleted. Its clock stops on the day it was returned (its
    completion time as the source gave it, else its decision time); it is neither running nor overdue, and a
    refresh does not compute it again each day (issue 23: returned cases were counted as running for good)."""
    returned = {**_case("R", "2026-11-02T10:00:00"), "status": "退件", "completed_at": dt.datetime(2026, 11, 5, 16)}
    decided = {**_case("S", "2026-11-02T10:00:00"), "status": "退件", "decided_at": dt.datetime(2026, 11, 4, 11)}
    open_ended = {**_case("T", "2026-11-02T10:00:00"), "status": "退件"}  # no time at all: runs on, as open
    _load(warehouse, [returned, decided, open_ended, _case("B", "2026-11-02T10:00:00")])
    assert _refresh(warehouse, MONDAY).full
    rows = _same_as_full(warehouse, MONDAY)
    # 3, 4 and 5 November: working days after the day of acceptance, to the day it was returned
    assert (rows.loc["R", "ended_on"], rows.loc["R", "working_days_gross"]) == ("2026-11-05", "3")
    assert (rows.loc["S", "ended_on"], rows.loc["S", "working_days_gross"]) == ("2026-11-04", "2")
    assert rows.loc[["R", "S"], "promise_result"].tolist() == ["returned", "returned"]
    assert not set(rows.loc[["R", "S"], "within_target"].astype(str)) & {"True", "False"}  # no 2345 verdict
    # B, accepted the same day and still open, is past its 10-working-day promise on 23 November
    assert rows.loc["B", "promise_result"] == "overdue" and rows.loc["T", "promise_result"] == "overdue"
    again = _refresh(warehouse, TUESDAY)
    assert again.cases_changed == 2  # B and T run on; R and S ended
    rows = _same_as_full(warehouse, TUESDAY)
    assert rows.loc["R", "working_days_gross"] == "3"
