"""Backfills on the embedded default (instance storage and warehouse in SQLite files): three weeks (two runs at
a time under the backfill tag limit, the third queued behind them) complete, and a second identical backfill changes
no row. And the backfill's unit, a week of days in one run, leaves exactly the rows seven daily runs leave.

Apart from test_backfill.py so that, on two workers, these run beside the 90-day backfill rather than after it."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckSeverity, DagsterInstance, instance_for_test

from pipelines.definitions import build_definitions
from pipelines.partitions import partition_range_tags
from sandbox.demo import QUIET
from sandbox.instance import DAY_TABLES, ROOT, day_contents
from tests.conftest import pipeline_environment, start_sandbox
from tests.test_backfill import FIRST, _backfill, _day, _first_load, _running, _unchanged

THREE_WEEKS = 21
ERROR = AssetCheckSeverity.ERROR


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(2400)
def test_three_weeks_backfill_twice_on_the_embedded_default(tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    with _running(tmp_path, ROOT / "dagster_home" / "dagster.yaml", url, THREE_WEEKS) as (instance, env):
        _backfill(instance, env, FIRST, _day(THREE_WEEKS - 1))
        first = _first_load(instance, url, THREE_WEEKS, env)
        _backfill(instance, env, FIRST, _day(THREE_WEEKS - 1))  # the same days again: nothing may change
        _unchanged(first, url, env)


def _load(tmp_path: Path, monkeypatch, name: str, runs: list[list[str]]) -> dict[str, pd.DataFrame]:
    """Two weeks of the sandbox through the daily job, one run per entry of ``runs``."""
    # No late department reports here: the licence repository builds each day's licences from the golden cases as
    # they stand when it runs, so a case a later day's record changes gets one more licence version from seven
    # daily runs than from a week in one run (the content ends the same). The rest must match row for row.
    sandbox = start_sandbox(
        tmp_path / name, start=FIRST, days=14, cases_per_day=12, fault_level="none", late_report_rate=0.0
    )
    url = f"sqlite:///{tmp_path / name / 'warehouse.sqlite'}"
    try:
        for key, value in pipeline_environment(sandbox, url).items():
            monkeypatch.setenv(key, value)
        job = build_definitions().resolve_job_def("daily_cases")
        with instance_for_test() as instance:
            for keys in runs:
                _execute(job, instance, keys)
        return day_contents(url)
    finally:
        sandbox.stop()


def _execute(job, instance: DagsterInstance, keys: list[str]) -> None:
    # One day as the daily schedule runs it (a partition key); several as a backfill run does (a key range).
    chosen = {"partition_key": keys[0]} if len(keys) == 1 else {"tags": partition_range_tags(keys)}
    result = job.execute_in_process(instance=instance, run_config=QUIET, **chosen)
    assert result.success
    # Warnings may fire (a department with no case on a working day of the small sandbox); errors may not.
    failed = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed and c.severity == ERROR]
    assert not failed, f"{keys[0]}…{keys[-1]}: {failed}"


@pytest.mark.slow
@pytest.mark.integration
def test_a_week_in_one_run_leaves_the_rows_of_seven_daily_runs(tmp_path, monkeypatch):
    keys = [str(FIRST + dt.timedelta(days=i)) for i in range(14)]
    daily = _load(tmp_path, monkeypatch, "daily", [[k] for k in keys])
    weekly = _load(tmp_path, monkeypatch, "weekly", [keys[:7], keys[7:]])
    assert len(daily["golden_cases"]) and len(daily["licences"])
    for table in DAY_TABLES:  # two loads at different times: when an outbox row was created differs, nothing else
        left, right = (frame.drop(columns=["created_at"], errors="ignore") for frame in (daily[table], weekly[table]))
        pd.testing.assert_frame_equal(left, right, obj=table)
