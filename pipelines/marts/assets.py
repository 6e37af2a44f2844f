"""Marts for dashboards, rebuilt in SQL from the golden cases and the outbox (no personal data in them)."""

import sqlalchemy as sa
from dagster import AssetExecutionContext, AutomationCondition, MaterializeResult, MetadataValue, asset

from pipelines.marts.reuse import availability, licence_reuse, material_reuse
from pipelines.warehouse import Warehouse, insert_frame
from schemas.case import COMPLETED_STATUSES, items
from schemas.licences import required_materials
from schemas.warehouse import (
    golden_cases,
    holder_codes,
    licence_events,
    licences,
    mart_daily_volume,
    mart_delivery_status,
    mart_licence_reuse,
    mart_material_reuse,
    outbox,
)


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


@asset(
    deps=["licence_repository", "case_resolution"],
    group_name="marts",
    kinds={"pandas", "sql"},
    owners=["team:data-platform"],
    automation_condition=AutomationCondition.eager(),
    description="Licence reuse (一次录入，全程共享): for each application, which required materials were already "
    "in the licence repository as the applicant's valid licence that day, so need not be submitted; per item "
    "and month in `mart_licence_reuse`, per application in `mart_material_reuse`." + MART_DESCRIPTION,
)
def licence_reuse_mart(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    with warehouse.begin() as conn:
        g = golden_cases.c
        cases = warehouse.read(sa.select(g.golden_case_id, g.item_code, g.applicant_id, g.submitted_at), conn)
        codes = warehouse.read(sa.select(holder_codes.c.code, holder_codes.c.holder_id), conn)
        spans = availability(
            warehouse.read(sa.select(licences), conn),
            warehouse.read(
                sa.select(licence_events.c.licence_key, licence_events.c.event, licence_events.c.effective_date), conn
            ),
        )
        detail = material_reuse(cases, codes, spans, required_materials())
        monthly = licence_reuse(detail, items().set_index("item_code")["item_name"])
        conn.execute(mart_material_reuse.delete())
        conn.execute(mart_licence_reuse.delete())
        insert_frame(conn, mart_material_reuse, detail)
        insert_frame(conn, mart_licence_reuse, monthly)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(monthly),
            "applications": int(detail["golden_case_id"].nunique()),
            "materials_not_needed": int(detail["available"].sum()),
            "by_item_and_month": MetadataValue.md(monthly.to_markdown(index=False) if len(monthly) else "none"),
        }
    )
