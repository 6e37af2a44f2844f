"""When the marts refresh (pipelines/automation.py), evaluated as the ``marts_automation`` sensor evaluates them, on
the real asset graph and a test instance: materialisations are reported as the runs would record them (with their
data versions), a day's load is a run created for the ``daily_cases`` job (its assets planned, so in progress).

Once per load: nothing while the load runs, everything that changed in one tick after it; a follow-up that changed
nothing refreshes nothing, one that got an answer refreshes what reads the outbox; a day never loaded holds nothing
back."""

import time

import pytest
from dagster import AssetKey, AssetMaterialization, AssetSelection, evaluate_automation_conditions, instance_for_test
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.storage.dagster_run import DagsterRunStatus

from pipelines.definitions import AFTER_LOAD, DAILY_ASSETS, LOAD_ENDS, ON_CRON, defs

pytestmark = pytest.mark.unit

DAY = "2026-11-28"
REFRESHED = AssetSelection.assets(*AFTER_LOAD)
KEYS = [key for asset in AFTER_LOAD for key in asset.keys]


def materialised(instance, key: AssetKey | str, partition: str | None = None, version: str | None = None) -> None:
    """A materialisation as a run records it: with a data version (its own, or one per run when the asset states
    none: the run's id stands in for its code version)."""
    tags = {DATA_VERSION_TAG: version or f"run-{time.monotonic_ns()}"}
    instance.report_runless_asset_event(AssetMaterialization(asset_key=key, partition=partition, tags=tags))


class Ticks:
    def __init__(self, instance) -> None:
        self.instance, self.cursor = instance, None

    def __call__(self) -> list[str]:
        result = evaluate_automation_conditions(defs, self.instance, asset_selection=REFRESHED, cursor=self.cursor)
        self.cursor = result.cursor
        return sorted(k.to_user_string() for k in KEYS if result.get_num_requested(k))


def everything_built(instance) -> None:
    for asset in [*AFTER_LOAD, *ON_CRON]:
        for key in asset.keys:
            materialised(instance, key)
    materialised(instance, "delivery_status", version="reconciled")


def test_the_load_ends_are_the_sinks_of_the_daily_load():
    names = {k.to_user_string() for k in LOAD_ENDS}
    assert {"one_network_delivery", "municipal_delivery", "supervision_delivery", "quarantined_records"} <= names
    assert "case_resolution" not in names and "raw_housing" not in names
    daily = {k for a in DAILY_ASSETS for k in a.keys}
    graph = defs.resolve_asset_graph()
    read = {parent for key in daily for parent in graph.get(key).parent_keys}
    assert daily - read == LOAD_ENDS


def test_once_after_a_load_and_only_when_an_input_changed():
    with instance_for_test() as instance:
        tick = Ticks(instance)
        everything_built(instance)
        assert tick() == []

        # a day's load starts: its assets are planned; resolution finishes first, the deliveries later
        load = instance.create_run_for_job(
            defs.resolve_job_def("daily_cases"), tags={"dagster/partition": DAY}, status=DagsterRunStatus.STARTED
        )
        for name in ("raw_housing", "staged_cases", "case_resolution", "licence_repository"):
            materialised(instance, name, DAY)
        assert tick() == []  # not while the load runs (eager would refresh the marts of resolution here)

        for asset in DAILY_ASSETS:
            for key in asset.keys:
                if key in LOAD_ENDS:
                    materialised(instance, key, DAY, version=f"{key.to_user_string()}-after-load")
        instance.handle_run_event(
            load.run_id,
            DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name="daily_cases", message="the load finished"),
        )
        after = tick()
        # everything whose inputs the load changed, in one tick (one run), the chains included (evaluations →
        # evaluations_mart); what reads delivery_status waits for it (the follow-up's)
        assert {"daily_volume_mart", "deadlines_mart", "evaluations", "evaluations_mart", "hotline_orders",
                "hotline_mart", "projects", "projects_mart", "resolution_backlog_mart", "channel_mart",
                "licence_reuse_mart", "findings", "mart_supervision_followup", "corrections",
                "corrections_mart", "purpose_binding_mart"} == set(after)  # fmt: skip
        for name in after:
            materialised(instance, name)
        assert tick() == []  # once: the refresh itself is no new input

        # the follow-up: the same outbox and reconciliation as before: nothing to refresh
        materialised(instance, "municipal_delivery", DAY, version="municipal_delivery-after-load")
        materialised(instance, "delivery_status", version="reconciled")
        assert tick() == []
        # a follow-up that got an acknowledgement: what reads the outbox refreshes
        materialised(instance, "municipal_delivery", DAY, version="one acknowledged")
        materialised(instance, "delivery_status", version="reconciled again")
        assert tick() == ["corrections", "corrections_mart", "delivery_status_mart"]


def test_a_day_never_loaded_holds_nothing_back():
    """Only DAY is loaded of the partitions since 2025: eager's any_deps_missing held every mart back for ever."""
    with instance_for_test() as instance:
        tick = Ticks(instance)
        everything_built(instance)
        tick()
        materialised(instance, "case_resolution", DAY)
        assert "daily_volume_mart" in tick()


def test_an_input_outside_the_load_never_built_holds_its_readers_back():
    with instance_for_test() as instance:
        tick = Ticks(instance)
        for asset in AFTER_LOAD:
            for key in asset.keys:
                materialised(instance, key)
        tick()
        materialised(instance, "case_resolution", DAY)
        requested = tick()
        assert "daily_volume_mart" in requested
        assert "deadlines_mart" not in requested  # reads working_calendar, never built
