"""Working days (工作日) as the sandbox's systems keep them: Monday to Friday, less the statutory holidays and plus
the make-up working days (调休) of the State Council's yearly notice, as the ``chinese-calendar`` package transcribes
them (2004–2026 in its version 1.11). A year it does not cover counts weekends alone: no system knows its holidays
before the notice is out."""

from __future__ import annotations

import datetime as dt

import chinese_calendar


def is_working_day(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package has no notice for
        return day.weekday() < 5
