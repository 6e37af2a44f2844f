"""The platforms' feeds: ``raw_<feed>`` lands what each feed sent (as ``raw_<department>`` does), the 好差评
evaluations are staged (``staged_evaluations``) and followed to their cases (``evaluations``), and the 12345
orders are staged (``staged_hotline_orders``, callers' personal data masked) and linked to the cases they are
about (``hotline_orders``)."""

import datetime as dt
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Backoff,
    Jitter,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    RetryPolicy,
    asset,
)

from connectors.sources import DepartmentSource
from core import clock
from core.feeds import Feed, feeds, feeds_of
from core.warehouse import Warehouse, replace_table
from licensing.repository import link_findings
from pipelines.marts.assets import MartRefresh, created_anew
from pipelines.metadata import report_days, table_metadata
from pipelines.partitions import DAILY, DAILY_LOAD, WEEKLY_CHUNKS, partition_days, per_day
from pipelines.pull.assets import land
from reporting.definitions import definitions
from reporting.evaluations import refresh_evaluations
from reporting.hotline import order_states
from reporting.projects import handling_states, process_stage_states, project_states, review_candidates
from reporting.supervision import finding_states, newest_findings
from resolution.evaluations import number_index
from schemas.projects import project_stages
from schemas.warehouse import (
    evaluations,
    findings,
    golden_cases,
    hotline_orders,
    process_stages,
    project_handlings,
    project_link_review,
    projects,
    quarantined_feed_records,
    raw_feed_records,
    source_loads,
    staged_evaluations,
    staged_findings,
    staged_hotline_orders,
    staged_process_stages,
    staged_project_items,
    staged_projects,
)
from schemas.workdays import calendar
from staging.evaluations import stage_evaluations
from staging.feeds import stamp_day
from staging.findings import stage_findings
from staging.hotline import stage_hotline
from staging.projects import stage_process_stages, stage_project_items, stage_projects


def build_feed_asset(feed: Feed) -> AssetsDefinition:
    @asset(
        name=feed.asset_name,
        partitions_def=DAILY,
        group_name="feeds",
        kinds={feed.connector.kind, "sqlalchemy"},
        owners=[feed.owner],
        required_resource_keys={feed.resource, "warehouse"},
        pool=feed.pool,
        retry_policy=RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS),
        freshness_policy=DAILY_LOAD,
        backfill_policy=WEEKLY_CHUNKS,
        metadata=table_metadata(raw_feed_records, source_loads),
        description=f"{feed.title}: the records changed on the partition's day, exactly as the feed sent them. "
        "Re-running a day replaces that day.",
    )
    def raw_feed(context: AssetExecutionContext) -> MaterializeResult:
        source: DepartmentSource = getattr(context.resources, feed.resource)
        warehouse: Warehouse = context.resources.warehouse
        loads, notes = [], []
        for day in partition_days(context):
            batch = source.fetch_changes(day.start, day.end)
            loads.append(land(warehouse, feed.name, day.date, (day.start, day.end), batch, raw_feed_records))
            notes += batch.notes
            for note in batch.notes:
                (context.log.info if batch.complete else context.log.warning)(note)
        frame = pd.DataFrame(loads)
        report_days(context, frame[["partition_date", "rows_pulled", "rows_collapsed"]], "rows_pulled")
        return MaterializeResult(
            metadata={  # the run's; each day's own counts: report_days
                "rows_in_run": int(frame["rows_pulled"].sum()),
                "by_day": MetadataValue.md(
                    per_day(frame[["partition_date", "rows_pulled", "rows_collapsed"]].to_dict("records"))
                ),
                "notes": MetadataValue.md("\n".join(f"- {n}" for n in notes) or "none"),
            }
        )

    return raw_feed


FEED_ASSETS = [build_feed_asset(feed) for feed in feeds().values()]
EVALUATION_FEEDS = feeds_of("evaluations")
HOTLINE_FEEDS = feeds_of("hotline")
FINDING_FEEDS = feeds_of("findings")
PROJECT_FEEDS = feeds_of("projects")
PROJECT_ITEM_FEEDS = feeds_of("project_items")
PROCESS_STAGE_FEEDS = feeds_of("process_stages")


def stage_feed_day(
    warehouse: Warehouse, feed: Feed, partition: dt.date, stager: Callable, staged_table: sa.Table
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage one feed's day with ``stager`` (raw, feed, day → staged, quarantined), replacing exactly that day's
    rows of the feed in ``staged_table`` and ``quarantined_feed_records``."""
    r = raw_feed_records.c
    raw = warehouse.read(
        sa.select(r.record_key, r.payload).where((r.partition_date == partition) & (r.source_system == feed.name))
    )
    staged, quarantined = stager(raw, feed, partition)
    now = clock.now()
    with warehouse.begin() as conn:
        warehouse.replace_partition(
            conn, staged_table, partition, staged.assign(partition_date=partition), source_system=feed.name
        )
        warehouse.replace_partition(
            conn,
            quarantined_feed_records,
            partition,
            quarantined.assign(partition_date=partition, quarantined_at=now),
            source_system=feed.name,
        )
        stamp_day(conn, staged_table, feed.name, partition, now)
    return staged, quarantined


def stage_feeds(
    context: AssetExecutionContext, warehouse: Warehouse, feeds: dict[str, Feed], stager: Callable, table: sa.Table
) -> MaterializeResult:
    """Every day of the run, every feed of a kind: staged and quarantined, with what the UI shows of it."""
    rows, reasons = [], []
    for day in partition_days(context):
        for feed in feeds.values():
            staged, quarantined = stage_feed_day(warehouse, feed, day.date, stager, table)
            rows.append(
                {"partition_date": day.date, "feed": feed.name, "staged": len(staged), "quarantined": len(quarantined)}
            )
            reasons += list(quarantined["reason_code"]) if len(quarantined) else []
    by_reason = pd.Series(reasons, dtype="string").value_counts()
    frame = pd.DataFrame(rows, columns=["partition_date", "feed", "staged", "quarantined"])
    report_days(context, frame, "staged")
    return MaterializeResult(
        metadata={  # the run's; each day's own counts: report_days
            "staged_in_run": int(frame["staged"].sum()),
            "quarantined_in_run": int(frame["quarantined"].sum()),
            "by_day": MetadataValue.md(per_day(rows)),
            "quarantine_reasons": MetadataValue.md(
                by_reason.rename("records").to_markdown() if len(by_reason) else "none"
            ),
        }
    )


def build_staged_asset(
    feeds_of_kind: dict[str, Feed], stager: Callable, table: sa.Table, description: str
) -> AssetsDefinition:
    """The daily staging asset of one kind of feed (named after its table): every feed of the kind, every day of
    the run, staged into ``table`` or quarantined (:func:`stage_feeds`)."""

    @asset(
        name=table.name,
        deps=[f.asset_name for f in feeds_of_kind.values()],
        partitions_def=DAILY,
        group_name="feeds",
        kinds={"pandas", "sqlalchemy"},
        owners=["team:data-platform"],
        backfill_policy=WEEKLY_CHUNKS,
        metadata=table_metadata(table, quarantined_feed_records),
        description=description,
    )
    def staged(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
        return stage_feeds(context, warehouse, feeds_of_kind, stager, table)

    return staged


staged_evaluations_asset = build_staged_asset(
    EVALUATION_FEEDS,
    stage_evaluations,
    staged_evaluations,
    "好差评 evaluations mapped onto the canonical evaluation (level, channel, time, 办件编号, the 差评's "
    "handling steps), their text's digit runs masked; a record that cannot be used goes to "
    "`quarantined_feed_records` with one reason (unknown level or channel code, no 办件编号, an unreadable time …). "
    "Re-running a day replaces that day.",
)


@asset(
    name="evaluations",
    deps=["staged_evaluations", "case_resolution"],
    group_name="feeds",
    kinds={"pandas", "sqlalchemy"},
    owners=["team:approval-bureau"],
    metadata=table_metadata(evaluations),
    description="Every 好差评 evaluation pulled, once, in its newest state: linked to its golden case by 办件编号, "
    "waiting for its case (reported after `waiting_report_after_days`), or quarantined; the one that stands for "
    "each case; each 差评's handling (received, verified, rectified, revisited) against its working-day "
    "deadlines (reporting/definitions.yaml). Kept up to date: only the evaluations a load can have changed are "
    "computed again (reporting/evaluations.py, refresh_evaluations: the days staged anew, the golden cases "
    "changed, those waiting and the 差评 still open); whole on its first refresh, when its rules change, or with "
    "`full_rebuild` (BRIDGE_MARTS_FULL_REBUILD=1).",
)
def evaluations_asset(
    context: AssetExecutionContext, config: MartRefresh, warehouse: ResourceParam[Warehouse]
) -> MaterializeResult:
    e = evaluations.c
    with warehouse.begin() as conn:
        full = config.full() or created_anew(context, conn, evaluations)
        refreshed = refresh_evaluations(
            conn, list(EVALUATION_FEEDS), calendar(), definitions().evaluations, clock.today(), full=full
        )
        by_status = dict(conn.execute(sa.select(e.status, sa.func.count()).group_by(e.status)).all())
        by_follow_up = dict(conn.execute(sa.select(e.follow_up, sa.func.count()).group_by(e.follow_up)).all())
        waiting = warehouse.read(
            sa.select(e.note, sa.func.count().label("evaluations"))
            .where(e.status == "waiting")
            .group_by(e.note)
            .order_by(sa.func.count().desc(), e.note),
            conn,
        )
    return MaterializeResult(
        metadata={
            "dagster/row_count": int(sum(by_status.values())),
            "refreshed": refreshed.describe(),
            "linked": int(by_status.get("linked", 0)),
            "waiting": int(by_status.get("waiting", 0)),
            "quarantined": int(by_status.get("quarantined", 0)),
            "poor_open": int(by_follow_up.get("open", 0) + by_follow_up.get("overdue", 0)),
            "poor_overdue": int(by_follow_up.get("overdue", 0)),
            "waiting_by_reason": MetadataValue.md(waiting.set_index("note").to_markdown() if len(waiting) else "none"),
        }
    )


staged_hotline_orders_asset = build_staged_asset(
    HOTLINE_FEEDS,
    stage_hotline,
    staged_hotline_orders,
    "12345 orders mapped onto the canonical order (origin, channel, categories, handling unit, dispatch "
    "time, deadline, 办结 time, result, 回访满意度, overdue flag, the case it names), the item named identified in "
    "the catalogue, the caller's name, phone and the content's digit runs masked; a record that cannot be used goes "
    "to `quarantined_feed_records` with one reason (unknown result code, an unreadable time, no order id, an "
    "unreadable export …). Re-running a day replaces that day.",
)


def build_order_states(warehouse: Warehouse, conn: sa.Connection) -> pd.DataFrame:
    """Every hotline order pulled, in its newest state, linked or not (``reporting.hotline.order_states``)."""
    g = golden_cases.c
    records = warehouse.read(sa.select(staged_hotline_orders), conn)
    quarantined = warehouse.read(
        sa.select(quarantined_feed_records).where(quarantined_feed_records.c.source_system.in_(list(HOTLINE_FEEDS))),
        conn,
    )
    numbers = number_index(conn, case_nos=records["case_no"].dropna() if len(records) else [])
    # an order is linked by applicant only to a case of the item it names: the golden cases of those items alone
    o = staged_hotline_orders.c
    named = sa.select(o.item_code).where(o.item_code.is_not(None) & o.applicant_name.is_not(None))
    golden = warehouse.read(
        sa.select(g.golden_case_id, g.applicant_name, g.item_code, g.submitted_at).where(g.item_code.in_(named)), conn
    )
    return order_states(records, quarantined, numbers, golden, definitions().hotline)


@asset(
    name="hotline_orders",
    deps=["staged_hotline_orders", "case_resolution"],
    group_name="feeds",
    kinds={"pandas", "sqlalchemy"},
    owners=["team:approval-bureau"],
    metadata=table_metadata(hotline_orders),
    description="Every 12345 order pulled, once, in its newest state: linked to the golden case it is about (by "
    "办件编号, or by applicant and item within `link_window_days`), left for review (several candidate cases), "
    "unlinked (about no case: most orders) or quarantined; on time or late by reporting/definitions.yaml. No "
    "personal data. Rebuilt whole.",
)
def hotline_orders_asset(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    with warehouse.begin() as conn:
        states = build_order_states(warehouse, conn)
        replace_table(conn, hotline_orders, states, context.log.info)
    by_status = states["status"].value_counts()
    by_rule = states["link_rule"].value_counts()
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(states),
            **{status: int(by_status.get(status, 0)) for status in ("linked", "review", "unlinked", "quarantined")},
            "linked_by": MetadataValue.md(by_rule.rename("orders").to_markdown() if len(by_rule) else "none"),
            "by_timeliness": MetadataValue.md(
                states["timeliness"].value_counts().rename("orders").to_markdown() if len(states) else "none"
            ),
        }
    )


staged_projects_asset = build_staged_asset(
    PROJECT_FEEDS,
    stage_projects,
    staged_projects,
    "Investment projects (工程建设项目审批管理系统) mapped onto the canonical project, the 投资项目代码 "
    "checked: a record whose code fails the check goes to `quarantined_feed_records`. Re-running a day replaces it.",
)


staged_project_items_asset = build_staged_asset(
    PROJECT_ITEM_FEEDS,
    stage_project_items,
    staged_project_items,
    "Each item handled for a project (事项实例: item, department, accepted, ended, outcome from its last step's "
    "办理状态, 补正 and 特别程序 pauses, its stage in its process), the project code checked; a step in a code the "
    "declaration does not map is quarantined. Re-running a day replaces that day.",
)


staged_process_stages_asset = build_staged_asset(
    PROCESS_STAGE_FEEDS,
    stage_process_stages,
    staged_process_stages,
    "The stages of the district's approval processes (流程阶段: process and version, stage, the national "
    "stage it stands for, its limit in working days): a national stage outside 1-4 and 5 并行推进, or a limit "
    "that is not a positive whole number (0 for 并行推进), goes to `quarantined_feed_records`. Re-running a day "
    "replaces that day.",
)


@asset(
    name="projects",
    deps=["staged_projects", "staged_project_items", "staged_process_stages", "case_resolution"],
    group_name="feeds",
    kinds={"pandas", "sqlalchemy"},
    owners=["team:approval-bureau"],
    metadata=table_metadata(projects, project_handlings, project_link_review, process_stages),
    description="Every project pulled, once (tracked or quarantined), every process stage (current or quarantined: "
    "`process_stages`), every item handling (linked to its project and "
    "to the golden case whose 办件编号 is its 事项实例编码, waiting for its project, or quarantined), and the golden "
    "cases that look like a step of a project but carry no code (`project_link_review`: offered, never linked). "
    "Rebuilt whole.",
)
def projects_asset(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    g = golden_cases.c
    q = quarantined_feed_records
    with warehouse.begin() as conn:
        found = project_states(
            warehouse.read(sa.select(staged_projects), conn),
            warehouse.read(sa.select(q).where(q.c.source_system.in_(list(PROJECT_FEEDS))), conn),
        )
        tracked = set(found.loc[found["status"] == "tracked", "project_code"])
        # only the golden cases a handling names (by 办件编号) or of a stage item (review_candidates): not every case
        named = sa.select(staged_project_items.c.handling_id)
        golden = warehouse.read(
            sa.select(
                g.golden_case_id,
                g.case_no,
                g.item_code,
                g.item_name,
                g.applicant_id,
                g.address,
                g.accepted_at,
                g.project_code,
            )
            .where(g.item_code.in_(sorted(project_stages()["item_code"])) | g.case_no.in_(named))
            .order_by(g.golden_case_id),
            conn,
        )
        handled = handling_states(
            warehouse.read(sa.select(staged_project_items), conn),
            warehouse.read(sa.select(q).where(q.c.source_system.in_(list(PROJECT_ITEM_FEEDS))), conn),
            tracked,
            golden,
        )
        linked = handled[handled["status"] == "linked"]
        review = review_candidates(found[found["status"] == "tracked"], linked, golden)
        replace_table(conn, projects, found, context.log.info)
        replace_table(conn, project_handlings, handled, context.log.info)
        replace_table(conn, project_link_review, review, context.log.info)
        stages = process_stage_states(
            warehouse.read(sa.select(staged_process_stages), conn),
            warehouse.read(sa.select(q).where(q.c.source_system.in_(list(PROCESS_STAGE_FEEDS))), conn),
        )
        replace_table(conn, process_stages, stages, context.log.info)
    by_status = pd.concat([found["status"], handled["status"]]).value_counts()
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(found),
            "handlings": len(handled),
            **{status: int(by_status.get(status, 0)) for status in ("tracked", "linked", "waiting", "quarantined")},
            "cases_linked": int(linked["golden_case_id"].notna().sum()),
            "for_review": len(review),
            "process_stages": len(stages),
            "process_stages_quarantined": int((stages["status"] == "quarantined").sum()) if len(stages) else 0,
        }
    )


staged_findings_asset = build_staged_asset(
    FINDING_FEEDS,
    stage_findings,
    staged_findings,
    "审管互动 findings fed back by supervising departments (inspection results, orders to rectify, "
    "suspensions, revocations, credit blacklisting) mapped onto the canonical finding, the holder's code "
    "normalised (it stays in this table only), the 事由's digit runs masked; a record that cannot be used goes to "
    "`quarantined_feed_records` with one reason (unknown kind code, no holder code, an unreadable date …). The "
    "day's suspensions and revocations fold into `licence_repository` the same day. Re-running a day replaces "
    "that day.",
)


def build_finding_states(warehouse: Warehouse, conn: sa.Connection) -> pd.DataFrame:
    """Every finding pulled, in its newest state, linked to its holder and licences or not."""
    records = warehouse.read(sa.select(staged_findings), conn)
    quarantined = warehouse.read(
        sa.select(quarantined_feed_records).where(quarantined_feed_records.c.source_system.in_(list(FINDING_FEEDS))),
        conn,
    )
    linked = link_findings(conn, newest_findings(records)) if len(records) else None
    return finding_states(linked, quarantined, clock.today())


@asset(
    name="findings",
    deps=["staged_findings", "licence_repository"],
    group_name="feeds",
    kinds={"pandas", "sqlalchemy"},
    owners=["team:approval-bureau"],
    metadata=table_metadata(findings),
    description="Every 审管互动 finding pulled, once, in its newest state: linked to its holder (and the licences it "
    "names, by number or the holder's licences of its type), `unknown_holder` (no holder the repository knows by "
    "that code: kept and reported), or quarantined; whether it is open today. A 身份证号 is masked. What the "
    "sharing API shows the approval bureau and `mart_supervision_followup` counts. Rebuilt whole.",
)
def findings_asset(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    with warehouse.begin() as conn:
        states = build_finding_states(warehouse, conn)
        replace_table(conn, findings, states, context.log.info)
    by_status = states["status"].value_counts()
    unknown = states[states["status"] == "unknown_holder"]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(states),
            **{status: int(by_status.get(status, 0)) for status in ("linked", "unknown_holder", "quarantined")},
            "in_force": int(states["in_force"].sum()),
            "by_kind": MetadataValue.md(
                states["kind"].value_counts().rename("findings").to_markdown() if len(states) else "none"
            ),
            "unknown_holders": MetadataValue.md(
                unknown[["finding_id", "kind", "holder_code", "department"]].to_markdown(index=False)
                if len(unknown)
                else "none"
            ),
        }
    )
