"""The bureau's dashboard: one static page built from the marts alone (no other table is read).

Its first page shows the 2345 targets (last month's share of business start-ups finished within 2 working days
first), on-time rates by department against the promised limits, daily volumes by department, and the delivery and
review backlogs; the 好差评 page the satisfaction rate, coverage, levels and channels and the 差评 past a deadline;
the 12345 page orders per origin and category with the on-time and satisfaction rates; the 不见面审批 page the
not-in-person share by department, cases per accepting place and the approval modes; the projects page a timeline
per investment project (each stage from acceptance to completion) with the key-project table; the corrections page
the departments' correction lists (纠错清单): entries open at the end of the span by department and age in working
days, and entries opened and fixed per day.
The date and department filters apply to every page (a monthly mart by the months the dates fall in). The page
carries its data as JSON and plotly.js inline, so it opens from a file, from ``approval-bridge dashboard``, or from
any web server, with no network.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from plotly.offline import get_plotlyjs

from core import clock
from core.warehouse import create_engine
from schemas.case import departments
from schemas.warehouse import (
    mart_2345_monthly,
    mart_case_deadlines,
    mart_channel_monthly,
    mart_corrections_daily,
    mart_daily_volume,
    mart_delivery_status,
    mart_evaluations_monthly,
    mart_hotline_monthly,
    mart_project_stages,
    mart_projects,
    mart_resolution_backlog,
)


def _columns(table: sa.Table, names: str) -> sa.Select:
    return sa.select(*(table.c[name] for name in names.split()))


_volume = mart_daily_volume.c
#: What the page reads: mart tables and the columns of each (stable names, see docs/marts.md). Table objects, not
#: SQL text, so the marts are found in their schema (``marts`` on PostgreSQL) and the dashboard's read-only role,
#: which sees that schema alone, can build the page.
QUERIES: dict[str, sa.Select] = {
    "volume": sa.select(
        _volume.day,
        _volume.handling_dept,
        _volume.channel,
        sa.func.sum(_volume.cases).label("cases"),
        sa.func.sum(_volume.completed).label("completed"),
        sa.func.sum(_volume.duplicates_found).label("duplicates"),
    ).group_by(_volume.day, _volume.handling_dept, _volume.channel),
    "deadlines": _columns(
        mart_case_deadlines,
        "handling_dept submitted_on completed_on promise_result statutory_result target_2345 within_target "
        "month_completed",
    ),
    "targets": _columns(
        mart_2345_monthly,
        "target month target_name target_days completed within_target share_within_target average_working_days",
    ),
    "delivery": _columns(mart_delivery_status, "target day case_versions acknowledged pending dead_lettered"),
    "review": _columns(
        mart_resolution_backlog, "day records duplicates_found status_updates review_open review_decided"
    ),
    "evaluations": _columns(
        mart_evaluations_monthly,
        "month handling_dept item_code channel evaluations very_satisfied satisfied basic dissatisfied "
        "very_dissatisfied satisfied_count rated completed_cases evaluated_cases poor poor_open poor_past_deadline",
    ),
    "hotline": _columns(
        mart_hotline_monthly,
        "month origin category_1 orders about_cases on_time timed satisfied_count rated",
    ),
    "projects": _columns(
        mart_projects,
        "project_code project_name industrial key_project started_on permit_on status stage_reached working_days "
        "days_left within_target stages_late held_up_by responsible_dept",
    ),
    "project_stages": _columns(
        mart_project_stages, "project_code stage stage_order started_on ended_on status working_days on_time"
    ),
    "channel": _columns(
        mart_channel_monthly,
        "month handling_dept accepting_place place_name cases determinable not_in_person mode_licensing "
        "mode_filing mode_commitment mode_missing_papers",
    ),
    "corrections": _columns(
        mart_corrections_daily,
        "day department open opened fixed open_quarantined open_refused open_0_2 open_3_5 open_6_10 open_over_10 "
        "oldest_open_working_days",
    ),
}
PAGE = (Path(__file__).parent / "page.html").read_text(encoding="utf-8")  # markup, styles and the charts' script


def department_names() -> dict[str, str]:
    """Each handling department's short name, from the department code table."""
    return departments().set_index("department_code")["short_name"].to_dict()


def read_marts(engine: sa.Engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        frames = {name: pd.read_sql(query, conn) for name, query in QUERIES.items()}
    return {
        name: json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        for name, frame in frames.items()
    }


def last_month(today: dt.date) -> str:
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def render(data: dict[str, list[dict]], today: dt.date) -> str:
    """The page: controls, a tab per page (its charts, figures and tables); ``data`` as read by :func:`read_marts`."""
    payload = json.dumps(
        {"data": data, "departments": department_names(), "lastMonth": last_month(today), "today": today.isoformat()},
        ensure_ascii=False,
    ).replace("</", "<\\/")
    return PAGE.replace("/*PLOTLY*/", get_plotlyjs()).replace("/*DATA*/", payload)


def build(warehouse_url: str, output: Path, today: dt.date | None = None) -> Path:
    engine = create_engine(warehouse_url)  # creates nothing: the dashboard's read-only role builds the page
    try:
        data = read_marts(engine)
    finally:
        engine.dispose()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(data, today or clock.today()), encoding="utf-8")
    return output
