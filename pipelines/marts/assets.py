"""Marts for dashboards, rebuilt in SQL from the golden cases and the outbox (no personal data in them)."""

import sqlalchemy as sa
from dagster import AssetExecutionContext, AutomationCondition, MaterializeResult, MetadataValue, asset

from pipelines.warehouse import Warehouse
from schemas.case import COMPLETED_STATUSES
from schemas.warehouse import golden_cases, mart_daily_volume, mart_delivery_status, outbox


def rebuild(conn: sa.Connection, table: sa.Table, select: sa.Select) -> int:
    conn.execute(table.delete())
    conn.execute(table.insert().from_select([c.name for c in select.selected_columns], select))
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def daily_volume_select() -> sa.Select:
    g = golden_cases.c
    day = sa.func.date(g.submitted_at)
    completed = sa.func.sum(sa.case((g.status.in_(COMPLETED_STATUSES), 1), else_=0))
    return sa.select(
        day.label("day"),
        g.handling_dept.label("handling_dept"),
        g.item_code.label("item_code"),
        sa.func.max(g.item_name).label("item_name"),
        sa.func.count().label("cases"),
        completed.label("completed"),
        sa.func.sum(g.record_count).label("records"),
        sa.func.sum(g.record_count - 1).label("duplicates_found"),
    ).group_by(day, g.handling_dept, g.item_code)


def delivery_status_select() -> sa.Select:
    o = outbox.c

    def count_of(*statuses: str):
        return sa.func.sum(sa.case((o.status.in_(statuses), 1), else_=0))

    return sa.select(
        o.target.label("target"),
        o.partition_date.label("day"),
        sa.func.count().label("case_versions"),
        count_of("acknowledged").label("acknowledged"),
        count_of("queued", "sent").label("pending"),
        count_of("dead_lettered").label("dead_lettered"),
    ).group_by(o.target, o.partition_date)


MART_DESCRIPTION = " Rebuilt whole after every load; columns documented in docs/marts.md."


@asset(
    deps=["case_resolution"],
    group_name="marts",
    kinds={"sql"},
    owners=["team:data-platform"],
    automation_condition=AutomationCondition.eager(),
    description="Daily case volumes by handling department and item: golden cases, completed, records pulled "
    "for them and duplicates found." + MART_DESCRIPTION,
)
def daily_volume_mart(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    with warehouse.begin() as conn:
        rows = rebuild(conn, mart_daily_volume, daily_volume_select())
    top = warehouse.read(
        sa.select(
            mart_daily_volume.c.handling_dept,
            sa.func.sum(mart_daily_volume.c.cases).label("cases"),
            sa.func.sum(mart_daily_volume.c.duplicates_found).label("duplicates_found"),
        ).group_by(mart_daily_volume.c.handling_dept)
    )
    return MaterializeResult(
        metadata={"dagster/row_count": rows, "by_department": MetadataValue.md(top.to_markdown(index=False))}
    )


@asset(
    deps=["delivery_status"],
    group_name="marts",
    kinds={"sql"},
    owners=["team:data-platform"],
    automation_condition=AutomationCondition.eager(),
    description="Delivery status per receiver and day: case versions, acknowledged, pending, dead-lettered."
    + MART_DESCRIPTION,
)
def delivery_status_mart(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    with warehouse.begin() as conn:
        rows = rebuild(conn, mart_delivery_status, delivery_status_select())
    return MaterializeResult(metadata={"dagster/row_count": rows})
