"""申报渠道 and 不见面审批 (approval without visiting): ``mart_channel_monthly``, in SQL over the golden cases.

A case is **not in person** when it was submitted through an online channel and its result went out remotely
(both sets in ``reporting/definitions.yaml``; by default web or mobile, then express or electronic). The share is
over the cases whose channel and delivery are both known: a case no source says the channel or delivery of is
counted in ``cases`` but neither in the share's numerator nor its denominator (unknown stays unknown).
Per month (of submission by default), handling department and accepting place, with the counts per 审批方式 that
证照分离 reforms are judged by. No personal data.
"""

from __future__ import annotations

import sqlalchemy as sa

from core.warehouse import Warehouse
from reporting.definitions import ChannelDefinition, channel_definition
from reporting.figures import channel_figures
from reporting.refresh import count_where
from schemas.case import places
from schemas.warehouse import golden_cases

UNKNOWN_PLACE = "unknown"
#: The mart's column for each 审批方式.
MODE_COLUMNS = {
    "审批": "mode_licensing",
    "备案": "mode_filing",
    "告知承诺": "mode_commitment",
    "容缺受理": "mode_missing_papers",
}


def _lookup(column, mapping: dict[str, str]):
    """A small code table as a CASE expression (the places are configuration, not a warehouse table)."""
    if not mapping:
        return sa.null()
    return sa.case(*((column == key, value) for key, value in mapping.items()), else_=sa.null())


def not_in_person_condition(definition: ChannelDefinition) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    """(determinable, not_in_person) over ``golden_cases``: both known; online and delivered remotely."""
    g = golden_cases.c
    determinable = g.submission_channel.is_not(None) & g.delivery_method.is_not(None)
    remote = g.submission_channel.in_(definition.online_channels) & g.delivery_method.in_(definition.remote_deliveries)
    return determinable, determinable & remote


def channel_monthly_select(definition: ChannelDefinition | None = None) -> sa.Select:
    definition = definition or channel_definition()
    g = golden_cases.c
    stamp = g.submitted_at if definition.month_of == "submitted_at" else g.accepted_at
    month = sa.func.substr(sa.cast(stamp, sa.String), 1, 7)
    dept = sa.func.coalesce(g.handling_dept, "")
    place = sa.func.coalesce(g.accepting_place, UNKNOWN_PLACE)
    table = places()
    names = dict(zip(table["place_code"], table["place_name"], strict=True))
    regions = dict(zip(table["place_code"], table["region_code"], strict=True))
    determinable, not_in_person = not_in_person_condition(definition)
    share = sa.cast(count_where(not_in_person), sa.Float) / sa.func.nullif(count_where(determinable), 0)
    modes = [count_where(g.approval_mode == mode).label(column) for mode, column in MODE_COLUMNS.items()]
    return (
        sa.select(
            month.label("month"),
            dept.label("handling_dept"),
            place.label("accepting_place"),
            sa.func.max(_lookup(g.accepting_place, names)).label("place_name"),
            sa.func.max(_lookup(g.accepting_place, regions)).label("place_region_code"),
            sa.func.count().label("cases"),
            count_where(g.submission_channel.is_not(None)).label("channel_known"),
            count_where(g.submission_channel.in_(definition.online_channels)).label("online"),
            count_where(g.delivery_method.is_not(None)).label("delivery_known"),
            count_where(determinable).label("determinable"),
            count_where(not_in_person).label("not_in_person"),
            share.label("not_in_person_share"),
            *modes,
            count_where(g.approval_mode.is_(None) | g.approval_mode.not_in(list(MODE_COLUMNS))).label("mode_unknown"),
        )
        .where(stamp.is_not(None))
        .group_by(month, dept, place)
    )


def not_in_person_share(warehouse: Warehouse, month: str, handling_dept: str | None = None) -> float | None:
    """The month's (``YYYY-MM``) 不见面 share from ``mart_channel_monthly``, one query: not-in-person cases over
    the cases whose channel and delivery are known, over every department or one; None when none is known."""
    with warehouse.begin() as conn:
        return channel_figures(conn, month, handling_dept)["not_in_person_share"]
