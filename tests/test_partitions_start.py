"""Where the daily partitions start (``BRIDGE_PARTITIONS_START``): a date, checked, shown by ``config check``; the
demo's and ``make dev``'s first day, so the UI counts the days there can be data for."""

import datetime as dt
import json

import pytest

from core import settings
from tests.conftest import TODAY

pytestmark = pytest.mark.unit


def test_unset_keeps_the_days_the_partitions_always_had(monkeypatch):
    monkeypatch.delenv(settings.PARTITIONS_START_VARIABLE, raising=False)
    assert settings.partitions_start() == dt.date(2025, 1, 1)
    (row,) = [r for r in settings.resolved() if r["variable"] == settings.PARTITIONS_START_VARIABLE]
    assert (row["source"], row["value"]) == ("default", "2025-01-01")


def test_a_day_is_taken_and_shown(monkeypatch):
    monkeypatch.setenv(settings.PARTITIONS_START_VARIABLE, " 2026-10-26 ")
    assert settings.partitions_start() == dt.date(2026, 10, 26)
    (row,) = [r for r in settings.resolved() if r["variable"] == settings.PARTITIONS_START_VARIABLE]
    assert (row["source"], row["value"]) == ("environment", "2026-10-26")
    assert not [p for p in settings.check() if p.variable.name == settings.PARTITIONS_START_VARIABLE]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("2026-13-01", "'2026-13-01' is not a date (YYYY-MM-DD)"),
        ("26/10/2026", "'26/10/2026' is not a date (YYYY-MM-DD)"),
        (str(TODAY + dt.timedelta(days=1)), f"'{TODAY + dt.timedelta(days=1)}' is after today"),
    ],
)
def test_a_wrong_value_is_named_in_one_line(monkeypatch, value, said):
    monkeypatch.setenv(settings.PARTITIONS_START_VARIABLE, value)
    with pytest.raises(settings.ConfigurationError, match=r"^BRIDGE_PARTITIONS_START=") as raised:
        settings.partitions_start()
    assert said in str(raised.value) and "\n" not in str(raised.value)
    (problem,) = [p for p in settings.check() if p.variable.name == settings.PARTITIONS_START_VARIABLE]
    assert said in str(problem)


def test_make_dev_starts_where_the_last_demo_started(tmp_path, monkeypatch):
    from sandbox.demo import partitions_start

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    served = str(TODAY - dt.timedelta(days=35))
    assert partitions_start(35) == served  # no demo yet: the days the stand-ins serve
    (tmp_path / "demo-summary.json").write_text(json.dumps({"partitions": ["2026-10-01", "2026-10-02"]}))
    assert partitions_start(35) == "2026-10-01"  # a demo run earlier: its days stay in view
    (tmp_path / "demo-summary.json").write_text("{not json")
    assert partitions_start(35) == served


@pytest.mark.parametrize(
    ("end", "first", "month"),
    [
        (dt.date(2026, 12, 6), "2026-11-01", "2026-11"),  # on 7 December: November whole, and December so far
        (dt.date(2026, 12, 31), "2026-12-01", "2026-12"),  # on 1 January: December is whole
        (dt.date(2026, 3, 1), "2026-02-01", "2026-02"),  # on 2 March: February whole, and 1 March
    ],
)
def test_the_demo_loads_the_last_whole_month_and_reports_it(end, first, month):
    from sandbox.demo import DemoOptions, demo_window, figures_month

    keys = demo_window(DemoOptions(end=end))
    assert keys[0] == first and keys[-1] == str(end) and len(keys) == (end - dt.date.fromisoformat(first)).days + 1
    assert figures_month(keys) == month


def test_a_demo_of_some_days_reports_the_last_month_it_holds_whole_else_its_last_days_month():
    from sandbox.demo import DemoOptions, demo_window, figures_month

    assert demo_window(DemoOptions(days=35, end=dt.date(2026, 12, 6)))[0] == "2026-11-02"  # misses 1 November
    assert figures_month(demo_window(DemoOptions(days=35, end=dt.date(2026, 12, 6)))) == "2026-12"
    assert figures_month(demo_window(DemoOptions(days=40, end=dt.date(2026, 12, 6)))) == "2026-11"
    assert figures_month(demo_window(DemoOptions(days=3, end=dt.date(2026, 12, 6)))) == "2026-12"
