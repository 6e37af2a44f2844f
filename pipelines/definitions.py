"""The Dagster code location: the case pipeline from department systems to receivers, licences and marts."""

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    in_process_executor,
    schedule,
)

from pipelines import settle_collector
from pipelines.automation import after_load
from pipelines.corrections.assets import corrections_asset, corrections_mart
from pipelines.corrections.checks import every_quarantine_and_refusal_in_one_entry
from pipelines.deliver.assets import (
    DELIVERY_ASSETS,
    delivery_status,
    follow_deliveries_job,
    nightly_reconciliation,
    outstanding_deliveries,
)
from pipelines.deliver.checks import DELIVERY_CHECKS
from pipelines.feeds.assets import (
    FEED_ASSETS,
    evaluations_asset,
    findings_asset,
    hotline_orders_asset,
    projects_asset,
    staged_evaluations_asset,
    staged_findings_asset,
    staged_hotline_orders_asset,
    staged_process_stages_asset,
    staged_project_items_asset,
    staged_projects_asset,
)
from pipelines.feeds.checks import FEED_CHECKS
from pipelines.licences.assets import licence_expiry, licence_repository, pull_licence_feed
from pipelines.licences.checks import LICENCE_CHECKS
from pipelines.marts.assets import (
    channel_mart,
    daily_volume_mart,
    deadlines_mart,
    delivery_status_mart,
    evaluations_mart,
    hotline_mart,
    licence_reuse_mart,
    projects_mart,
    resolution_backlog_mart,
    supervision_followup_mart,
    working_calendar_table,
)
from pipelines.marts.checks import every_staged_record_linked_once
from pipelines.marts.purpose import every_read_has_its_case, purpose_binding_mart
from pipelines.partitions import DAILY
from pipelines.pull.assets import RAW_ASSETS
from pipelines.resolve.assets import case_resolution
from pipelines.resolve.checks import one_item_per_golden_case, staged_equals_golden_plus_duplicates
from pipelines.resources import build_resources
from pipelines.review.checks import REVIEW_CHECKS
from pipelines.stage.assets import stage
from pipelines.stage.checks import pulled_equals_staged_plus_quarantined, staged_cases_expectations
from schemas.case import LOCAL_TZ

DAILY_ASSETS = [
    *RAW_ASSETS,
    *FEED_ASSETS,
    stage,
    staged_evaluations_asset,
    staged_hotline_orders_asset,
    staged_projects_asset,
    staged_project_items_asset,
    staged_process_stages_asset,
    staged_findings_asset,
    case_resolution,
    *DELIVERY_ASSETS,
    pull_licence_feed,
    licence_repository,
]
#: On a clock of their own: the calendar at 01:00, licence expiry at 00:15 (their automation conditions).
ON_CRON = [working_calendar_table, licence_expiry]
#: Rebuilt whole from what the load wrote: once after each load that changed their inputs (pipelines/automation.py).
AFTER_LOAD = [
    daily_volume_mart,
    deadlines_mart,
    delivery_status_mart,
    resolution_backlog_mart,
    licence_reuse_mart,
    channel_mart,
    purpose_binding_mart,
    evaluations_asset,
    evaluations_mart,
    hotline_orders_asset,
    hotline_mart,
    projects_asset,
    projects_mart,
    findings_asset,
    supervision_followup_mart,
    corrections_asset,
    corrections_mart,
]
#: The ends of the daily load (its assets no other daily asset reads): while one is planned or running, a load is.
LOAD = AssetSelection.assets(*DAILY_ASSETS)
LOAD_ENDS = LOAD.sinks().resolve(DAILY_ASSETS)
AFTER_LOAD = [asset.with_attributes(automation_condition=after_load(LOAD, LOAD_ENDS)) for asset in AFTER_LOAD]
UNPARTITIONED_ASSETS = [delivery_status, *ON_CRON, *AFTER_LOAD]

daily_cases_job = define_asset_job(
    "daily_cases",
    selection=AssetSelection.assets(*DAILY_ASSETS),
    partitions_def=DAILY,
    description="One day of cases: pull every department, stage, resolve, deliver, build licences.",
    tags={"dagster/max_retries": "1"},
)
refresh_marts_job = define_asset_job(
    "refresh_marts",
    selection=AssetSelection.assets(*UNPARTITIONED_ASSETS) - AssetSelection.assets(delivery_status),
    description="Expire licences, rebuild the calendar and the marts (delivery_status: follow_acknowledgements).",
)


@schedule(
    job=daily_cases_job,
    cron_schedule="30 1 * * *",
    execution_timezone=LOCAL_TZ,
    default_status=DefaultScheduleStatus.RUNNING,
)
def daily_cases_schedule(context: ScheduleEvaluationContext):
    """01:30 every day: yesterday's partition, and the day before again to catch late changes and re-entries."""
    keys = DAILY.get_partition_keys(current_time=context.scheduled_execution_time)[-2:]
    for key in keys:
        yield RunRequest(run_key=f"{key}@{context.scheduled_execution_time:%Y%m%d}", partition_key=key)


marts_automation = AutomationConditionSensorDefinition(
    "marts_automation",
    target=AssetSelection.assets(*UNPARTITIONED_ASSETS) - AssetSelection.assets(delivery_status),
    default_status=DefaultSensorStatus.RUNNING,
    description="Refreshes the state tables and marts once after each load that changed their inputs (a day's "
    "load, a backfill, a follow-up that got an answer; pipelines/automation.py), the calendar and licence expiry on "
    "their clocks. Each asset's Automation tab says what held it back.",
)


CHECKS = [
    pulled_equals_staged_plus_quarantined,
    staged_cases_expectations,
    staged_equals_golden_plus_duplicates,
    one_item_per_golden_case,
    *DELIVERY_CHECKS,
    *LICENCE_CHECKS,
    *FEED_CHECKS,
    every_staged_record_linked_once,
    every_read_has_its_case,
    every_quarantine_and_refusal_in_one_entry,
    *REVIEW_CHECKS,
]
#: The checks with a verdict per day (pipelines/partitions.py, daily_check).
DAILY_CHECKS = [c for c in CHECKS if all(spec.partitions_def == DAILY for spec in c.check_specs)]
#: Dagster 1.13 cannot partition a job of checks alone, nor execute a partitioned check from its page: the days are
#: the run's partition tags, as the daily runs carry them.
recheck_days_job = define_asset_job(
    "recheck_days",
    selection=AssetSelection.checks(*DAILY_CHECKS),
    description="The daily checks alone, nothing loaded or materialised: one verdict per day and check, each on its "
    "partition. Pick the days in the Launchpad's tags: `dagster/partition` = 2026-12-06, or "
    "`dagster/asset_partition_range_start` and `_end` for several; without them, the last seven days.",
)


def build_definitions() -> Definitions:
    return Definitions(
        assets=[*DAILY_ASSETS, *UNPARTITIONED_ASSETS],
        asset_checks=CHECKS,
        jobs=[daily_cases_job, refresh_marts_job, follow_deliveries_job, recheck_days_job],
        schedules=[daily_cases_schedule, nightly_reconciliation],
        sensors=[outstanding_deliveries, marts_automation],
        resources=build_resources(),
        executor=in_process_executor,  # one process per run: on two cores, step processes cost more than they give
    )


defs = build_definitions()
settle_collector()
