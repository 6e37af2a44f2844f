"""The bureau's dashboard: one static page built from the marts alone (no other table is read).

It shows the 2345 targets (last month's share of business start-ups finished within 2 working days first),
on-time rates by department against the promised limits, daily volumes by department, and the delivery and
review backlogs, with date and department filters. The page carries its data as JSON and plotly.js inline, so it
opens from a file, from ``approval-bridge dashboard``, or from any web server, with no network.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from plotly.offline import get_plotlyjs

from core import clock
from schemas.case import departments

#: What the page reads: mart tables and the columns of each (stable names, see docs/marts.md).
QUERIES = {
    "volume": "SELECT day, handling_dept, channel, SUM(cases) AS cases, SUM(completed) AS completed, "
    "SUM(duplicates_found) AS duplicates FROM mart_daily_volume GROUP BY day, handling_dept, channel",
    "deadlines": "SELECT handling_dept, submitted_on, completed_on, promise_result, statutory_result, target_2345, "
    "within_target, month_completed FROM mart_case_deadlines",
    "targets": "SELECT target, month, target_name, target_days, completed, within_target, share_within_target, "
    "average_working_days FROM mart_2345_monthly",
    "delivery": "SELECT target, day, case_versions, acknowledged, pending, dead_lettered FROM mart_delivery_status",
    "review": "SELECT day, records, duplicates_found, status_updates, review_open, review_decided "
    "FROM mart_resolution_backlog",
}
PAGE = (Path(__file__).parent / "page.html").read_text(encoding="utf-8")  # markup, styles and the charts' script


def department_names() -> dict[str, str]:
    """Each handling department's short name, from the department code table."""
    return departments().set_index("department_code")["short_name"].to_dict()


def read_marts(engine: sa.Engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        frames = {name: pd.read_sql(sa.text(sql), conn) for name, sql in QUERIES.items()}
    return {
        name: json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        for name, frame in frames.items()
    }


def last_month(today: dt.date) -> str:
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def render(data: dict[str, list[dict]], today: dt.date) -> str:
    """The page: controls, five charts, the 2345 table; ``data`` as read by :func:`read_marts`."""
    payload = json.dumps(
        {"data": data, "departments": department_names(), "lastMonth": last_month(today), "today": today.isoformat()},
        ensure_ascii=False,
    ).replace("</", "<\\/")
    return PAGE.replace("/*PLOTLY*/", get_plotlyjs()).replace("/*DATA*/", payload)


def build(warehouse_url: str, output: Path, today: dt.date | None = None) -> Path:
    engine = sa.create_engine(warehouse_url)
    try:
        data = read_marts(engine)
    finally:
        engine.dispose()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(data, today or clock.today()), encoding="utf-8")
    return output
