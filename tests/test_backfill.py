"""``approval-bridge backfill`` against a running instance (``dagster dev``: webserver, daemon, code server), on
the embedded default (SQLite) and on the production instance configuration (PostgreSQL storage, warehouse on
PostgreSQL). A second identical backfill changes no row of what the days hold."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import SANDBOX_START, pipeline_environment, start_sandbox

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAYS = 3
#: What re-running a day may change: when it was fetched, linked, recorded. Everything else must stay.
BOOKKEEPING = {"batch_id", "fetched_at", "quarantined_at", "linked_at", "recorded_at", "queued_at", "updated_at",
               "sent_at", "acked_at", "attempts", "status", "receipt_id", "last_error"}  # fmt: skip
TABLES = ("raw_records", "staged_cases", "quarantined_records", "case_links", "golden_cases", "outbox",
          "raw_licence_feed", "licence_events", "licences", "holders")  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """``dagster dev`` on a DAGSTER_HOME of its own, in its own process group."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(home / "dagster-dev.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=ROOT, env={**env, "DAGSTER_HOME": str(home)}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/server_info", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, (home / "dagster-dev.log").read_text()[-3000:]
            time.sleep(1)
        raise AssertionError("dagster dev did not come up")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def _backfill(env: dict[str, str], url: str, *extra: str) -> str:
    last = SANDBOX_START.replace(day=SANDBOX_START.day + DAYS - 1)
    command = [str(BIN / "approval-bridge"), "backfill", "--from", str(SANDBOX_START), "--to", str(last), "--url", url,
               "--every", "2", "--timeout", "600", *extra]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=700)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _contents(url: str) -> dict[str, pd.DataFrame]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            frames = {t: pd.read_sql(sa.text(f"SELECT * FROM {t}"), conn) for t in TABLES}
    finally:
        engine.dispose()
    kept = {}
    for table, frame in frames.items():
        frame = frame.drop(columns=[c for c in frame.columns if c in BOOKKEEPING])
        kept[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True).astype(str)
    return kept


def _run(
    tmp_path: Path, instance_yaml: Path, warehouse_url: str, extra_env: dict[str, str], one_source: bool = False
) -> None:
    sandbox = start_sandbox(tmp_path / "sandbox", days=DAYS, cases_per_day=6, fault_level="none")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(instance_yaml, home / "dagster.yaml")
    env = {**os.environ, **pipeline_environment(sandbox, warehouse_url), **extra_env}
    instance = Instance(home, env)
    try:
        output = _backfill(env, instance.url)
        assert f"{DAYS} of {DAYS} days materialized" in output, output
        first = _contents(warehouse_url)
        pulled, staged, quarantined = (len(first[t]) for t in ("raw_records", "staged_cases", "quarantined_records"))
        assert pulled == staged + quarantined > 0
        assert first["staged_cases"]["partition_date"].nunique() == DAYS

        _backfill(env, instance.url)  # the same days again: nothing may change
        second = _contents(warehouse_url)
        for table in TABLES:
            pd.testing.assert_frame_equal(first[table], second[table], obj=table)

        if one_source:  # one department only: its pull and what follows, not the other departments' pulls
            out = _backfill(env, instance.url, "--source", "housing")
            assert "× 8 assets" in out, out  # raw_housing, staged, quarantined, resolution, 3 deliveries, licences
            pd.testing.assert_frame_equal(first["staged_cases"], _contents(warehouse_url)["staged_cases"])
    finally:
        instance.stop()
        sandbox.stop()


def test_backfill_on_the_embedded_default(tmp_path):
    _run(tmp_path, ROOT / "dagster_home" / "dagster.yaml", f"sqlite:///{tmp_path / 'warehouse.sqlite'}", {}, True)


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
