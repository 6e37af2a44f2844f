"""12345 hotline orders as the bureau reports them: every order pulled in one state (linked to its case, left for
review, unlinked, quarantined), whether it was closed on time, and the monthly figures (orders per origin and
category, the on-time rate, the satisfaction rate).

The definitions (which 回访满意度 answers count as satisfied and which are rated, what on time is measured by,
which 办理结果 the rates count, the linking window) come from ``reporting/definitions.yaml``
(:mod:`reporting.definitions`); docs/marts.md explains each figure.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from reporting.definitions import HotlineDefinitions
from reporting.figures import hotline_figures
from resolution.hotline import link_orders
from schemas.feeds import HOTLINE_RESULTS
from schemas.warehouse import hotline_orders, mart_hotline_monthly
from staging.feeds import newest, with_quarantined

QUARANTINED = "quarantined"
ON_TIME, LATE, UNKNOWN = "on_time", "late", "unknown"
#: An order's state: the columns of ``hotline_orders``.
STATE_COLUMNS = [c.name for c in hotline_orders.columns]
ALL = "all"


def newest_orders(records: pd.DataFrame) -> pd.DataFrame:
    """One row per order (source_system, order_id): its newest usable record (:func:`staging.feeds.newest`)."""
    return newest(records, "order_id")


def timeliness(orders: pd.DataFrame, settings: HotlineDefinitions) -> pd.Series:
    """Per order: on_time, late, or unknown (neither a 办结时间 nor the hotline's 是否超期 flag to tell by).
    ``closed_at`` basis: 办结时间 against 办理时限, the flag where the time is missing; ``overdue_flag``: the
    other way round."""
    closed = pd.to_datetime(orders["closed_at"])
    deadline = pd.to_datetime(orders["deadline_at"])
    by_time = pd.Series(np.where(closed <= deadline, ON_TIME, LATE), index=orders.index, dtype="string")
    by_time = by_time.where(closed.notna() & deadline.notna())
    flag = orders["overdue"].astype("boolean")
    by_flag = pd.Series(np.where(flag.fillna(False), LATE, ON_TIME), index=orders.index, dtype="string")
    by_flag = by_flag.where(flag.notna())
    first, then = (by_time, by_flag) if settings.on_time_basis == "closed_at" else (by_flag, by_time)
    return first.fillna(then).fillna(UNKNOWN).astype("string")


def order_states(
    records: pd.DataFrame,
    quarantined: pd.DataFrame,
    numbers: pd.DataFrame,
    golden: pd.DataFrame,
    settings: HotlineDefinitions,
) -> pd.DataFrame:
    """One row per order pulled (``STATE_COLUMNS``), each in exactly one status. ``records``:
    staged_hotline_orders rows; ``quarantined``: the hotline feeds' quarantined_feed_records rows; ``numbers``:
    case_no → golden_case_id; ``golden``: golden_case_id, applicant_name, item_code, submitted_at. An order with a
    usable record takes its newest usable state (a later record that could not be used is counted in its
    ``records``); one with none is quarantined with the reason of its newest record."""
    usable = None
    if len(records):
        records = records.assign(partition_date=pd.to_datetime(records["partition_date"]).dt.date)
        usable = link_orders(newest_orders(records), numbers, golden, settings.link_window_days)
        usable["timeliness"] = timeliness(usable, settings)
    if len(quarantined):
        usable = with_quarantined(usable, quarantined, "order_id")
    if usable is None:
        return pd.DataFrame(columns=STATE_COLUMNS)
    states = usable.reindex(columns=STATE_COLUMNS)
    states["candidates"] = states["candidates"].astype("Int64")
    states["first_partition"] = pd.to_datetime(states["first_partition"]).dt.date
    return states


def monthly_hotline(states: pd.DataFrame, settings: HotlineDefinitions) -> pd.DataFrame:
    """``mart_hotline_monthly``: per month of dispatch, origin and first-level category, with a subtotal per
    origin (category_1 ``all``) and a total per month (origin and category_1 ``all``): the usable orders, those
    about a case, per result, on time of those timed and the rate, satisfied of those rated and the rate.
    Quarantined orders are not counted (they have no month to count in); no personal data."""
    usable = states[states["status"] != QUARANTINED]
    columns = [c.name for c in mart_hotline_monthly.columns]
    if usable.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "month": pd.to_datetime(usable["dispatched_at"]).dt.strftime("%Y-%m"),
            "origin": usable["origin"].astype("string"),
            "category_1": usable["category_1"].astype("string").fillna(""),
            "orders": 1,
            "about_cases": (usable["status"] == "linked").astype(int),
            **{result: (usable["result"] == result).astype(int) for result in HOTLINE_RESULTS},
        }
    )
    timed = usable["result"].isin(settings.timed_results) & usable["timeliness"].isin([ON_TIME, LATE])
    rated = usable["result"].isin(settings.rated_results) & usable["satisfaction"].isin(settings.rated_values)
    frame["on_time"] = (timed & (usable["timeliness"] == ON_TIME)).astype(int)
    frame["timed"] = timed.astype(int)
    frame["satisfied_count"] = (rated & usable["satisfaction"].isin(settings.satisfied_values)).astype(int)
    frame["rated"] = rated.astype(int)
    measures = ["orders", "about_cases", *HOTLINE_RESULTS, "on_time", "timed", "satisfied_count", "rated"]
    detail = frame.groupby(["month", "origin", "category_1"], as_index=False)[measures].sum()
    per_origin = frame.groupby(["month", "origin"], as_index=False)[measures].sum().assign(category_1=ALL)
    total = frame.groupby(["month"], as_index=False)[measures].sum().assign(origin=ALL, category_1=ALL)
    mart = pd.concat([detail, per_origin, total], ignore_index=True)
    mart["on_time_rate"] = (mart["on_time"] / mart["timed"]).where(mart["timed"] > 0)
    mart["satisfaction_rate"] = (mart["satisfied_count"] / mart["rated"]).where(mart["rated"] > 0)
    return mart.reindex(columns=columns).sort_values(["month", "origin", "category_1"], ignore_index=True)


def last_month_figures(conn: sa.Connection, today: dt.date) -> dict:
    """Last month's hotline figures (the month before ``today``'s), from one query on ``mart_hotline_monthly``
    (:func:`reporting.figures.hotline_figures`): orders 0 and rates None when the month has no orders."""
    return hotline_figures(conn, (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m"))
