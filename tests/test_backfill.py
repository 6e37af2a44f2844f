"""``approval-bridge backfill`` against a running instance (``dagster dev``: webserver, daemon, code server), on
the embedded default (SQLite) and on the production instance configuration (PostgreSQL storage, warehouse on
PostgreSQL). A second identical backfill changes no row of what the days hold."""

import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sandbox.instance import DAY_TABLES, ROOT, DevInstance, day_contents
from tests.conftest import SANDBOX_START, pipeline_environment, start_sandbox

DAYS = 3


def _backfill(instance: DevInstance, env: dict[str, str], *extra: str) -> str:
    last = SANDBOX_START + dt.timedelta(days=DAYS - 1)
    return instance.backfill(env, str(SANDBOX_START), str(last), *extra, timeout=600)


def _run(tmp_path: Path, instance_yaml: Path, warehouse_url: str, extra_env: dict[str, str]) -> None:
    sandbox = start_sandbox(tmp_path / "sandbox", days=DAYS, cases_per_day=6, fault_level="none")
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

        _backfill(instance, env)  # the same days again: nothing may change
        second = day_contents(warehouse_url)
        for table in DAY_TABLES:
            pd.testing.assert_frame_equal(first[table], second[table], obj=table)

    finally:
        instance.stop()
        sandbox.stop()


def test_backfill_on_the_embedded_default(tmp_path):
    _run(tmp_path, ROOT / "dagster_home" / "dagster.yaml", f"sqlite:///{tmp_path / 'warehouse.sqlite'}", {})


def test_backfill_on_postgresql(tmp_path, postgres_url):
    # Instance storage and warehouse on PostgreSQL, with the production instance configuration.
    production = ROOT / "dagster_home" / "production" / "dagster.yaml"
    _run(tmp_path, production, postgres_url, {"DAGSTER_POSTGRES_URL": postgres_url})


@pytest.mark.parametrize("source", [None, "housing", "market_regulation"])
def test_backfill_selection(source):
    from pipelines.backfill import selection
    from pipelines.cli import _asset_names
    from pipelines.definitions import DAILY_ASSETS
    from pipelines.pull.sources import SOURCES

    chosen = selection(_asset_names(DAILY_ASSETS), source, [s.name for s in SOURCES])
    raw = {a for a in chosen if a.startswith("raw_")}
    if source is None:
        assert len(chosen) == len(_asset_names(DAILY_ASSETS))
    elif source == "housing":
        assert raw == {"raw_housing"} and "case_resolution" in chosen
    else:
        assert raw == {"raw_market_regulation", "raw_licence_feed"}
