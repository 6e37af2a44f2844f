"""The dashboard, rendered by headless Chromium from hand-made marts: the charts are drawn, with the figures the
marts hold, and the page reads nothing but the marts."""

import datetime as dt
import re

import pandas as pd
import pytest

from core.warehouse import Warehouse, insert_frame
from dashboard.build import QUERIES, build
from schemas.warehouse import (
    MARTS,
    mart_2345_monthly,
    mart_case_deadlines,
    mart_channel_monthly,
    mart_corrections_daily,
    mart_daily_volume,
    mart_delivery_status,
    mart_evaluations_monthly,
    mart_hotline_monthly,
    mart_project_stages,
    mart_projects,
    mart_resolution_backlog,
    metadata,
)


def _marts(warehouse: Warehouse) -> None:
    day = dt.date(2026, 10, 12)
    deadlines = pd.DataFrame(
        {
            "golden_case_id": [f"GC{i}" for i in range(8)],
            "handling_dept": ["market_regulation"] * 4 + ["housing"] * 4,
            "submitted_on": day,
            "channel": "department_system",
            "promise_result": ["on_time", "on_time", "on_time", "late", "on_time", "late", "late", "running"],
            "statutory_result": "on_time",
            "deadline_provisional": False,
        }
    )
    with warehouse.begin() as conn:
        insert_frame(conn, mart_case_deadlines, deadlines)
        insert_frame(conn, mart_daily_volume, pd.DataFrame({
            "day": [day, day], "handling_dept": ["market_regulation", "housing"], "item_code": ["A", "B"],
            "channel": "department_system", "item_name": ["x", "y"], "cases": [4, 4], "completed": [4, 3],
            "records": [7, 5], "duplicates_found": [3, 1]}))  # fmt: skip
        insert_frame(conn, mart_2345_monthly, pd.DataFrame({
            "target": ["startup", "startup"], "month": ["2026-10", "2026-09"], "target_name": "企业开办（设立登记）",
            "target_days": 2, "completed": [40, 30], "within_target": [30, 27], "share_within_target": [0.75, 0.9],
            "average_working_days": [1.6, 1.2]}))  # fmt: skip
        insert_frame(conn, mart_delivery_status, pd.DataFrame({
            "target": ["municipal", "one_network"], "day": day, "case_versions": [10, 10], "acknowledged": [7, 10],
            "pending": [2, 0], "dead_lettered": [1, 0]}))  # fmt: skip
        insert_frame(conn, mart_resolution_backlog, pd.DataFrame({
            "day": [day], "records": [12], "duplicates_found": [4], "status_updates": [1], "review_open": [5],
            "review_decided": [2]}))  # fmt: skip
        # 好差评: October, market regulation 17 of 20 satisfied, 20 of 25 completed cases evaluated, 2 差评 (1 past
        # its deadline); housing 9 of 10; September outside the date filter
        levels = ["very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied"]
        evaluations = pd.DataFrame({
            "month": ["2026-10", "2026-10", "2026-10", "2026-09"],
            "handling_dept": ["market_regulation", "market_regulation", "housing", "housing"],
            "item_code": "X", "channel": ["all", "app", "all", "all"],
            "evaluations": [20, 20, 10, 50], "satisfied_count": [17, 17, 9, 10], "rated": [20, 20, 10, 50],
            "completed_cases": [25, None, 10, 60], "evaluated_cases": [20, None, 10, 50],
            "coverage": [0.8, None, 1.0, 0.833], "poor": [2, 2, 1, 0], "poor_open": [1, 1, 0, 0],
            "poor_past_deadline": [1, 1, 0, 0]})  # fmt: skip
        for level, counts in zip(
            levels, ([15, 15, 8, 10], [2, 2, 1, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 0, 40]), strict=True
        ):
            evaluations[level] = counts
        insert_frame(conn, mart_evaluations_monthly, evaluations)
        # 12345: October, 40 orders (3 from the province, 37 from the city), 38 of 39 timed on time, 33 of 36 rated
        # satisfied; 咨询 25, 投诉 15
        hotline = pd.DataFrame({  # as the mart holds them: origin × category, a subtotal per origin, the total
            "month": "2026-10",
            "origin": ["all", "province", "city", "province", "city", "city"],
            "category_1": ["all", "all", "all", "投诉", "咨询", "投诉"],
            "orders": [40, 3, 37, 3, 25, 12], "about_cases": [6, 1, 5, 1, 2, 3],
            "on_time": [38, 3, 35, 3, 24, 11], "timed": [39, 3, 36, 3, 25, 11],
            "satisfied_count": [33, 2, 31, 2, 21, 10], "rated": [36, 3, 33, 3, 22, 11]})  # fmt: skip
        for column in ("solved", "unsolved", "partly_solved", "returned"):
            hotline[column] = 0
        hotline["on_time_rate"] = hotline["on_time"] / hotline["timed"]
        hotline["satisfaction_rate"] = hotline["satisfied_count"] / hotline["rated"]
        insert_frame(conn, mart_hotline_monthly, hotline)
        # 工程建设项目: two industrial projects, one permitted in 38 working days, one running (key, 立项 and 用地 done)
        insert_frame(conn, mart_projects, pd.DataFrame({
            "project_code": ["2026-320412-34-03-000001", "2026-320412-29-03-000002"],
            "project_name": ["恒达精密机械厂房", "武进新材料车间"], "industrial": True, "key_project": [False, True],
            "started_on": [dt.date(2026, 9, 1), dt.date(2026, 10, 8)], "permit_on": [dt.date(2026, 10, 27), None],
            "status": ["permitted", "running"], "stage_reached": ["施工许可", "规划"], "working_days": [38, 20],
            "target_days": 45, "days_left": [7, 25], "within_target": [True, None], "stages_late": ["", "用地"],
            "held_up_by": ["用地", "用地"], "responsible_dept": ["住建", "自然资源"], "handlings": [6, 3],
            "cases_linked": [2, 1]}))  # fmt: skip
        insert_frame(conn, mart_project_stages, pd.DataFrame({
            "project_code": ["2026-320412-34-03-000001"] * 2 + ["2026-320412-29-03-000002"] * 2,
            "stage": ["立项", "施工许可", "立项", "用地"], "stage_order": [1, 5, 1, 2],
            "started_on": [dt.date(2026, 9, 1), dt.date(2026, 10, 20), dt.date(2026, 10, 8), dt.date(2026, 10, 12)],
            "ended_on": [dt.date(2026, 9, 3), dt.date(2026, 10, 27), dt.date(2026, 10, 9), None],
            "status": ["done", "done", "done", "running"], "handlings": 1, "redone": False,
            "working_days": [2, 5, 1, 19], "paused_working_days": 0, "limit_days": [5, 5, 5, 15],
            "on_time": [True, True, True, False]}))  # fmt: skip
        # 不见面审批: October, market regulation 29 of 40 determinable (45 cases) at two places; housing 2 of 10
        insert_frame(conn, mart_channel_monthly, pd.DataFrame({
            "month": "2026-10", "handling_dept": ["market_regulation", "market_regulation", "housing"],
            "accepting_place": ["hall", "hutang", "hall"],
            "place_name": ["区政务服务中心", "湖塘镇便民服务中心", "区政务服务中心"],
            "cases": [30, 15, 10], "channel_known": [28, 14, 10], "online": [25, 10, 3], "delivery_known": [28, 14, 10],
            "determinable": [28, 12, 10], "not_in_person": [21, 8, 2], "mode_licensing": [20, 10, 10],
            "mode_filing": [5, 5, 0], "mode_commitment": [3, 0, 0], "mode_missing_papers": [2, 0, 0],
            "mode_unknown": 0}))  # fmt: skip
        # 纠错清单: housing, two entries opened on Fri 9 Oct, one fixed on Mon 12 Oct (13 Oct: after the dates);
        # health, three open on 12 Oct, two of them older than 10 working days, the oldest 14
        corrections = pd.DataFrame({
            "day": [dt.date(2026, 10, 9), day, dt.date(2026, 10, 13), dt.date(2026, 10, 11), day],
            "department": ["housing", "housing", "housing", "health", "health"],
            "open": [2, 1, 1, 2, 3], "opened": [2, 0, 0, 0, 1], "fixed": [0, 1, 0, 0, 0],
            "open_quarantined": [1, 1, 1, 2, 2], "open_refused": [1, 0, 0, 0, 1],
            "open_0_2": [2, 1, 1, 0, 1], "open_3_5": 0, "open_6_10": 0, "open_over_10": [0, 0, 0, 2, 2],
            "oldest_open_working_days": [0, 1, 2, 13, 14]})  # fmt: skip
        insert_frame(conn, mart_corrections_daily, corrections)


@pytest.mark.integration
def test_dashboard_draws_the_marts_figures(tmp_path, headless_dom):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    _marts(warehouse)
    page = build(str(warehouse.engine.url), tmp_path / "dashboard" / "index.html", today=dt.date(2026, 11, 28))
    warehouse.dispose()
    dom = headless_dom(page.as_uri())

    kpi = dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', dom))
    # Last month's 2345 answer, straight from mart_2345_monthly: 30 of 40 start-ups within 2 working days.
    assert kpi["startup"] == "75.0%"
    assert kpi["cases"] == "8" and kpi["pending"] == "2" and kpi["review"] == "5"
    assert kpi["ontime"] == "57.1%"  # 4 of 7 finished cases on time (the running one is not counted)
    assert len(re.findall(r'class="main-svg"', dom)) >= 10  # five charts drawn
    bars = re.findall(r'class="bartext[^"]*"[^>]*>([^<]+)</text>', dom)
    assert "33.3%" in bars  # on time: housing 1 of 3 (market regulation 3 of 4: 75.0%)
    assert bars.count("75.0%") == 2  # ... and the 2345 chart for October (September is outside the date filter)
    assert "90.0%" not in bars
    assert {"2", "1"} <= set(bars)  # the municipal receiver's backlog: 2 pending, 1 to fix
    assert 'data-target="startup" data-month="2026-10"' in dom


@pytest.mark.integration
def test_the_evaluations_page_draws_the_months_figures(tmp_path, headless_dom):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    _marts(warehouse)
    page = build(str(warehouse.engine.url), tmp_path / "dashboard" / "index.html", today=dt.date(2026, 11, 28))
    warehouse.dispose()
    dom = headless_dom(page.as_uri() + "#evaluations")

    kpi = dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', dom))
    assert kpi["satisfaction"] == "86.7%"  # (17 + 9) of 30 rated in October; September is outside the dates
    assert kpi["evaluations"] == "30" and kpi["coverage"] == "85.7%"  # 30 of 35 completed cases evaluated
    assert kpi["poor"] == "3 · 1"
    assert re.search(r'<section id="page-evaluations" data-page="evaluations">', dom)  # shown, not hidden
    bars = re.findall(r'class="bartext[^"]*"[^>]*>([^<]+)</text>', dom)
    assert "86.7%" in bars  # the month's bar
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>([^<]+)</td>", dom)
    assert ("市场监管", "20", "85.0%") in rows and ("住建", "10", "90.0%") in rows


@pytest.mark.integration
def test_the_not_in_person_page_draws_the_months_figures(tmp_path, headless_dom):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    _marts(warehouse)
    page = build(str(warehouse.engine.url), tmp_path / "dashboard" / "index.html", today=dt.date(2026, 11, 28))
    warehouse.dispose()
    dom = headless_dom(page.as_uri() + "#channel")

    kpi = dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', dom))
    assert kpi["notinperson"] == "62.0%"  # (21 + 8 + 2) of (28 + 12 + 10) whose channel and delivery are known
    assert kpi["submitted"] == "55" and kpi["commitment"] == "3" and kpi["missing"] == "2"
    assert re.search(r'<section id="page-channel" data-page="channel">', dom)
    bars = re.findall(r'class="bartext[^"]*"[^>]*>([^<]+)</text>', dom)
    assert "72.5%" in bars and "20.0%" in bars  # market regulation 29 of 40, housing 2 of 10
    assert "40" in bars  # 40 cases accepted in the district hall


@pytest.mark.integration
def test_the_hotline_page_draws_the_months_figures(tmp_path, headless_dom):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    _marts(warehouse)
    page = build(str(warehouse.engine.url), tmp_path / "dashboard" / "index.html", today=dt.date(2026, 11, 28))
    warehouse.dispose()
    dom = headless_dom(page.as_uri() + "#hotline")

    kpi = dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', dom))
    assert kpi["hotontime"] == "97.4%" and kpi["hotsatisfied"] == "91.7%"  # 38 of 39; 33 of 36
    assert kpi["hotorders"] == "40 · 3" and kpi["hotcases"] == "6"
    assert re.search(r'<section id="page-hotline" data-page="hotline">', dom)
    bars = re.findall(r'class="bartext[^"]*"[^>]*>([^<]+)</text>', dom)
    assert {"97.4%", "91.7%", "25", "15"} <= set(bars)  # the month's rates, and orders per first-level category
    assert "<td>2026-10</td><td>40</td><td>3</td><td>97.4%</td><td>91.7%</td>" in dom


@pytest.mark.integration
def test_the_projects_page_draws_a_timeline_per_project(tmp_path, headless_dom):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    _marts(warehouse)
    page = build(str(warehouse.engine.url), tmp_path / "dashboard" / "index.html", today=dt.date(2026, 11, 28))
    warehouse.dispose()
    dom = headless_dom(page.as_uri() + "#projects")

    kpi = dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', dom))
    # The date filter spans the volume's one day (12 October): both projects were in hand then.
    assert kpi["projects"] == "2" and kpi["permitted"] == "1 · 1" and kpi["avgdays"] == "38.0"
    assert kpi["keyrunning"] == "1"
    assert re.search(r'<section id="page-projects" data-page="projects">', dom)
    bars = re.findall(r'class="bartext[^"]*"[^>]*>([^<]+)</text>', dom)
    assert "19 个工作日 · 超时" in bars and "5 个工作日" in bars  # each stage a bar, the late one marked
    assert (
        "<td>2026-320412-29-03-000002</td><td>武进新材料车间</td><td>是</td><td>规划</td><td>20</td><td>25</td>" in dom
    )


@pytest.mark.integration
def test_the_corrections_page_draws_open_entries_by_department_and_age(tmp_path, headless_dom):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    _marts(warehouse)
    page = build(str(warehouse.engine.url), tmp_path / "dashboard" / "index.html", today=dt.date(2026, 11, 28))
    warehouse.dispose()
    dom = headless_dom(page.as_uri() + "#corrections")

    kpi = dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', dom))
    # the dates span 12 October: open at its end 1 (housing) + 3 (health); 13 October is after the span
    assert kpi["corropen"] == "4" and kpi["corrold"] == "2 · 14"
    assert kpi["corropened"] == "1" and kpi["corrfixed"] == "1"
    assert re.search(r'<section id="page-corrections" data-page="corrections">', dom)  # shown, not hidden
    age = dom[dom.index('id="chart-corr-age"') : dom.index('id="chart-corr-daily"')]
    daily = dom[dom.index('id="chart-corr-daily"') : dom.index('id="table-corr"')]
    assert 'class="main-svg"' in age and 'class="main-svg"' in daily  # both drawn
    # housing 1 and health 1 under three working days, health 2 over ten
    assert sorted(re.findall(r'class="bartext[^"]*"[^>]*>([^<]+)</text>', age)) == ["1", "1", "2"]
    assert "<td>住建</td><td>1</td><td>1</td><td>0</td><td>0</td><td>1</td><td>0</td><td>1</td>" in dom
    assert "<td>卫健</td><td>3</td><td>2</td><td>1</td><td>2</td><td>14</td><td>1</td><td>0</td>" in dom


@pytest.mark.unit
def test_the_page_reads_only_marts():
    tables = {t for query in QUERIES.values() for t in query.get_final_froms()}
    assert tables and all(t.name.startswith("mart_") and t.schema == MARTS for t in tables), tables
    assert tables <= set(metadata.tables.values())


@pytest.mark.unit
def test_marts_hold_no_identity_numbers_or_phones():
    personal = {"applicant_id", "contact_phone", "applicant_name", "holder_code", "address"}
    for table in metadata.tables.values():
        if table.name.startswith("mart_"):
            assert not personal & {c.name for c in table.columns}, table.name
