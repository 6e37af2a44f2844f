"""特别程序 (pauses): staged from the market regulator's records, and left out of the deadline arithmetic.

The dates are counted by hand on the 2026 calendar (schemas/calendar/2026.csv: no holiday between 12 October and
23 November; National Day ended on the 7th, and the 10th was a make-up Saturday). Accepted Monday 12 October, a
case's 25th working day after acceptance is Monday 16 November; a 补正 from Thursday 15 October to Thursday 29
October holds the ten working days 16, 19-23 and 26-29 October.
"""

import datetime as dt

import pandas as pd
import pytest

from reporting.deadlines import case_deadlines
from schemas.workdays import calendar
from staging.normalise import stage_partition
from staging.pauses import FLAG, flag_records, stage_pauses
from tests.test_staging import GOOD_MARKET, MR, _raw

pytestmark = pytest.mark.unit

ACCEPTED = "2026-10-12 10:00:00"
DONE_25 = "2026-11-16 15:00:00"  # the 25th working day after acceptance


def golden(case_id: str, completed: str | None = DONE_25, item: str = "000102001000") -> dict:
    return {
        "golden_case_id": case_id,
        "case_no": case_id,
        "source_system": "market_regulation",
        "item_code": item,
        "item_name": "企业设立登记",
        "handling_dept": "market_regulation",
        "submitted_at": pd.Timestamp("2026-10-12 09:00"),
        "accepted_at": pd.Timestamp(ACCEPTED),
        "completed_at": pd.Timestamp(completed) if completed else pd.NaT,
        "status": "办结" if completed else "审查",
        "promised_days": 20,
        "statutory_days": 20,
    }


def pause(case_id: str, start: str, end: str | None) -> dict:
    return {
        "golden_case_id": case_id,
        "started_at": pd.Timestamp(start),
        "ended_at": pd.Timestamp(end) if end else pd.NaT,
    }


def deadlines(cases: list[dict], pauses: list[dict], today: dt.date = dt.date(2026, 11, 30)) -> pd.DataFrame:
    frame = pd.DataFrame(pauses, columns=["golden_case_id", "started_at", "ended_at"])
    return case_deadlines(pd.DataFrame(cases), calendar(), today, frame).set_index("golden_case_id")


def test_a_ten_day_correction_is_left_out_and_the_case_is_on_time():
    marts = deadlines(
        [golden("PAUSED"), golden("PLAIN")],
        [pause("PAUSED", "2026-10-15 14:00", "2026-10-29 09:30")],
    )
    paused, plain = marts.loc["PAUSED"], marts.loc["PLAIN"]
    assert (paused["working_days_gross"], paused["paused_working_days"], paused["working_days_net"]) == (25, 10, 15)
    assert paused["promise_result"] == "on_time" and paused["statutory_result"] == "on_time"
    assert paused["promised_deadline"] == dt.date(2026, 11, 23)  # 20 + 10 working days
    assert (plain["working_days_gross"], plain["working_days_net"]) == (25, 25)
    assert plain["promise_result"] == "late" and plain["promised_deadline"] == dt.date(2026, 11, 9)


def test_overlapping_pauses_count_once_and_are_cut_to_the_case():
    marts = deadlines(
        [golden("A"), golden("RUNNING", completed=None)],
        [
            pause("A", "2026-10-15", "2026-10-29"),
            pause("A", "2026-10-20", "2026-10-22"),  # 专家评审 inside the 补正: no day twice
            pause("A", "2026-10-01", "2026-10-14"),  # began before acceptance: from acceptance (13, 14 Oct)
            pause("A", "2026-11-12", None),  # never closed: to completion (13 and 16 Nov)
            pause("RUNNING", "2026-11-25", None),  # running: to today (26, 27 and 30 Nov)
        ],
    )
    assert marts.loc["A", "paused_working_days"] == 10 + 2 + 2
    assert marts.loc["A", "working_days_net"] == 25 - 14
    assert marts.loc["RUNNING", "paused_working_days"] == 3
    assert marts.loc["RUNNING", "working_days_gross"] == 35  # 12 Oct to 30 Nov
    assert marts.loc["RUNNING", "working_days_net"] == 32


def test_no_pauses_changes_nothing():
    with_none = case_deadlines(pd.DataFrame([golden("X")]), calendar(), dt.date(2026, 11, 30))
    assert with_none.loc[0, "working_days_gross"] == with_none.loc[0, "working_days_net"] == 25
    assert with_none.loc[0, "paused_working_days"] == 0


def test_pauses_are_staged_and_an_unreadable_one_flags_its_record():
    listed = {
        **GOOD_MARKET,
        "TBCX": [
            {"TBCXZL": "01", "KSSJ": "2026-11-17 09:00:00", "JSSJ": "2026-11-20 16:00:00"},  # 补正
            {"TBCXZL": "06", "KSSJ": "2026/11/23", "JSSJ": ""},  # 专家评审, still running
            {"TBCXZL": "99", "KSSJ": "2026-11-24 09:00:00", "JSSJ": "2026-11-25 09:00:00"},  # a code nobody mapped
            {"TBCXZL": "02", "KSSJ": "2026-11-26 09:00:00", "JSSJ": "2026-11-25 09:00:00"},  # ends before it starts
        ],
    }
    clean = {**GOOD_MARKET, "SBLSH": MR[2], "_key": "k-clean", "TBCX": []}
    odd = {**GOOD_MARKET, "SBLSH": MR[3], "_key": "k-odd", "TBCX": "补正"}  # not a list
    bad = {**GOOD_MARKET, "SBLSH": MR[4], "_key": "k-bad", "SQRMC": "", "TBCX": listed["TBCX"]}  # quarantined
    raw = _raw(("market_regulation", {**listed, "_key": "k-listed"}), ("market_regulation", clean),
               ("market_regulation", odd), ("market_regulation", bad))  # fmt: skip
    staged, quarantined = stage_partition(raw)
    assert quarantined["record_key"].tolist() == ["k-bad"]
    pauses = stage_pauses(raw, staged).set_index(["record_key", "seq"])
    assert set(pauses.index.get_level_values(0)) == {"k-listed", "k-odd"}  # the quarantined record's go with it
    listed_rows = pauses.loc["k-listed"]
    assert listed_rows["kind"].tolist()[:2] == ["补正", "专家评审"]
    assert listed_rows["started_at"].iloc[1] == pd.Timestamp("2026-11-23") and pd.isna(listed_rows["ended_at"].iloc[1])
    assert listed_rows["problem"].fillna("").tolist() == ["", "", "unknown_pause_kind", "pause_ends_before_it_starts"]
    assert pauses.loc[("k-odd", 0), "problem"] == "pauses_not_a_list"
    flags = flag_records(staged, pauses.reset_index()).set_axis(staged["record_key"])
    assert FLAG in flags["k-listed"] and FLAG in flags["k-odd"]
    assert pd.isna(flags["k-clean"]) or FLAG not in flags["k-clean"]


def test_a_mart_whose_columns_changed_is_created_anew(tmp_path):
    """A warehouse built before this version has mart_case_deadlines with working_days_taken: the mart is
    derived, so the deadlines mart drops and recreates it rather than failing on the missing columns."""
    import sqlalchemy as sa

    from core.warehouse import Warehouse, rebuilt_if_changed
    from schemas.warehouse import mart_case_deadlines

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = sa.create_engine(url)
    with old.begin() as conn:
        conn.execute(sa.text("CREATE TABLE mart_case_deadlines (golden_case_id TEXT, working_days_taken INTEGER)"))
    old.dispose()
    warehouse = Warehouse(url=url)
    with warehouse.begin() as conn:
        assert rebuilt_if_changed(conn, mart_case_deadlines)
        assert not rebuilt_if_changed(conn, mart_case_deadlines)  # now as defined: left alone
        columns = {c["name"] for c in sa.inspect(conn).get_columns("mart_case_deadlines")}
    warehouse.dispose()
    assert {"working_days_gross", "paused_working_days", "working_days_net"} <= columns
    assert "working_days_taken" not in columns


def test_a_golden_case_carries_its_pauses_once_each_with_the_latest_end():
    import json

    from resolution.golden import pauses_of

    ids = pd.Series(["GC1", "GC2"], index=[7, 8])
    seen = pd.DataFrame(
        [
            # the department's record pulled on the day the 补正 began (still open), and again once it ended
            {"golden_case_id": "GC1", "kind": "补正", "started_at": "2026-10-15 14:00", "ended_at": None},
            {"golden_case_id": "GC1", "kind": "补正", "started_at": "2026-10-15 14:00", "ended_at": "2026-10-29 09:30"},
            {"golden_case_id": "GC1", "kind": "专家评审", "started_at": "2026-10-20 09:00", "ended_at": None},
        ]
    )
    found = pauses_of(ids, seen)
    assert json.loads(found[7]) == [
        {"kind": "补正", "start": "2026-10-15T14:00:00", "end": "2026-10-29T09:30:00"},
        {"kind": "专家评审", "start": "2026-10-20T09:00:00", "end": None},
    ]
    assert pd.isna(found[8])
