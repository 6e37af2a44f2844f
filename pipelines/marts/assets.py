"""Marts for dashboards, rebuilt in SQL from the golden cases and the outbox (no personal data in them)."""

import datetime as dt

import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AutomationCondition,
    Config,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)
from pydantic import Field

from core import clock, settings
from core.departments import department_systems
from core.warehouse import Warehouse, insert_frame, rebuilt_if_changed, replace_table
from pipelines.metadata import table_metadata
from pipelines.partitions import MART_REFRESH
from reporting.channel import channel_monthly_select
from reporting.deadlines import calendar_rows, monthly_2345, refresh_case_deadlines
from reporting.definitions import channel_definition, definitions
from reporting.evaluations import monthly_evaluations_in_warehouse
from reporting.hotline import monthly_hotline
from reporting.projects import national_limits, project_clocks, project_stage_rows, projects_monthly
from reporting.refresh import Refreshed, mart_key, month_of, refresh_by_month
from reporting.reuse import refresh_reuse
from reporting.startup import chains_for_2345, refresh_startup
from reporting.supervision import followup_in_warehouse
from schemas.case import COMPLETED_STATUSES, LOCAL_TZ, places
from schemas.warehouse import (
    case_links,
    delivery_reconciliation,
    golden_cases,
    hotline_orders,
    mart_2345_monthly,
    mart_case_deadlines,
    mart_channel_monthly,
    mart_daily_volume,
    mart_delivery_status,
    mart_evaluations_monthly,
    mart_hotline_monthly,
    mart_licence_reuse,
    mart_material_reuse,
    mart_project_stages,
    mart_projects,
    mart_projects_monthly,
    mart_resolution_backlog,
    mart_startup_chains,
    mart_startup_steps,
    mart_supervision_followup,
    outbox,
    process_stages,
    project_handlings,
    projects,
    review_decisions,
    review_queue,
    working_calendar,
)
from schemas.workdays import calendar

#: ``full`` makes every month-scoped mart rebuild whole on every refresh (the nightly path can set it too).
FULL_REBUILD_VARIABLE = "BRIDGE_MARTS_FULL_REBUILD"


class MartRefresh(Config):
    full_rebuild: bool = Field(
        default=False,
        description="Rebuild the mart from all history instead of only the months the loads since its last refresh "
        f"touched (also {FULL_REBUILD_VARIABLE}=1).",
    )

    def full(self) -> bool:
        return self.full_rebuild or settings.number(FULL_REBUILD_VARIABLE, 0) > 0


def rebuild(conn: sa.Connection, table: sa.Table, select: sa.Select) -> int:
    conn.execute(table.delete())
    conn.execute(table.insert().from_select([c.name for c in select.selected_columns], select))
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def created_anew(context: AssetExecutionContext, conn: sa.Connection, *tables: sa.Table) -> bool:
    """Whether any of ``tables`` had columns that changed with this version and was created anew (said in the
    run's log): a mart kept up to date is then built whole, not refreshed into an empty table."""
    anew = False
    for table in tables:
        if rebuilt_if_changed(conn, table):
            context.log.info(f"{table.name}: its columns changed with this version; created anew")
            anew = True
    return anew


def daily_volume_select() -> sa.Select:
    g = golden_cases.c
    day = sa.func.date(g.submitted_at)
    completed = sa.func.sum(sa.case((g.status.in_(COMPLETED_STATUSES), 1), else_=0))
    channel = sa.case(
        (g.source_system.in_(department_systems()), "department_system"), else_="one_stop_window"
    )  # as deadlines.channel
    return sa.select(
        day.label("day"),
        g.handling_dept.label("handling_dept"),
        g.item_code.label("item_code"),
        channel.label("channel"),
        sa.func.max(g.item_name).label("item_name"),
        sa.func.count().label("cases"),
        completed.label("completed"),
        sa.func.sum(g.record_count).label("records"),
        sa.func.sum(g.record_count - 1).label("duplicates_found"),
    ).group_by(day, g.handling_dept, g.item_code, channel)


def delivery_status_select() -> sa.Select:
    """Per receiver and day the outbox's counts, and whether the last reconciliation could verify that day against
    the receiver's own query (``receiver_check``: verified, cannot verify; NULL: not reconciled yet)."""
    o, r = outbox.c, delivery_reconciliation.c

    def count_of(*statuses: str):
        return sa.func.sum(sa.case((o.status.in_(statuses), 1), else_=0))

    counts = (
        sa.select(
            o.target.label("target"),
            o.partition_date.label("day"),
            sa.func.count().label("case_versions"),
            count_of("acknowledged").label("acknowledged"),
            count_of("queued", "sent").label("pending"),
            count_of("dead_lettered").label("dead_lettered"),
        )
        .group_by(o.target, o.partition_date)
        .subquery()
    )
    checked = (
        sa.select(r.target, r.day, sa.func.min(r.receiver_check).label("receiver_check"))
        .where(r.day.is_not(None))
        .group_by(r.target, r.day)
        .subquery()
    )
    return sa.select(
        counts.c.target,
        counts.c.day,
        counts.c.case_versions,
        counts.c.acknowledged,
        counts.c.pending,
        counts.c.dead_lettered,
        checked.c.receiver_check,
    ).select_from(counts.outerjoin(checked, (checked.c.target == counts.c.target) & (checked.c.day == counts.c.day)))


def refresh_daily_volume(conn: sa.Connection, full: bool = False) -> Refreshed:
    """``mart_daily_volume``: the months (of submission) the loads since its last refresh touched, or all."""
    return refresh_by_month(
        conn,
        mart_daily_volume,
        daily_volume_select(),
        key=mart_key(mart_daily_volume, sorted(department_systems())),
        basis=golden_cases.c.submitted_at,
        table_month=month_of(mart_daily_volume.c.day),
        full=full,
    )


def refresh_channel(conn: sa.Connection, full: bool = False) -> Refreshed:
    """``mart_channel_monthly``: the months (of submission, or acceptance: definitions.yaml) touched, or all."""
    definition = channel_definition()
    g = golden_cases.c
    return refresh_by_month(
        conn,
        mart_channel_monthly,
        channel_monthly_select(definition),
        key=mart_key(mart_channel_monthly, definition, places().to_dict("records")),
        basis=g.submitted_at if definition.month_of == "submitted_at" else g.accepted_at,
        table_month=mart_channel_monthly.c.month,
        full=full,
    )


MART_DESCRIPTION = (
    " Rebuilt whole once after each load that changed its inputs (pipelines/automation.py); columns documented in "
    "docs/marts.md."
)
MONTHLY_DESCRIPTION = (
    " Refreshed once after each load that changed its inputs (pipelines/automation.py), only the months the load "
    "touched (reporting/refresh.py: the month a case is counted in now and the month it was counted in before), in "
    "one transaction; whole on its first refresh, when its definitions change, or with `full_rebuild` "
    "(BRIDGE_MARTS_FULL_REBUILD=1). Columns documented in docs/marts.md."
)
PER_CASE_DESCRIPTION = (
    " Refreshed once after each load that changed its inputs (pipelines/automation.py), per case: only the cases "
    "whose rows can have changed are computed again (reporting/refresh.py: a digest per case of what its rows are "
    "computed from, kept in refresh_marks), in one transaction; whole on its first refresh, when its rules change, "
    "or with `full_rebuild` (BRIDGE_MARTS_FULL_REBUILD=1). Columns documented in docs/marts.md."
)
#: What every mart shares: its group and owner, and how fresh dashboards expect it. When it refreshes (once after
#: each load that changed its inputs) is set where the load is known: pipelines/definitions.py, after_load.
MART = {
    "group_name": "marts",
    "owners": ["team:data-platform"],
    "freshness_policy": MART_REFRESH,
}


@asset(
    deps=["case_resolution"],
    kinds={"sql"},
    **MART,
    metadata=table_metadata(mart_daily_volume),
    description="Daily case volumes by handling department and item: golden cases, completed, records pulled "
    "for them and duplicates found." + MONTHLY_DESCRIPTION,
)
def daily_volume_mart(
    context: AssetExecutionContext, config: MartRefresh, warehouse: ResourceParam[Warehouse]
) -> MaterializeResult:
    with warehouse.begin() as conn:
        refreshed = refresh_daily_volume(conn, full=config.full())
        rows = conn.execute(sa.select(sa.func.count()).select_from(mart_daily_volume)).scalar_one()
    top = warehouse.read(
        sa.select(
            mart_daily_volume.c.handling_dept,
            sa.func.sum(mart_daily_volume.c.cases).label("cases"),
            sa.func.sum(mart_daily_volume.c.duplicates_found).label("duplicates_found"),
        ).group_by(mart_daily_volume.c.handling_dept)
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "refreshed": refreshed.describe(),
            "rows_written": refreshed.rows_written,
            "by_department": MetadataValue.md(top.to_markdown(index=False)),
        }
    )


@asset(
    deps=["delivery_status"],
    kinds={"sql"},
    **MART,
    metadata=table_metadata(mart_delivery_status),
    description="Delivery status per receiver and day: case versions, acknowledged, pending, dead-lettered, and "
    "whether the reconciliation could verify the day against the receiver's own query (`receiver_check`: verified, "
    "cannot verify)." + MART_DESCRIPTION,
)
def delivery_status_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    with warehouse.begin() as conn:
        if rebuilt_if_changed(conn, mart_delivery_status):
            context.log.info(f"{mart_delivery_status.name}: its columns changed with this version; created anew")
        rows = rebuild(conn, mart_delivery_status, delivery_status_select())
    return MaterializeResult(metadata={"dagster/row_count": rows})


@asset(
    deps=["licence_repository", "case_resolution"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_licence_reuse, mart_material_reuse),
    description="Licence reuse (一次录入，全程共享): for each application, which required materials were already "
    "in the licence repository as the applicant's valid licence that day, so need not be submitted; per item "
    "and month in `mart_licence_reuse`, per application in `mart_material_reuse`." + PER_CASE_DESCRIPTION,
)
def licence_reuse_mart(
    context: AssetExecutionContext, config: MartRefresh, warehouse: ResourceParam[Warehouse]
) -> MaterializeResult:
    r, m = mart_material_reuse.c, mart_licence_reuse.c
    with warehouse.begin() as conn:
        anew = created_anew(context, conn, mart_material_reuse, mart_licence_reuse)
        refreshed = refresh_reuse(conn, full=config.full() or anew)
        totals = conn.execute(
            sa.select(sa.func.count(sa.distinct(r.golden_case_id)), sa.func.sum(sa.case((r.available, 1), else_=0)))
        ).one()
        monthly = warehouse.read(sa.select(mart_licence_reuse).order_by(m.item_code, m.month), conn)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(monthly),
            "refreshed": refreshed.describe(),
            "applications": int(totals[0] or 0),
            "materials_not_needed": int(totals[1] or 0),
            "by_item_and_month": MetadataValue.md(monthly.to_markdown(index=False) if len(monthly) else "none"),
        }
    )


@asset(
    deps=["case_resolution"],
    kinds={"sql"},
    **MART,
    metadata=table_metadata(mart_channel_monthly),
    description="申报渠道 and 不见面审批 per month, handling department and accepting place (with its region code): "
    "cases, cases with a known channel, not-in-person cases (submitted online, delivered by express or "
    "electronically; reporting/definitions.yaml) and their share, and cases per 审批方式 (审批, 备案, 告知承诺, "
    "容缺受理)." + MONTHLY_DESCRIPTION,
)
def channel_mart(
    context: AssetExecutionContext, config: MartRefresh, warehouse: ResourceParam[Warehouse]
) -> MaterializeResult:
    with warehouse.begin() as conn:
        refreshed = refresh_channel(conn, full=config.full() or created_anew(context, conn, mart_channel_monthly))
        rows = conn.execute(sa.select(sa.func.count()).select_from(mart_channel_monthly)).scalar_one()
    m = mart_channel_monthly.c
    share = sa.cast(sa.func.sum(m.not_in_person), sa.Float) / sa.func.nullif(sa.func.sum(m.determinable), 0)
    by_month = warehouse.read(
        sa.select(
            m.month,
            sa.func.sum(m.cases).label("cases"),
            sa.func.sum(m.channel_known).label("channel_known"),
            sa.func.sum(m.not_in_person).label("not_in_person"),
            share.label("not_in_person_share"),
        )
        .group_by(m.month)
        .order_by(m.month)
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "refreshed": refreshed.describe(),
            "rows_written": refreshed.rows_written,
            "by_month": MetadataValue.md(by_month.to_markdown(index=False) if len(by_month) else "no cases yet"),
        }
    )


NEXT_YEAR = "next_year_calendar_published"


def _today() -> dt.date:
    return clock.today()


@asset(
    name="working_calendar",
    group_name="marts",
    kinds={"csv", "sql"},
    owners=["team:data-platform"],
    automation_condition=AutomationCondition.on_cron("0 1 * * *", cron_timezone=LOCAL_TZ),
    metadata=table_metadata(working_calendar),
    check_specs=[  # about the rows written: next year's are provisional until its schedule is published
        AssetCheckSpec(
            NEXT_YEAR,
            asset="working_calendar",
            description="Next year's holiday schedule (schemas/calendar/YYYY.csv) is in: until it is, deadlines "
            "reaching into that year are provisional.",
        )
    ],
    description="The working-day calendar (法定节假日 and 调休) from schemas/calendar/, one row per day from the "
    "first published year to two years ahead, for deadlines and for BI tools to join to.",
)
def working_calendar_table(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    cal, today = calendar(), _today()
    rows = calendar_rows(cal, dt.date(cal.first_year, 1, 1), dt.date(today.year + 2, 12, 31))
    with warehouse.begin() as conn:
        conn.execute(working_calendar.delete())
        insert_frame(conn, working_calendar, rows)
    missing = cal.next_year_missing(today)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "last_published_year": cal.last_published_year,
            "published_rows": len(cal.published),
        },
        check_results=[
            AssetCheckResult(
                check_name=NEXT_YEAR,
                passed=not missing,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "last_published_year": cal.last_published_year,
                    "what_to_do": f"add schemas/calendar/{today.year + 1}.csv from the State Council's notice"
                    if missing
                    else "nothing",
                },
            )
        ],
    )


@asset(
    deps=["projects", "case_resolution", "working_calendar"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_projects, mart_project_stages, mart_projects_monthly),
    description="Investment projects and the 45: per project and stage (`mart_project_stages`: start, end, working "
    "days against the stage's limit, the department), per project (`mart_projects`: 立项 → 施工许可 working days, "
    "parallel stages once, 特别程序 and applicant-held time out; stage reached, days left, stages late, the stage "
    "that held it up, key project) and per month of 施工许可 (`mart_projects_monthly`). The 45, the stages' limits "
    "and the key-project rule are reporting/definitions.yaml; beside them, each national stage against the limit "
    "the project's own approval process sets (`process_stages`: `national_limit_days`, `national_stages_late`). "
    "docs/projects.md." + MART_DESCRIPTION,
)
def projects_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    settings = definitions().projects
    today = _today()
    p, h = projects.c, project_handlings.c
    with warehouse.begin() as conn:
        tracked = warehouse.read(
            sa.select(
                p.project_code,
                p.project_name,
                p.unit_name,
                p.site,
                p.total_investment_wan,
                p.key_flag,
                p.process_code,
                p.process_version,
            ).where(p.status == "tracked"),
            conn,
        )
        limits = national_limits(
            tracked, warehouse.read(sa.select(process_stages).where(process_stages.c.status == "current"), conn)
        )
        handlings = warehouse.read(sa.select(project_handlings).where(h.status == "linked"), conn)
        handlings["source"] = handlings["source_system"]
        stages = project_stage_rows(handlings, calendar(), today, settings, limits)
        coded = warehouse.read(
            sa.select(golden_cases.c.golden_case_id, golden_cases.c.project_code).where(
                golden_cases.c.project_code.is_not(None)
            ),
            conn,
        )
        clocks = project_clocks(tracked, handlings, stages, calendar(), today, settings, coded, limits)
        monthly = projects_monthly(clocks)
        replace_table(conn, mart_project_stages, stages, context.log.info)
        replace_table(conn, mart_projects, clocks, context.log.info)
        replace_table(conn, mart_projects_monthly, monthly, context.log.info)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(clocks),
            "stages": len(stages),
            "by_month": MetadataValue.md(
                monthly.drop(columns="held_up_by").to_markdown(index=False) if len(monthly) else "none"
            ),
        }
    )


@asset(
    deps=["staged_cases", "case_resolution", "working_calendar", "projects_mart"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_case_deadlines, mart_2345_monthly, mart_startup_chains, mart_startup_steps),
    description="Each golden case's working-day duration from acceptance to completion, gross and net of its "
    "特别程序 (补正, 听证, 专家评审 …: `staged_pauses`, left out per 行政许可法 Art. 45), against its promised and "
    "statutory limits (on time, late, running, overdue, returned; with the deadline dates), in "
    "`mart_case_deadlines`; the 2345 targets per month in `mart_2345_monthly`; 企业开办 as one chain per "
    "enterprise (设立登记, 刻章, 发票, 社保 "
    "by its USCC: `mart_startup_chains`, `mart_startup_steps`), on which the startup target is counted."
    + PER_CASE_DESCRIPTION,
)
def deadlines_mart(
    context: AssetExecutionContext, config: MartRefresh, warehouse: ResourceParam[Warehouse]
) -> MaterializeResult:
    today = _today()
    cal = calendar()
    startup = definitions().startup
    d = mart_case_deadlines.c
    with warehouse.begin() as conn:
        anew = created_anew(context, conn, mart_case_deadlines, mart_2345_monthly)
        refreshed, pauses, changes = refresh_case_deadlines(conn, cal, today, full=config.full() or anew)
        # 企业开办 chains: built again for the enterprises whose cases changed, and those still running
        chains_anew = created_anew(context, conn, mart_startup_chains, mart_startup_steps)
        refresh_startup(conn, cal, today, startup, pauses, changes, full=chains_anew)
        c = mart_startup_chains.c
        chains = warehouse.read(sa.select(c.month, c.result, c.working_days_net, c.last_step_completed_on), conn)
        counted = sa.select(d.target_2345, d.month_completed, d.within_target, d.working_days_net)
        deadlines = warehouse.read(counted.where(d.within_target.is_not(None)), conn)
        clocks = warehouse.read(sa.select(mart_projects), conn)
        monthly = monthly_2345(deadlines, project_clocks=clocks, startup=chains_for_2345(chains))
        conn.execute(mart_2345_monthly.delete())
        insert_frame(conn, mart_2345_monthly, monthly)
        results = warehouse.read(
            sa.select(d.promise_result, sa.func.count().label("cases")).group_by(d.promise_result), conn
        )
        totals = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((d.deadline_provisional, 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((d.paused_working_days > 0, 1), else_=0)), 0),
            )
        ).one()
    return MaterializeResult(
        metadata={
            "dagster/row_count": int(totals[0]),
            "refreshed": refreshed.describe(),
            "rows_written": refreshed.rows_written,
            "against_promised_limit": MetadataValue.md(results.to_markdown(index=False) if len(results) else "none"),
            "targets_2345": MetadataValue.md(monthly.to_markdown(index=False) if len(monthly) else "no cases yet"),
            "provisional_deadlines": int(totals[1]),
            "cases_with_pauses": int(totals[2]),
            "startup_chains": MetadataValue.md(
                chains["result"].value_counts().rename("chains").reset_index().to_markdown(index=False)
                if len(chains)
                else "no start-ups yet"
            ),
        }
    )


def resolution_backlog_select() -> sa.Select:
    """Per partition day: records staged, duplicates found (status updates apart), review queue open and decided."""
    links = (
        sa.select(
            case_links.c.partition_date.label("day"),
            sa.func.count().label("records"),
            sa.func.sum(sa.case((case_links.c.role == "duplicate", 1), else_=0)).label("duplicates"),
            sa.func.sum(
                sa.case(
                    ((case_links.c.match_rule == "same_source_record") & (case_links.c.role == "duplicate"), 1),
                    else_=0,
                )
            ).label("updates"),
        )
        .group_by(case_links.c.partition_date)
        .subquery()
    )
    q, d = review_queue.c, review_decisions.c
    pair = (
        (d.source_system_l == q.source_system_l)
        & (d.source_record_id_l == q.source_record_id_l)
        & (d.source_system_r == q.source_system_r)
        & (d.source_record_id_r == q.source_record_id_r)
    )
    decided = sa.exists().where(pair)
    reviews = (
        sa.select(
            q.partition_date.label("day"),
            sa.func.sum(sa.case((decided, 0), else_=1)).label("open"),
            sa.func.sum(sa.case((decided, 1), else_=0)).label("decided"),
        )
        .group_by(q.partition_date)
        .subquery()
    )
    return sa.select(
        links.c.day,
        links.c.records,
        (links.c.duplicates - links.c.updates).label("duplicates_found"),
        links.c.updates.label("status_updates"),
        sa.func.coalesce(reviews.c.open, 0).label("review_open"),
        sa.func.coalesce(reviews.c.decided, 0).label("review_decided"),
    ).select_from(links.outerjoin(reviews, links.c.day == reviews.c.day))


ALL_LINKED = "every_staged_record_linked_once"


@asset(
    deps=["case_resolution"],
    kinds={"sql"},
    **MART,
    metadata=table_metadata(mart_resolution_backlog),
    description="Duplicates found per day (re-entries and double typing, status updates apart) and the review "
    "queue's backlog." + MART_DESCRIPTION,
)
def resolution_backlog_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    with warehouse.begin() as conn:
        rows = rebuild(conn, mart_resolution_backlog, resolution_backlog_select())
    total = sa.select(sa.func.coalesce(sa.func.sum(mart_resolution_backlog.c.review_open), 0).label("n"))
    open_pairs = int(warehouse.read(total)["n"].iloc[0] or 0)
    return MaterializeResult(metadata={"dagster/row_count": rows, "review_open": open_pairs})


@asset(
    deps=["evaluations", "case_resolution"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_evaluations_monthly),
    description="好差评 per month of evaluation, handling department, item and channel: evaluations per level, "
    "satisfied, the satisfaction rate, and on each `all` row the coverage (cases completed in the month that were "
    "evaluated) and the 差评 open and past a deadline. Which levels count as satisfied, and whether a 系统默认评价 "
    "is rated, is reporting/definitions.yaml." + MART_DESCRIPTION,
)
def evaluations_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    settings = definitions().evaluations
    with warehouse.begin() as conn:
        mart = monthly_evaluations_in_warehouse(conn, settings)
        replace_table(conn, mart_evaluations_monthly, mart, context.log.info)
    overall = mart[mart["channel"] == "all"].groupby("month")[["evaluations", "satisfied_count", "rated", "poor"]].sum()
    overall["satisfaction_rate"] = (overall["satisfied_count"] / overall["rated"]).round(4)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(mart),
            "satisfied_levels": ", ".join(settings.satisfied_levels),
            "by_month": MetadataValue.md(overall.reset_index().to_markdown(index=False) if len(overall) else "none"),
        }
    )


@asset(
    deps=["hotline_orders"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_hotline_monthly),
    description="12345 orders per month of dispatch, origin (province, city, district) and first-level category, "
    "with a subtotal per origin and a total per month (`all`): orders, those about an approval case, per result, "
    "the on-time rate and the satisfaction rate. Which answers count as satisfied, what on time is measured by and "
    "which results the rates count is reporting/definitions.yaml. No personal data." + MART_DESCRIPTION,
)
def hotline_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    settings = definitions().hotline
    with warehouse.begin() as conn:
        states = warehouse.read(sa.select(hotline_orders), conn)
        mart = monthly_hotline(states, settings)
        replace_table(conn, mart_hotline_monthly, mart, context.log.info)
    total = mart[(mart["origin"] == "all") & (mart["category_1"] == "all")]
    shown = total[["month", "orders", "about_cases", "on_time_rate", "satisfaction_rate"]].round(4)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(mart),
            "satisfied_values": ", ".join(settings.satisfied_values),
            "on_time_basis": settings.on_time_basis,
            "by_month": MetadataValue.md(shown.to_markdown(index=False) if len(shown) else "none"),
        }
    )


@asset(
    name="mart_supervision_followup",
    deps=["findings", "licence_repository"],
    kinds={"pandas", "sql"},
    **MART,
    metadata=table_metadata(mart_supervision_followup),
    description="审管互动 back to approval: per month of completion, handling department and approval mode "
    "(审批, 备案, 告知承诺, 容缺受理), the approvals completed, those followed by an inspection of the holder within "
    "`inspection_window_days`, those whose inspection failed, and the 告知承诺 approvals found untrue (a finding "
    "of an untrue kind, a failed inspection or a revocation within the window). Definitions in "
    "reporting/definitions.yaml. No personal data." + MART_DESCRIPTION,
)
def supervision_followup_mart(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    settings = definitions().supervision
    with warehouse.begin() as conn:
        mart = followup_in_warehouse(conn, settings, clock.today())
        replace_table(conn, mart_supervision_followup, mart, context.log.info)
    by_month = (
        mart.groupby("month")[["approvals", "inspected", "found_untrue"]].sum().reset_index() if len(mart) else mart
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(mart),
            "inspection_window_days": settings.inspection_window_days,
            "by_month": MetadataValue.md(by_month.to_markdown(index=False) if len(by_month) else "none"),
        }
    )
