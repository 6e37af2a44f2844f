"""The ``evaluations`` state table is kept up to date: a refresh computes again only the evaluations a load can
have changed, and ends with exactly the rows a whole rebuild writes, whatever happened between: an evaluation
whose case arrives later, an added evaluation (追加评价) that takes over as the one that stands, a day pulled again
with a record gone and a quarantined record put right, a day staged by hand (no stamp: read once, then
stamped), a 差评 going past its
deadline as the days pass, a case updated. On SQLite (unit) and PostgreSQL (server tier).

The records are written as the 好差评 interface writes them (tests.test_evaluations.record: the research note's
field list), pulled into ``raw_feed_records`` and staged by the feeds' own staging of a day; the cases are staged
and resolved by the pipeline's own steps."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from core import clock
from core.feeds import feed
from core.warehouse import Warehouse, insert_frame
from pipelines.feeds.assets import stage_feed_day
from pipelines.resolve.assets import resolve_partition
from reporting.definitions import EvaluationDefinitions
from reporting.evaluations import refresh_evaluations
from schemas.warehouse import evaluations, raw_feed_records, staged_cases, staged_evaluations
from schemas.workdays import calendar
from staging.evaluations import stage_evaluations
from staging.normalise import stage_partition
from tests.conftest import rolled_back
from tests.test_evaluations import FEED, _stage_case, record
from tests.test_staging import MR, PLATFORM, _raw

DAY = dt.date(2026, 11, 16)
SETTINGS = EvaluationDefinitions()


def _pull(warehouse: Warehouse, day: dt.date, *records: dict) -> None:
    """The day's records as the feed's pull lands them, then the feeds' staging of the day (which stamps it)."""
    rows = pd.DataFrame(
        {
            "source_system": FEED,
            "partition_date": day,
            "record_key": [r.get("evaluateId") or f"page1#{i}" for i, r in enumerate(records)],
            "changed_at": [r.get("updateTime") for r in records],
            "payload": [json.dumps(r, ensure_ascii=False) for r in records],
            "batch_id": f"b-{day}",
            "fetched_at": dt.datetime(2026, 12, 1, 9),
        }
    )
    with warehouse.begin() as conn:
        conn.execute(
            raw_feed_records.delete().where(
                (raw_feed_records.c.source_system == FEED) & (raw_feed_records.c.partition_date == day)
            )
        )
        insert_frame(conn, raw_feed_records, rows)
    stage_feed_day(warehouse, feed(FEED), day, stage_evaluations, staged_evaluations)


def _by_hand(warehouse: Warehouse, day: dt.date, *records: dict) -> None:
    """Staged rows written directly (a repair, a test): no stamp of the day."""
    staged, _ = stage_evaluations(
        pd.DataFrame({"record_key": [r["evaluateId"] for r in records], "payload": [json.dumps(r) for r in records]}),
        feed(FEED),
        day,
    )
    with warehouse.begin() as conn:
        insert_frame(conn, staged_evaluations, staged.assign(partition_date=day))


def _refresh(warehouse: Warehouse, today: dt.date, conn: sa.Connection | None = None, full: bool = False):
    if conn is not None:
        return refresh_evaluations(conn, [FEED], calendar(), SETTINGS, today, full=full)
    with warehouse.begin() as own:
        return refresh_evaluations(own, [FEED], calendar(), SETTINGS, today, full=full)


def _rows(warehouse: Warehouse, conn: sa.Connection | None = None) -> pd.DataFrame:
    frame = warehouse.read(sa.select(evaluations), conn)
    return frame.sort_values(["source_system", "evaluation_id"], ignore_index=True).astype(str)


def _same_as_full(warehouse: Warehouse, today: dt.date) -> pd.DataFrame:
    """The table as kept, after asserting it equals a whole rebuild on the same day (rolled back)."""

    def rebuild(conn: sa.Connection) -> pd.DataFrame:
        assert _refresh(warehouse, today, conn, full=True).full
        return _rows(warehouse, conn)

    rebuilt = rolled_back(warehouse, rebuild)
    kept = _rows(warehouse)
    pd.testing.assert_frame_equal(kept, rebuilt)
    _monthly_same_in_sql(warehouse)
    return kept.set_index("evaluation_id")


def _monthly_same_in_sql(warehouse: Warehouse) -> None:
    """The monthly mart counted in SQL equals the rule run on the states and cases read whole, with 系统默认评价
    rated and not."""
    from reporting.evaluations import monthly_evaluations, monthly_evaluations_in_warehouse
    from schemas.warehouse import golden_cases

    g = golden_cases.c
    with warehouse.begin() as conn:
        states = warehouse.read(sa.select(evaluations), conn)
        states[["stands", "poor"]] = states[["stands", "poor"]].astype(bool)
        golden = warehouse.read(
            sa.select(g.golden_case_id, g.handling_dept, g.item_code, g.status, g.completed_at), conn
        )
        for settings in (
            SETTINGS,
            SETTINGS.model_copy(update={"count_default_ratings": not SETTINGS.count_default_ratings}),
        ):
            in_sql = monthly_evaluations_in_warehouse(conn, settings)
            whole = monthly_evaluations(states, golden, settings)
            pd.testing.assert_frame_equal(in_sql.astype(str), whole.astype(str))


def _resolve(warehouse: Warehouse, day: dt.date) -> None:
    with warehouse.begin() as conn:
        resolve_partition(conn, day)


def _history(warehouse: Warehouse) -> None:
    today = DAY + dt.timedelta(days=1)
    _stage_case(warehouse, DAY)  # MR[1]: accepted on the 16th
    _resolve(warehouse, DAY)
    _pull(
        warehouse,
        DAY,
        record("E1", MR[1], assessTime="2026-11-16 11:00:00"),
        record("E2", MR[2], assessTime="2026-11-16 11:30:00"),  # its case has not arrived
        record("E3", MR[1], satisfaction="1", assessTime="2026-11-16 12:00:00"),  # 差评: handling opens
        record("E-BAD", MR[1], satisfaction="9"),  # no such level: quarantined
        {"projectNo": MR[1], "satisfaction": "5", "pf": "4", "assessTime": "2026-11-16 12:30:00"},  # no id
    )
    assert _refresh(warehouse, today).full
    first = _same_as_full(warehouse, today)
    assert first.loc["E2", "status"] == "waiting" and first.loc["E-BAD", "status"] == "quarantined"
    assert first.loc["E3", "stands"] == "True" and first.loc["E3", "follow_up"] == "open"
    assert (first["status"] == "quarantined").sum() == 2

    nothing = _refresh(warehouse, today)  # nothing new: only those waiting and the open 差评 looked at again
    assert not nothing.full and nothing.cases_changed <= 3
    _same_as_full(warehouse, today)

    # the next day: E2's case arrives, and an added evaluation of MR[1] takes over as the one that stands
    day2 = DAY + dt.timedelta(days=1)
    _stage_case(warehouse, day2, SBLSH=MR[2], SQRMC="常州恒达贸易有限公司", SQRZJHM="91320412MA1W7R9Y2L")
    _resolve(warehouse, day2)
    _pull(warehouse, day2, record("E4", MR[1], assessNumber="2", assessTime="2026-11-17 09:00:00"))
    _refresh(warehouse, today)
    second = _same_as_full(warehouse, today)
    assert second.loc["E2", "status"] == "linked"
    assert second.loc["E4", "stands"] == "True" and second.loc["E3", "stands"] == "False"

    # the first day pulled again: E1's record is gone, the bad record is put right, the id-less one is gone
    _pull(
        warehouse,
        DAY,
        record("E2", MR[2], assessTime="2026-11-16 11:30:00"),
        record("E3", MR[1], satisfaction="1", assessTime="2026-11-16 12:00:00"),
        record("E-BAD", MR[1], satisfaction="3", assessTime="2026-11-16 12:40:00"),
    )
    again = _refresh(warehouse, today)
    assert not again.full
    third = _same_as_full(warehouse, today)
    assert "E1" not in third.index and third.loc["E-BAD", "status"] == "linked"
    assert (third["status"] == "quarantined").sum() == 0

    # a day staged by hand, with no stamp: looked at on every refresh, and counted
    _by_hand(warehouse, DAY + dt.timedelta(days=2), record("E5", MR[2], assessTime="2026-11-18 09:00:00"))
    handed = _refresh(warehouse, today)
    assert _same_as_full(warehouse, today).loc["E5", "stands"] == "True"
    # the refresh stamped that day: the next one does not read it again (a warehouse of an earlier release, whose
    # days have no stamps, is read whole once)
    assert _refresh(warehouse, today).cases_changed < handed.cases_changed

    # a month on, nothing pulled: E3's handling is past its deadlines
    later = DAY + dt.timedelta(days=40)
    _refresh(warehouse, later)
    assert _same_as_full(warehouse, later).loc["E3", "follow_up"] == "overdue"

    # MR[1] completed: its golden case changes, its evaluations are computed again and come out the same
    day4 = DAY + dt.timedelta(days=3)
    _stage_case(warehouse, day4, BLZT="05", BJSJ="2026-11-19 16:00:00", GXSJ="2026-11-19 16:00:00")
    _resolve(warehouse, day4)
    with clock.frozen(later):
        touched = _refresh(warehouse, later)
    assert touched.cases_changed == 3  # MR[1]'s evaluations (E3, E4, E-BAD; E3 the open 差评)
    _same_as_full(warehouse, later)

    # a third case and its evaluation; then the platform's record of a sister company's case carries the same
    # 办件编号: the number names two golden cases, and the evaluation waits for review (found by the new case's
    # numbers: no day of its records was staged again, nothing of its own waits or runs with the day)
    day5 = DAY + dt.timedelta(days=4)
    _stage_case(warehouse, day5, SBLSH=MR[3], SQRMC="常州武进明远机械有限公司", SQRZJHM="91320412MA1X2K3M4N")
    _resolve(warehouse, day5)
    _pull(warehouse, day5, record("E6", MR[3], assessTime="2026-11-20 10:00:00"))
    _refresh(warehouse, later)
    assert _same_as_full(warehouse, later).loc["E6", "status"] == "linked"
    day6 = DAY + dt.timedelta(days=5)
    sister = dict(PLATFORM, caseNo=MR[3], applicantName="常州明远贸易有限公司", certNo="91320412MA1W7R9Y2L")
    staged, quarantined = stage_partition(_raw(("approval_platform", sister)))
    assert quarantined.empty
    with warehouse.begin() as conn:
        insert_frame(conn, staged_cases, staged.assign(partition_date=day6))
    _resolve(warehouse, day6)
    _refresh(warehouse, later)
    fifth = _same_as_full(warehouse, later)
    assert fifth.loc["E6", "status"] == "waiting" and "names 2 cases" in fifth.loc["E6", "note"]


@pytest.mark.unit
def test_kept_evaluations_equal_a_whole_rebuild_on_sqlite(warehouse):
    _history(warehouse)


@pytest.mark.integration
def test_kept_evaluations_equal_a_whole_rebuild_on_postgresql(postgres_warehouse):
    _history(postgres_warehouse)


def _monthly_by_hand(warehouse: Warehouse) -> None:
    """States written by hand where the pulled ones cannot reach: a 系统默认评价 (a province's channel code), 差评 open,
    overdue and closed, one waiting, one quarantined, evaluations of a case with no department, completed cases
    nobody evaluated."""
    from schemas.warehouse import golden_cases
    from tests.test_reuse_refresh import _case

    cases = []
    for i, (month, dept) in enumerate([("2026-10", "market_regulation"), ("2026-10", None), ("2026-11", "health")]):
        row = _case(f"GC{i}", "H1", f"{month}-02T09:00:00")
        row.update(status="办结", completed_at=dt.datetime.fromisoformat(f"{month}-05T10:00:00"), handling_dept=dept)
        cases.append(row)
    cases.append(dict(_case("GC9", "H1", "2026-10-02T09:00:00"), status="办结", completed_at=dt.datetime(2026, 10, 9)))
    base = {"source_system": FEED, "first_partition": DAY, "partition_date": DAY, "records": 1, "note": None}
    rows = [
        dict(evaluation_id="A", status="linked", golden_case_id="GC0", level="very_satisfied", channel="default",
             stands=True, poor=False, evaluated_at=dt.datetime(2026, 10, 6, 9)),
        dict(evaluation_id="B", status="linked", golden_case_id="GC1", level="dissatisfied", channel="web",
             stands=True, poor=True, follow_up="overdue", evaluated_at=dt.datetime(2026, 10, 7, 9)),
        dict(evaluation_id="C", status="linked", golden_case_id="GC1", level="satisfied", channel="web",
             stands=False, poor=False, evaluated_at=dt.datetime(2026, 10, 6, 9)),
        dict(evaluation_id="D", status="linked", golden_case_id="GC2", level="very_dissatisfied", channel="app",
             stands=True, poor=True, follow_up="open", evaluated_at=dt.datetime(2026, 11, 6, 9)),
        dict(evaluation_id="E", status="waiting", golden_case_id=None, level="basic", channel="sms",
             stands=False, poor=False, evaluated_at=dt.datetime(2026, 11, 7, 9), note="no case"),
        dict(evaluation_id="F", status="quarantined", golden_case_id=None, level=None, channel=None,
             stands=False, poor=False, evaluated_at=None, note="unknown_level"),
        dict(evaluation_id="G", status="linked", golden_case_id="GC2", level="dissatisfied", channel="app",
             stands=False, poor=True, follow_up="closed", evaluated_at=dt.datetime(2026, 11, 5, 9)),
    ]  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, golden_cases, pd.DataFrame(cases))
        insert_frame(conn, evaluations, pd.DataFrame([{**base, **row} for row in rows]))
    _monthly_same_in_sql(warehouse)


@pytest.mark.unit
def test_the_monthly_mart_in_sql_counts_what_the_rule_counts_on_sqlite(warehouse):
    _monthly_by_hand(warehouse)


@pytest.mark.integration
def test_the_monthly_mart_in_sql_counts_what_the_rule_counts_on_postgresql(postgres_warehouse):
    _monthly_by_hand(postgres_warehouse)
