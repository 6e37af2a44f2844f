"""No third-party warnings on the terminal (``make demo``): PySpark is imported only with the Spark resolution
backend, not by the definitions, the commands, nor Great Expectations' suite (schemas/expectations.py), which
would otherwise import it whenever it is installed and print its pandas FutureWarning and a line of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import sys
import pandas as pd
import cli.main, pipelines.definitions
from schemas.expectations import validate_staged
ok, rows = validate_staged(pd.DataFrame({"partition_date": [], "source_system": [], "record_key": []}))
spark = [m for m in sys.modules if m.startswith("pyspark")]
print(len(rows), "expectations;", "pyspark imported" if spark else "no pyspark")
print("-- the Spark backend imports it --", file=sys.stderr, flush=True)
import pyspark  # the Spark backend still can
print("pyspark", pyspark.__version__)
"""


def test_the_definitions_commands_and_the_suite_import_no_pyspark():
    pytest.importorskip("pyspark")
    result = subprocess.run(
        [sys.executable, "-W", "default::FutureWarning", "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].endswith("expectations; no pyspark"), result.stdout
    assert lines[1].startswith("pyspark "), result.stdout
    before_spark = result.stderr.split("-- the Spark backend imports it --")[0]
    assert "Warning" not in before_spark, result.stderr[-3000:]
