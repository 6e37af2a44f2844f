"""The figures the bureau is judged by, each read with one query on its mart (what the demo and
``approval-bridge reconcile`` print beside the reconciliation; the dashboard pages read the same marts).

Each function takes a SQLAlchemy connection and a month (``YYYY-MM``) and returns a small dict: the figure, and
the counts it is made of, so a reader can check the division. A month with nothing to count gives ``None`` rates.
"""

from __future__ import annotations

import sqlalchemy as sa

from schemas.warehouse import (
    mart_2345_monthly,
    mart_channel_monthly,
    mart_evaluations_monthly,
    mart_hotline_monthly,
    mart_projects_monthly,
)


def _rate(numerator: int | None, denominator: int | None) -> float | None:
    return numerator / denominator if denominator else None


def evaluation_figures(conn: sa.Connection, month: str) -> dict:
    """好差评 of the month: satisfaction rate (levels counted as satisfied over rated, reporting/definitions.yaml),
    evaluations, coverage (completed cases evaluated) and 差评 past a deadline."""
    m = mart_evaluations_monthly.c
    row = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(m.evaluations), 0),
            sa.func.coalesce(sa.func.sum(m.satisfied_count), 0),
            sa.func.coalesce(sa.func.sum(m.rated), 0),
            sa.func.coalesce(sa.func.sum(m.completed_cases), 0),
            sa.func.coalesce(sa.func.sum(m.evaluated_cases), 0),
            sa.func.coalesce(sa.func.sum(m.poor), 0),
            sa.func.coalesce(sa.func.sum(m.poor_past_deadline), 0),
        ).where((m.month == month) & (m.channel == "all"))
    ).one()
    evaluations, satisfied, rated, completed, evaluated, poor, past = (int(v) for v in row)
    return {
        "month": month,
        "evaluations": evaluations,
        "satisfied": satisfied,
        "rated": rated,
        "satisfaction_rate": _rate(satisfied, rated),
        "completed_cases": completed,
        "evaluated_cases": evaluated,
        "coverage": _rate(evaluated, completed),
        "poor": poor,
        "poor_past_deadline": past,
    }


def channel_figures(conn: sa.Connection, month: str, handling_dept: str | None = None) -> dict:
    """不见面审批 of the month (of every department, or one): not-in-person cases over the cases whose channel and
    delivery are known (the definition: reporting/definitions.yaml), and the cases per 审批方式."""
    m = mart_channel_monthly.c
    measures = ("cases", "determinable", "not_in_person", "mode_licensing", "mode_filing", "mode_commitment",
                "mode_missing_papers")  # fmt: skip
    query = sa.select(*(sa.func.coalesce(sa.func.sum(m[name]), 0) for name in measures)).where(m.month == month)
    if handling_dept is not None:
        query = query.where(m.handling_dept == handling_dept)
    found = dict(zip(measures, (int(v) for v in conn.execute(query).one()), strict=True))
    return {"month": month, **found, "not_in_person_share": _rate(found["not_in_person"], found["determinable"])}


def hotline_figures(conn: sa.Connection, month: str) -> dict:
    """12345 orders of the month: orders (from the province among them), about an approval case, the on-time rate
    (按时办结率) and the satisfaction rate (满意率) with the counts each is made of, from the mart's total row."""
    m = mart_hotline_monthly.c
    total = (m.origin == "all") & (m.category_1 == "all")

    def of(condition, column) -> sa.ColumnElement:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, column), else_=0)), 0)

    measures = ("orders", "about_cases", "on_time", "timed", "satisfied_count", "rated")
    row = conn.execute(
        sa.select(
            *(of(total, m[name]) for name in measures),
            of((m.origin == "province") & (m.category_1 == "all"), m.orders),
        ).where(m.month == month)
    ).one()
    found = dict(zip([*measures, "province_orders"], (int(v) for v in row), strict=True))
    return {
        "month": month,
        **found,
        "on_time_rate": _rate(found["on_time"], found["timed"]),
        "satisfaction_rate": _rate(found["satisfied_count"], found["rated"]),
    }


def target_figures(conn: sa.Connection, month: str) -> dict:
    """The 2345 targets of the month (``mart_2345_monthly``): per target, completed (start-up chains, projects'
    permits, cases), within the target, the share and the average working days."""
    m = mart_2345_monthly.c
    rows = conn.execute(
        sa.select(m.target, m.target_days, m.completed, m.within_target, m.share_within_target, m.average_working_days)
        .where(m.month == month)
        .order_by(m.target)
    ).all()
    return {
        row.target: {
            "target_days": int(row.target_days),
            "completed": int(row.completed),
            "within_target": int(row.within_target),
            "share_within_target": row.share_within_target,
            "average_working_days": row.average_working_days,
        }
        for row in rows
    }


def project_figures(conn: sa.Connection, month: str) -> dict:
    """Industrial projects permitted in the month (``mart_projects_monthly``): how many, the average and longest
    working days 立项 → 施工许可, how many within the 45, and the stage that held each up."""
    m = mart_projects_monthly.c
    row = conn.execute(
        sa.select(
            m.projects, m.average_working_days, m.max_working_days, m.within_target, m.target_days, m.held_up_by
        ).where(m.month == month)
    ).first()
    if row is None:
        return {"month": month, "projects": 0, "within_target": 0, "average_working_days": None}
    return {
        "month": month,
        "projects": int(row.projects),
        "within_target": int(row.within_target),
        "target_days": int(row.target_days),
        "average_working_days": row.average_working_days,
        "max_working_days": row.max_working_days,
        "held_up_by": row.held_up_by,
    }
