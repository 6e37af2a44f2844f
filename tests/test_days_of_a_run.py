"""A run over several days (a backfill's week) tells the truth per day in the UI: one materialisation per partition
with that day's own ``dagster/row_count``, and one evaluation per partition of each daily check, none "skipped".
Staging run in process over three days of raw records made here (3 good, then 1 good and 1 without a name, then
none), on a small warehouse."""

import datetime as dt
import json

import pandas as pd
import pytest
from dagster import AssetSelection, AssetSpec, Definitions, define_asset_job, instance_for_test

from core.departments import departments
from core.warehouse import Warehouse, insert_frame
from pipelines.partitions import DAILY, partition_range_tags
from pipelines.stage.assets import stage
from pipelines.stage.checks import pulled_equals_staged_plus_quarantined, staged_cases_expectations
from schemas.warehouse import raw_records, source_loads
from tests.test_staging import GOOD_MARKET, sblsh

pytestmark = pytest.mark.unit

DAYS = [dt.date(2026, 11, 16), dt.date(2026, 11, 17), dt.date(2026, 11, 18)]
AT = dt.datetime(2026, 11, 19, 2)


def market_record(day: dt.date, serial: int, **changes) -> dict:
    payload = {**GOOD_MARKET, "SBLSH": sblsh(serial), **changes}
    return {"source_system": "market_regulation", "partition_date": day, "record_key": payload["SBLSH"],
            "changed_at": f"{day} 10:00:00", "payload": json.dumps(payload, ensure_ascii=False), "batch_id": "b",
            "fetched_at": AT}  # fmt: skip


def pulled_days(warehouse: Warehouse, rows: list[dict]) -> None:
    """The raw records, and every declared source's pull of every day finished (the pulls are not under test)."""
    loads = [
        {"source_system": source, "partition_date": day, "batch_id": f"{source}-{day}", "window_start": AT,
         "window_end": AT, "rows_pulled": 0, "rows_collapsed": 0, "fetched_at": AT}
        for source in departments() for day in DAYS
    ]  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, raw_records, pd.DataFrame(rows))
        insert_frame(conn, source_loads, pd.DataFrame(loads))


def test_a_three_day_run_reports_each_day(warehouse):
    pulled_days(
        warehouse,
        [
            *(market_record(DAYS[0], n) for n in (1, 2, 3)),
            market_record(DAYS[1], 4),
            market_record(DAYS[1], 5, SQRMC=""),  # no applicant name: quarantined
        ],
    )
    raw = [AssetSpec(spec.asset_name, partitions_def=DAILY) for spec in departments().values()]
    defs = Definitions(
        assets=[*raw, stage],
        asset_checks=[pulled_equals_staged_plus_quarantined, staged_cases_expectations],
        jobs=[define_asset_job("stage_days", selection=AssetSelection.assets(stage), partitions_def=DAILY)],
        resources={"warehouse": warehouse},
    )
    with instance_for_test() as instance:
        result = defs.resolve_job_def("stage_days").execute_in_process(
            instance=instance, tags=partition_range_tags([str(d) for d in DAYS])
        )
        assert result.success

        def counts(asset: str) -> dict[str, int]:
            events = result.asset_materializations_for_node("stage")
            return {e.partition: e.metadata["dagster/row_count"].value for e in events if e.asset_key.path == [asset]}

        assert counts("staged_cases") == {"2026-11-16": 3, "2026-11-17": 1, "2026-11-18": 0}
        assert counts("quarantined_records") == {"2026-11-16": 0, "2026-11-17": 1, "2026-11-18": 0}

        evaluations = result.get_asset_check_evaluations()
        assert sorted((e.check_name, e.partition, e.passed) for e in evaluations) == sorted(
            (check, str(day), True)
            for check in ("pulled_equals_staged_plus_quarantined", "staged_cases_expectations")
            for day in DAYS
        )
        by_day = {e.partition: e.metadata for e in evaluations if e.check_name.startswith("pulled")}
        assert [by_day[str(d)]["pulled"].value for d in DAYS] == [3, 2, 0]
        # what the UI lists under each check: the three days, none without a partition, none left planned
        for check in (pulled_equals_staged_plus_quarantined, staged_cases_expectations):
            (key,) = check.check_keys
            history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
            assert sorted((r.partition, r.status.value) for r in history) == [(str(d), "SUCCEEDED") for d in DAYS]
