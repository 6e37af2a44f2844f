"""The code location loads, validates, and has the graph, schedule and checks the UI shows."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetKey,
    Definitions,
    RunRequest,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from core import clock
from core.warehouse import Warehouse
from pipelines.definitions import daily_cases_schedule, defs, nightly_reconciliation, outstanding_deliveries
from schemas.warehouse import outbox
from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.unit
def test_definitions_are_loadable():
    Definitions.validate_loadable(defs)


@pytest.mark.integration
def test_dagster_definitions_validate_cli():
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "dagster"), "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(ROOT / "dagster_home")},
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.unit
def test_asset_graph_reads_as_the_design():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "raw_market_regulation",
        "raw_housing",
        "raw_health",
        "raw_approval_platform",
        "staged_cases",
        "quarantined_records",
        "case_resolution",
        "one_network_delivery",
        "municipal_delivery",
        "delivery_status",
        "licence_repository",
        "daily_volume_mart",
        "delivery_status_mart",
        "raw_evaluations",
        "staged_evaluations",
        "evaluations",
        "evaluations_mart",
        "channel_mart",
        "raw_hotline",
        "staged_hotline_orders",
        "hotline_orders",
        "hotline_mart",
        "raw_spgl_projects",
        "raw_spgl_project_items",
        "staged_projects",
        "staged_project_items",
        "raw_spgl_process_stages",
        "staged_process_stages",
        "projects",
        "projects_mart",
        "raw_supervision_findings",
        "staged_findings",
        "findings",
        "mart_supervision_followup",
        "corrections",
        "corrections_mart",
    } <= keys
    groups = {graph.get(AssetKey(k)).group_name for k in keys}
    assert groups == {"pull", "stage", "resolve", "deliver", "licences", "marts", "feeds", "corrections"}
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "pulled_equals_staged_plus_quarantined",
        "staged_cases_expectations",
        "staged_equals_golden_plus_duplicates",
        "every_version_accounted_for",
        "receiver_holds_what_it_acknowledged",
        "no_stale_pending",
        "licence_identifiers_valid",
        "hotline_pulled_equals_staged_plus_quarantined",
        "every_order_once",
        "project_records_staged_or_quarantined",
        "project_item_records_staged_or_quarantined",
        "process_stage_records_staged_or_quarantined",
        "finding_records_staged_or_quarantined",
        "every_finding_accounted_for",
        "every_quarantine_and_refusal_in_one_entry",
    } <= checks
    # 审管互动: a day's findings fold into that day's licence repository, then the state table and the mart follow
    assert AssetKey("staged_findings") in graph.get(AssetKey("licence_repository")).parent_keys
    assert AssetKey("licence_repository") in graph.get(AssetKey("findings")).parent_keys
    # corrections follow staging, resolution and the receivers' answers; the mart follows them
    parents = graph.get(AssetKey("corrections")).parent_keys
    assert {
        AssetKey(k) for k in ("quarantined_records", "case_resolution", "municipal_delivery", "delivery_status")
    } <= parents
    assert AssetKey("corrections") in graph.get(AssetKey("corrections_mart")).parent_keys


@pytest.mark.unit
def test_daily_schedule_loads_yesterday_and_the_day_before():
    tick = dt.datetime(2026, 11, 27, 1, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    with instance_for_test() as instance:
        requests = list(daily_cases_schedule(build_schedule_context(instance=instance, scheduled_execution_time=tick)))
    assert [r.partition_key for r in requests] == ["2026-11-25", "2026-11-26"]


@pytest.mark.unit
def test_outstanding_deliveries_sensor_follows_up_only_while_something_waits(tmp_path):
    """The request's shape (tests/test_follow_up.py: when it comes, over simulated time)."""
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    start = dt.datetime.combine(TODAY, dt.time(20))

    def tick(minute: int, cursor: str | None):
        with clock.frozen_at(start + dt.timedelta(minutes=minute)):
            context = build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse})
            return outstanding_deliveries(context)

    with instance_for_test() as instance:
        assert tick(0, None).skip_reason is not None
        with warehouse.begin() as conn:
            conn.execute(
                outbox.insert(),
                {
                    "target": "municipal",
                    "idempotency_key": "municipal:GC1:v1",
                    "golden_case_id": "GC1",
                    "version": 1,
                    "partition_date": TODAY - dt.timedelta(days=2),
                    "payload": "{}",
                    "payload_hash": "h",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": dt.datetime.combine(TODAY - dt.timedelta(days=2), dt.time(9)),
                },
            )
        seen = tick(1, None)
        assert not seen.run_requests and "municipal: 1 version sent" in seen.skip_reason.skip_message
        (request,) = tick(3, seen.cursor).run_requests
        assert isinstance(request, RunRequest) and request.tags["outstanding_versions"] == "1"
        # The receiver's delivery step over the pending day (in its pool), then delivery_status over the window.
        day = str(TODAY - dt.timedelta(days=2))
        assert set(request.asset_selection) == {AssetKey("municipal_delivery"), AssetKey("delivery_status")}
        assert (
            request.tags["dagster/asset_partition_range_start"]
            == request.tags["dagster/asset_partition_range_end"]
            == day
        )
        assert request.run_config["ops"]["delivery_status"]["config"]["days"] == 7
        assert "receiver_holds_what_it_acknowledged" not in {k.name for k in request.asset_check_keys}
        nightly = nightly_reconciliation(
            build_schedule_context(instance=instance, resources={"warehouse": warehouse},
                                   scheduled_execution_time=dt.datetime(2026, 11, 30, 3, tzinfo=clock.SHANGHAI))
        )  # fmt: skip
        assert nightly.run_config["ops"]["delivery_status"]["config"]["days"] is None  # the whole history
        assert "receiver_holds_what_it_acknowledged" in {k.name for k in nightly.asset_check_keys}
        later = start + dt.timedelta(days=30)  # past the window: the nightly reconciliation's, not ours
        with clock.frozen_at(later):
            context = build_sensor_context(instance=instance, resources={"warehouse": warehouse})
            assert not outstanding_deliveries(context).run_requests
    warehouse.dispose()


@pytest.mark.unit
def test_quality_identities_run_alone():
    """The identities are checks of their own, each re-runnable from the UI without materialising its asset."""
    graph = defs.resolve_asset_graph()
    standalone = {
        ("staged_cases", "pulled_equals_staged_plus_quarantined"),
        ("case_resolution", "staged_equals_golden_plus_duplicates"),
        ("one_network_delivery", "every_version_accounted_for"),
        ("municipal_delivery", "every_version_accounted_for"),
        ("supervision_delivery", "every_version_accounted_for"),
        ("delivery_status", "receiver_holds_what_it_acknowledged"),
        ("delivery_status", "no_stale_pending"),
        ("licence_repository", "licence_identifiers_valid"),
        ("licence_repository", "no_licence_valid_past_its_end_date"),
        ("licence_repository", "one_holder_per_identifier"),
        ("resolution_backlog_mart", "every_staged_record_linked_once"),
        ("resolution_backlog_mart", "nothing_waits_for_a_person_too_long"),
        ("corrections", "every_quarantine_and_refusal_in_one_entry"),
    }
    for key in graph.asset_check_keys:
        if (key.asset_key.to_user_string(), key.name) in standalone:
            assert graph.get_execution_set_asset_and_check_keys(key) == {key}, key
