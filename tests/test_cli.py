"""The commands as IT staff run them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.test_resolution import CO, CO_ID, cases, clerk, dept

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_demo_command_prints_and_writes_the_reconciliation(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_DIR", "_APP_KEY", "_APP_SECRET"))}
    env["DAGSTER_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "demo", "--days", "2", "--cases-per-day", "15", "--ack-timeout", "30"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Reconciliation" in result.stdout and "FAILED" not in result.stdout
    figures = json.loads((home / "demo-summary.json").read_text())
    assert {"pulled", "staged", "quarantined", "golden", "duplicates", "targets"} <= set(figures)
    assert figures["pulled"] == figures["staged"] + figures["quarantined"] > 0
    assert figures["staged"] == figures["golden"] + figures["duplicates"]
    for name in ("one_network", "municipal"):
        target = figures["targets"][name]
        assert set(target) >= {"acknowledged", "pending", "dead_lettered", "received_cases", "duplicate_effects"}
        assert target["duplicate_effects"] == (0 if name == "one_network" else None)  # receipts cannot tell
        assert target["verified_by"]
        assert target["case_versions"] == target["acknowledged"] + target["pending"] + target["dead_lettered"]
    assert (home / "warehouse.sqlite").exists() and (home / "sandbox" / "truth.csv").exists()


def test_dedup_command_keeps_every_row(tmp_path):
    frame = cases(
        dept("MR-1", "SCJG-QYSL", CO, CO_ID, "2026-11-16 09:00"),
        clerk("AP-1", "", "恒达科技有限公司", "9132041258558653XF", "2026/11/17", item_name="企业开办"),
        clerk("AP-2", "", "", "", "", item_name=""),  # almost nothing known: still one output row
        dept("MR-2", "SCJG-SPJY", CO, CO_ID, "2026-11-16 09:05"),
    )
    source = tmp_path / "cases.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "clusters.csv"
    result = subprocess.run(
        [str(BIN / "approval-bridge"), "dedup", "--input", str(source), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    assert "4 records → 3 clusters; 1 pairs linked" in result.stdout
    clusters = pd.read_csv(out, dtype=str)
    assert clusters["source_record_id"].tolist() == ["MR-1", "AP-1", "AP-2", "MR-2"]
    by_id = dict(zip(clusters["source_record_id"], clusters["cluster_id"], strict=True))
    assert by_id["MR-1"] == by_id["AP-1"] and len({by_id["MR-1"], by_id["AP-2"], by_id["MR-2"]}) == 3


def test_a_stand_in_port_in_use_is_one_line_not_a_traceback():
    import socket

    from sandbox.runtime import PortInUse, _ServerThread

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is in use: another sandbox"):
            _ServerThread(lambda scope, receive, send: None, port)


def test_an_empty_dagster_home_is_refused_naming_the_warehouse_then_read_once_loaded(tmp_path):
    """Issue 23: `reconcile` on a DAGSTER_HOME never loaded exits non-zero in one line naming the warehouse (and
    creates no file); the same home once loaded is named, and `explain` fits 120 columns."""
    from core.warehouse import Warehouse
    from tests.test_operator_commands import columns, fill

    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_WAREHOUSE")}
    env.update(DAGSTER_HOME=str(tmp_path), COLUMNS="200")  # a wide terminal must not widen the output

    def command(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "approval-bridge"), *arguments], env=env, capture_output=True, text=True, timeout=300
        )

    refused = command("reconcile")
    path = tmp_path / "warehouse.sqlite"
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout
    assert refused.stderr.splitlines() == [
        f"approval-bridge reconcile: the warehouse sqlite:///{path} was never loaded: the file does not exist; "
        "check DAGSTER_HOME and BRIDGE_WAREHOUSE_URL, or give --allow-empty to go on with it empty"
    ]
    assert not path.exists()
    warehouse = Warehouse(url=f"sqlite:///{path}")
    fill(warehouse)
    warehouse.dispose()
    explained = command("explain", "GC00000000000001")
    assert explained.returncode == 0 and explained.stderr == "", explained.stderr
    named = " ".join(explained.stdout.split("\n")[:2])  # on two lines when it does not fit in 120 columns
    assert named.startswith(f"warehouse sqlite:///{path}") and "(1 loads of 1 sources, days 2026-11-16" in named
    assert "Golden case GC00000000000001 (version 2): 2 records" in explained.stdout
    assert max(columns(line) for line in explained.stdout.splitlines()) <= 120
