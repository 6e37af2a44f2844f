"""Working days (工作日) for deadlines, after 行政许可法 Art. 82: periods are counted in working days, statutory
holidays excluded; the day of acceptance is not counted.

The calendar is one small file per year in ``schemas/calendar/`` (``date,kind,name``): ``holiday`` for the days
of a statutory holiday block, ``workday`` for a make-up working day (调休) that falls on a weekend. Any other
Monday to Friday is a working day. 2004–2026 were seeded from the ``chinese-calendar`` package; IT staff add the
next year's file when the State Council publishes its notice (国务院办公厅关于部分节假日安排的通知), usually in
November. A deadline that reaches past the last published year is counted on weekends alone and marked
provisional.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

CALENDAR_DIR = Path(__file__).resolve().parent / "calendar"
HORIZON_YEARS = 15  # how far past the last published year provisional deadlines reach


@dataclass(frozen=True)
class WorkingCalendar:
    days: np.ndarray  # datetime64[D], every day from the first published year to the horizon
    working: np.ndarray  # bool per day
    cumulative: np.ndarray  # working days up to and including each day
    first_year: int
    last_published_year: int
    published: pd.DataFrame  # the files' rows: date, kind, name

    @property
    def provisional_from(self) -> np.datetime64:
        return np.datetime64(f"{self.last_published_year + 1}-01-01", "D")

    @classmethod
    def load(cls, directory: Path = CALENDAR_DIR) -> WorkingCalendar:
        files = sorted(directory.glob("[0-9][0-9][0-9][0-9].csv"))
        if not files:
            raise FileNotFoundError(f"no calendar files (YYYY.csv) in {directory}")
        years = [int(f.stem) for f in files]
        missing = sorted(set(range(years[0], years[-1] + 1)) - set(years))
        if missing:
            raise ValueError(f"calendar years missing between {years[0]} and {years[-1]}: {missing}")
        published = pd.concat([pd.read_csv(f, dtype=str) for f in files], ignore_index=True)
        published["date"] = pd.to_datetime(published["date"]).dt.date
        bad = ~published["kind"].isin(["holiday", "workday"])
        if bad.any():
            raise ValueError(f"calendar rows with an unknown kind: {published[bad].to_dict('records')[:3]}")
        days = np.arange(f"{years[0]}-01-01", f"{years[-1] + HORIZON_YEARS + 1}-01-01", dtype="datetime64[D]")
        weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
        working = weekday < 5
        index = (np.array(published["date"], dtype="datetime64[D]") - days[0]).astype(int)
        working[index] = (published["kind"] == "workday").to_numpy()
        return cls(days, working, np.cumsum(working), years[0], years[-1], published)

    def _positions(self, dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        values = pd.to_datetime(dates).to_numpy().astype("datetime64[D]")
        known = ~np.isnat(values)
        positions = np.zeros(len(values), dtype=int)
        positions[known] = (values[known] - self.days[0]).astype(int)
        if known.any() and (positions[known].min() < 0 or positions[known].max() >= len(self.days)):
            raise ValueError(f"dates outside the calendar ({self.days[0]} … {self.days[-1]})")
        return positions, known

    def is_working_day(self, dates: pd.Series) -> pd.Series:
        positions, known = self._positions(dates)
        return pd.Series(np.where(known, self.working[positions], False), index=dates.index)

    def add_working_days(self, start: pd.Series, days: pd.Series) -> pd.DataFrame:
        """The deadline ``days`` working days after ``start`` (which itself is not counted), and whether it is
        provisional (it reaches into a year whose holidays are not published yet)."""
        positions, known = self._positions(start)
        count = pd.to_numeric(days, errors="coerce").to_numpy(dtype=float)
        valid = known & ~np.isnan(count)
        target = self.cumulative[positions] + np.nan_to_num(count).astype(int)
        found = np.searchsorted(self.cumulative, target, side="left").clip(0, len(self.days) - 1)
        return self._deadlines(valid, found, start.index)

    def _deadlines(self, valid: np.ndarray, found: np.ndarray, index: pd.Index) -> pd.DataFrame:
        """Deadlines at calendar positions ``found`` (where ``valid``), provisional past the published years."""
        deadline = np.where(valid, self.days[found], np.datetime64("NaT"))
        provisional = valid & (deadline >= self.provisional_from)
        return pd.DataFrame(
            {"deadline": pd.to_datetime(deadline).date, "provisional": provisional}, index=index
        ).assign(deadline=lambda f: f["deadline"].where(valid, None))

    def add_natural_days(self, start: pd.Series, days: pd.Series) -> pd.DataFrame:
        """The deadline of a limit in natural days (自然日): ``days`` calendar days after ``start`` (which itself is
        not counted), holidays and weekends counted; when that day is not a working day the period ends on the next
        working day (民法典 Art. 203: a period whose last day is a statutory rest day ends on the day after it).
        Provisional when that shift reaches into a year whose holidays are not published yet."""
        positions, known = self._positions(start)
        count = pd.to_numeric(days, errors="coerce").to_numpy(dtype=float)
        valid = known & ~np.isnan(count)
        end = (positions + np.nan_to_num(count).astype(int)).clip(0, len(self.days) - 1)
        shift = (~self.working[end]).astype(int)
        found = np.searchsorted(self.cumulative, self.cumulative[end] + shift, side="left").clip(0, len(self.days) - 1)
        return self._deadlines(valid, found, start.index)

    def add_days(self, start: pd.Series, days: pd.Series, units: pd.Series) -> pd.DataFrame:
        """Per row, :meth:`add_natural_days` where ``units`` is ``natural_day``, else :meth:`add_working_days`."""
        working = self.add_working_days(start, days)
        natural = self.add_natural_days(start, days)
        is_natural = (units.astype("string") == "natural_day").fillna(False).to_numpy(dtype=bool)
        return pd.DataFrame(
            {
                "deadline": natural["deadline"].where(is_natural, working["deadline"]),
                "provisional": np.where(is_natural, natural["provisional"], working["provisional"]),
            },
            index=start.index,
        )

    def working_days_between(self, start: pd.Series, end: pd.Series) -> pd.Series:
        """Working days after ``start`` up to and including ``end`` (0 when both fall on one day)."""
        a, known_a = self._positions(start)
        b, known_b = self._positions(end)
        taken = self.cumulative[b] - self.cumulative[a]
        return pd.Series(taken, index=start.index).where(known_a & known_b).astype("Int64")

    def next_year_missing(self, today: dt.date) -> bool:
        return today.year + 1 > self.last_published_year


@cache
def calendar() -> WorkingCalendar:
    return WorkingCalendar.load()
