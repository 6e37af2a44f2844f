"""Working-day deadlines after 行政许可法 Art. 82, on the published calendar files."""

import datetime as dt

import pandas as pd
import pytest

from schemas.workdays import WorkingCalendar, calendar
from tests.conftest import calendar_through

pytestmark = pytest.mark.unit


def _deadline(start: dt.date, days: int, cal: WorkingCalendar | None = None) -> tuple[dt.date, bool]:
    row = (cal or calendar()).add_working_days(pd.Series([start]), pd.Series([days])).iloc[0]
    return row["deadline"], bool(row["provisional"])


def test_twenty_working_days_across_national_day():
    # The acceptance day is not counted; 1–7 October are holidays; Saturday 10 October is a make-up working day.
    assert _deadline(dt.date(2026, 9, 28), 20) == (dt.date(2026, 10, 30), False)


def test_spring_festival_with_its_make_up_saturdays():
    cal = calendar()
    # Saturday 14 February 2026 is the last working day before the festival (a make-up day), and Saturday
    # 28 February the make-up day after it; 15–23 February are holidays, weekdays among them included.
    assert cal.is_working_day(pd.Series(pd.to_datetime(["2026-02-14", "2026-02-16", "2026-02-28"]))).tolist() == [
        True,
        False,
        True,
    ]
    assert _deadline(dt.date(2026, 2, 14), 1) == (dt.date(2026, 2, 24), False)
    assert _deadline(dt.date(2026, 2, 14), 5) == (dt.date(2026, 2, 28), False)
    assert _deadline(dt.date(2026, 2, 13), 5) == (dt.date(2026, 2, 27), False)
    taken = cal.working_days_between(
        pd.Series(pd.to_datetime(["2026-02-13"])), pd.Series(pd.to_datetime(["2026-02-27"]))
    )
    assert taken.tolist() == [5]


def test_the_shipped_calendar_covers_the_years_of_the_tests():
    assert calendar().last_published_year >= 2026  # a later year's file may be added: nothing here depends on it


def test_deadline_into_an_unpublished_year_is_provisional_until_its_file_arrives(tmp_path):
    until_2026 = calendar_through(2026, tmp_path / "calendar")  # as shipped before 2027's file is published
    assert until_2026.last_published_year == 2026
    assert _deadline(dt.date(2026, 12, 20), 20, until_2026) == (dt.date(2027, 1, 15), True)  # weekends only
    assert until_2026.next_year_missing(dt.date(2026, 11, 28))

    (tmp_path / "calendar" / "2027.csv").write_text("date,kind,name\n2027-01-01,holiday,元旦\n", encoding="utf-8")
    extended = WorkingCalendar.load(tmp_path / "calendar")
    assert _deadline(dt.date(2026, 12, 20), 20, extended) == (dt.date(2027, 1, 18), False)
    assert not extended.next_year_missing(dt.date(2026, 11, 28))


def test_a_gap_in_the_published_years_is_refused(tmp_path):
    calendar_through(2026, tmp_path / "calendar")
    (tmp_path / "calendar" / "2028.csv").write_text("date,kind,name\n", encoding="utf-8")
    with pytest.raises(ValueError, match="2027"):
        WorkingCalendar.load(tmp_path / "calendar")


def test_blank_dates_give_no_deadline():
    result = calendar().add_working_days(pd.Series([None, dt.date(2026, 11, 2)]), pd.Series([5, None]))
    assert result["deadline"].isna().all() and not result["provisional"].any()
