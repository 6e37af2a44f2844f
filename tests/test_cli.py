"""The commands as IT staff run them."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_demo_command_prints_and_writes_the_reconciliation(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_DIR", "_APP_KEY", "_APP_SECRET"))}
    env["DAGSTER_HOME"] = str(home)
    result = subprocess.run(
        [str(BIN / "approval-bridge"), "demo", "--days", "2", "--cases-per-day", "15", "--ack-timeout", "30"],
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
        assert target["duplicate_effects"] == 0
        assert target["case_versions"] == target["acknowledged"] + target["pending"] + target["dead_lettered"]
    assert (home / "warehouse.sqlite").exists() and (home / "sandbox" / "truth.csv").exists()
