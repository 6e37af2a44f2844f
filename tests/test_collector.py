"""A process of the bridge settles the garbage collector once its definitions are loaded: what the imports made is
frozen out of the collector's walks and the thresholds are raised (pipelines.settle_collector). Checked in a new
interpreter, as a run worker starts, so the test's own process is not changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # a new interpreter importing the definitions: seconds, not a unit's milliseconds

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import gc, json
before = gc.get_threshold()
import pipelines.definitions
import pipelines
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "wanted": pipelines.COLLECTOR_THRESHOLDS}))
"""


def test_loading_the_definitions_settles_the_collector():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["before"] == [700, 10, 10], "Python's defaults before the bridge is imported"
    assert found["after"] == found["wanted"] == [50_000, 20, 100]
    assert found["frozen"] > 100_000, "the imports' objects are frozen out of the collector's walks"
