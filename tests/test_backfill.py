"""Backfills. ``approval-bridge backfill`` over 90 days against a running instance (``dagster dev``: webserver,
daemon, code server), on the embedded default (SQLite) and on the production instance configuration (PostgreSQL
storage, warehouse on PostgreSQL): it completes, and a second identical backfill changes no row of what the days
hold. And the backfill's unit, a week of days in one run, leaves exactly the rows seven daily runs leave."""

import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sandbox.demo import QUIET
from dagster import AssetCheckSeverity, DagsterInstance, instance_for_test

from pipelines.definitions import build_definitions
from pipelines.partitions import WEEKLY_CHUNKS, partition_range_tags
from sandbox.instance import DAY_TABLES, ROOT, DevInstance, day_contents
from tests.conftest import pipeline_environment, start_sandbox

DAYS = 90
FIRST = dt.date(2026, 6, 1)  # 90 days that are all past: the daily partitions end yesterday
LAST = FIRST + dt.timedelta(days=DAYS - 1)
ERROR = AssetCheckSeverity.ERROR


def _backfill(instance: DevInstance, env: dict[str, str]) -> str:
    return instance.backfill(env, str(FIRST), str(LAST), timeout=1080)


def _run(tmp_path: Path, instance_yaml: Path, warehouse_url: str, extra_env: dict[str, str]) -> None:
    sandbox = start_sandbox(tmp_path / "sandbox", start=FIRST, days=DAYS, cases_per_day=4, fault_level="none")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(instance_yaml, home / "dagster.yaml")
    env = {**os.environ, **pipeline_environment(sandbox, warehouse_url), **extra_env}
    instance = DevInstance(home, env)
    try:
        output = _backfill(instance, env)
        assert f"{DAYS} of {DAYS} days materialized" in output, output
        first = day_contents(warehouse_url)
        pulled, staged, quarantined = (len(first[t]) for t in ("raw_records", "staged_cases", "quarantined_records"))
        assert pulled == staged + quarantined > 0
        assert first["staged_cases"]["partition_date"].nunique() == DAYS
        backfill_runs = [r for r in instance.runs() if any(t["key"] == "dagster/backfill" for t in r["tags"])]
        assert len(backfill_runs) == -(-DAYS // WEEKLY_CHUNKS.max_partitions_per_run)  # a week of days per run
        assert {r["status"] for r in backfill_runs} == {"SUCCESS"}

        output = _backfill(instance, env)  # the same days again: nothing may change
        assert f"{DAYS} of {DAYS} days materialized" in output, output
        second = day_contents(warehouse_url)
        for table in DAY_TABLES:
            pd.testing.assert_frame_equal(first[table], second[table], obj=table)
    finally:
        instance.stop()
        sandbox.stop()


# Two 90-day backfills take 8-10 minutes on two cores, more than the suite's 10-minute default allows one test.
@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(2400)
def test_backfill_on_the_embedded_default(tmp_path):
    _run(tmp_path, ROOT / "dagster_home" / "dagster.yaml", f"sqlite:///{tmp_path / 'warehouse.sqlite'}", {})


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(2400)
def test_backfill_on_postgresql(tmp_path, postgres_url):
    # Instance storage and warehouse on PostgreSQL, with the production instance configuration.
    production = ROOT / "dagster_home" / "production" / "dagster.yaml"
    _run(tmp_path, production, postgres_url, {"DAGSTER_POSTGRES_URL": postgres_url})


def _load(tmp_path: Path, monkeypatch, name: str, runs: list[list[str]]) -> dict[str, pd.DataFrame]:
    """Two weeks of the sandbox through the daily job, one run per entry of ``runs``."""
    sandbox = start_sandbox(tmp_path / name, start=FIRST, days=14, cases_per_day=12, fault_level="none")
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


@pytest.mark.integration
def test_a_week_in_one_run_leaves_the_rows_of_seven_daily_runs(tmp_path, monkeypatch):
    keys = [str(FIRST + dt.timedelta(days=i)) for i in range(14)]
    daily = _load(tmp_path, monkeypatch, "daily", [[k] for k in keys])
    weekly = _load(tmp_path, monkeypatch, "weekly", [keys[:7], keys[7:]])
    assert len(daily["golden_cases"]) and len(daily["licences"])
    for table in DAY_TABLES:  # two loads at different times: when an outbox row was created differs, nothing else
        left, right = (frame.drop(columns=["created_at"], errors="ignore") for frame in (daily[table], weekly[table]))
        pd.testing.assert_frame_equal(left, right, obj=table)


@pytest.mark.unit
@pytest.mark.parametrize("source", [None, "housing", "market_regulation"])
def test_backfill_selection(source):
    from cli.backfill import selection
    from cli.main import _asset_names
    from core.departments import departments, licence_feeds
    from pipelines.definitions import DAILY_ASSETS

    chosen = selection(_asset_names(DAILY_ASSETS), source, list(departments()), tuple(licence_feeds()))
    raw = {a for a in chosen if a.startswith("raw_")}
    if source is None:
        assert len(chosen) == len(_asset_names(DAILY_ASSETS))
    elif source == "housing":
        assert raw == {"raw_housing"} and "case_resolution" in chosen
    else:
        assert raw == {"raw_market_regulation", "raw_licence_feed"}
