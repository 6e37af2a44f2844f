"""The deadline and 2345 marts on hand-made golden cases."""

import datetime as dt

import pandas as pd
import pytest

from reporting.deadlines import calendar_rows, case_deadlines, monthly_2345
from schemas.workdays import calendar
from tests.conftest import calendar_through

pytestmark = pytest.mark.unit

STARTUP, PERMIT = "000102001000", "000105001000"  # 企业设立登记 (2345: startup), 食品经营许可


def _golden(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=[
            "golden_case_id",
            "item_code",
            "accepted_at",
            "completed_at",
            "status",
            "promised_days",
            "source_system",
        ],
    )
    return frame.assign(
        case_no=frame["golden_case_id"],
        submitted_at=pd.to_datetime(frame["accepted_at"]),
        handling_dept="market_regulation",
        item_name="",
        statutory_days=20,
        accepted_at=pd.to_datetime(frame["accepted_at"]),
        completed_at=pd.to_datetime(frame["completed_at"]),
    )


def test_deadlines_results_and_the_2345_share():
    golden = _golden(
        [
            ("A", PERMIT, "2026-09-28 10:00", "2026-10-30 16:00", "办结", 20, "market_regulation"),  # on the day
            ("B", PERMIT, "2026-09-28 10:00", "2026-11-02 09:00", "办结", 20, "market_regulation"),  # one day late
            ("C", PERMIT, "2026-11-02 10:00", None, "审查", 10, "market_regulation"),  # deadline 16 Nov passed
            ("D", PERMIT, "2026-11-26 10:00", None, "审查", 10, "approval_platform"),  # still in time
            ("E", PERMIT, None, None, "不予受理", 10, "market_regulation"),
            ("F", STARTUP, "2026-11-20 10:00", "2026-11-24 15:00", "办结", 2, "market_regulation"),  # Fri → Tue: 2
            ("G", STARTUP, "2026-11-20 10:00", "2026-11-25 15:00", "办结", 2, "market_regulation"),  # 3 days
            ("H", STARTUP, "2026-11-23 10:00", "2026-11-23 17:00", "办结", 2, "market_regulation"),  # same day: 0
        ]
    )
    marts = case_deadlines(golden, calendar(), today=dt.date(2026, 11, 28)).set_index("golden_case_id")
    assert marts.loc["A", "promised_deadline"] == dt.date(2026, 10, 30)
    assert marts["promise_result"].to_dict() == {
        "A": "on_time", "B": "late", "C": "overdue", "D": "running", "E": "not_accepted",
        "F": "on_time", "G": "late", "H": "on_time",
    }  # fmt: skip
    assert marts.loc["D", "channel"] == "one_stop_window" and marts.loc["A", "channel"] == "department_system"
    assert marts.loc[["F", "G", "H"], "working_days_net"].tolist() == [2, 3, 0]
    assert marts.loc[["F", "G", "H"], "within_target"].tolist() == [True, False, True]
    assert marts.loc["A", "within_target"] is pd.NA  # 食品经营许可 counts toward no 2345 target
    assert not marts["deadline_provisional"].any()

    # startup is counted on start-up chains (tests/test_startup.py): the registration cases alone give no row
    assert "startup" not in set(monthly_2345(marts.reset_index())["target"])


def test_calendar_table_marks_holidays_make_up_days_and_unpublished_years(tmp_path):
    until_2026 = calendar_through(2026, tmp_path)  # as shipped before 2027's file is published
    rows = calendar_rows(until_2026, dt.date(2026, 10, 1), dt.date(2027, 1, 4)).set_index("day")
    assert (
        rows.loc[dt.date(2026, 10, 1), "kind"] == "holiday"
        and rows.loc[dt.date(2026, 10, 1), "holiday_name"] == "国庆节"
    )
    assert (
        rows.loc[dt.date(2026, 10, 10), "kind"] == "make_up_workday"
        and rows.loc[dt.date(2026, 10, 10), "is_working_day"]
    )
    assert not rows.loc[dt.date(2026, 10, 11), "is_working_day"]
    assert not rows.loc[dt.date(2027, 1, 4), "published"] and rows.loc[dt.date(2027, 1, 4), "is_working_day"]
