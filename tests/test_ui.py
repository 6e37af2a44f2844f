"""The Dagster UI as IT staff see it: the webserver on loopback, opened in headless Chromium. The asset graph
reads in its eight groups, the schedule and sensors are there, and the quality checks show on their assets."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipelines.definitions import build_definitions
from sandbox.instance import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GROUPS = ("pull", "stage", "feeds", "resolve", "deliver", "licences", "marts", "corrections")


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env={**os.environ, "DAGSTER_HOME": str(home)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/server_info", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the webserver did not come up"
        time.sleep(1)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def _groups() -> dict[str, list[str]]:
    graph = build_definitions().resolve_asset_graph()
    groups: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, []).append(key.to_user_string())
    return groups


def test_asset_graph_shows_every_group_and_asset(webserver, headless_dom):
    groups = _groups()
    assert set(groups) == set(GROUPS)
    for group in GROUPS:
        # the graph draws only the nodes in view: a window the size of the largest group's graph shows them all
        dom = headless_dom(f"{webserver}/locations/pipelines.definitions/asset-groups/{group}", 20000, "3200,4000")
        missing = [a for a in groups[group] if a not in dom]
        assert not missing, f"group {group}: {missing} not drawn"


def test_catalog_lists_assets_with_descriptions(webserver, headless_dom):
    dom = headless_dom(f"{webserver}/assets", 20000, "1600,6000")  # the list draws the rows in view: all of them
    for asset in (
        "raw_housing",
        "staged_cases",
        "case_resolution",
        "licence_repository",
        "delivery_status",
        "corrections",
    ):
        assert asset in dom


def test_schedule_and_sensors_are_there(webserver, headless_dom):
    dom = headless_dom(f"{webserver}/automation", 20000)
    for name in ("daily_cases_schedule", "outstanding_deliveries", "marts_automation"):
        assert name in dom, name


@pytest.mark.parametrize(
    ("asset", "checks"),
    [
        ("staged_cases", ("pulled_equals_staged_plus_quarantined", "staged_cases_expectations")),
        ("case_resolution", ("staged_equals_golden_plus_duplicates",)),
        ("municipal_delivery", ("every_version_accounted_for",)),
        ("delivery_status", ("receiver_holds_what_it_acknowledged", "no_stale_pending")),
        ("licence_repository", ("licence_identifiers_valid", "no_licence_valid_past_its_end_date")),
        ("corrections", ("every_quarantine_and_refusal_in_one_entry",)),
    ],
)
def test_checks_show_on_their_assets(webserver, asset, checks, headless_dom):
    dom = headless_dom(f"{webserver}/assets/{asset}?view=checks", 20000)
    for check in checks:
        assert check in dom, check
