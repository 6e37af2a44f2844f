"""Investment projects: the 投资项目代码 check, the stage code table and the "45" clock.

The clock's figures are counted by hand on the 2026 calendar (schemas/calendar/2026.csv: 20 September a make-up
Sunday, 25-27 September 中秋, 1-7 October 国庆, 10 October a make-up Saturday), not by the code under test.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from reporting.definitions import ProjectDefinitions
from reporting.projects import (
    HANDLING_COLUMNS,
    construction_2345,
    counted_days,
    key_project_report,
    project_clocks,
    project_stage_rows,
    projects_monthly,
    review_candidates,
)
from schemas.identifiers import is_valid_project_code, normalize_project_code_series, project_code_problems
from schemas.projects import STAGES, project_stages, stage_of
from schemas.workdays import calendar

pytestmark = pytest.mark.unit

CODE = "2026-320412-34-03-512345"


# ---------------------------------------------------------------- 投资项目代码
@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("2026-320412-34-03-512345", None),
        ("２０２６－３２０４１２－３４－０３－５１２３４５", None),  # full-width, as typed in a Chinese IME
        ("2026 320412 34 03 512345".replace(" ", "—"), None),  # em dashes
        ("20263204123403512345", None),  # the dashes left out
        ("2509-320193-89-01-544060", None),  # a newer YYMM year code
        ("2026-320412-34-03-51234", "format"),
        ("2026-320412-3A-03-512345", "format"),
        ("1999-320412-34-03-512345", "year"),
        ("2613-320412-34-03-512345", "year"),  # month 13
        ("2026-990412-34-03-512345", "region"),
        ("2026-320412-34-03-000000", "serial"),
    ],
)
def test_project_code_check(given, problem):
    found = project_code_problems(normalize_project_code_series(pd.Series([given])))
    assert (None if pd.isna(found.iloc[0]) else found.iloc[0]) == problem
    assert is_valid_project_code(given) is (problem is None)


def test_project_code_check_is_vectorised_and_keeps_blanks():
    values = normalize_project_code_series(pd.Series([CODE, None, "", "2026-320412-34-03-5123456"], index=[5, 6, 7, 8]))
    problems = project_code_problems(values)
    assert list(problems.index) == [5, 6, 7, 8]
    assert problems.isna().tolist() == [True, True, True, False]
    assert not is_valid_project_code(None)


# ---------------------------------------------------------------- the stage code table
def test_every_seed_stage_has_a_milestone_item_and_national_stages_are_the_four():
    table = project_stages()
    for stage in STAGES:
        assert table[(table["stage"] == stage) & table["milestone"]].shape[0] >= 1, stage
    assert set(table["national_stage"]) == {1, 2, 3, 4}
    assert table.loc[table["item_code"] == "000130001000", "stage"].item() == "施工许可"  # the catalogue's item
    found = stage_of(pd.Series(["000121004000", "000131001000", "999999999999"]))
    assert found["stage"].tolist()[0] == "规划" and found["national_stage"].tolist()[:2] == [2, 4]
    assert pd.isna(found["stage"].iloc[1]) and pd.isna(found["stage"].iloc[2])  # 竣工验收 is after the 45


# ---------------------------------------------------------------- the 45 clock
def _handling(item, accepted, ended, outcome="granted", pause=(None, None), hid=None):
    return dict.fromkeys(HANDLING_COLUMNS) | {
        "project_code": CODE,
        "handling_id": hid or f"{item}-{accepted}",
        "item_code": item,
        "accepted_at": pd.Timestamp(accepted),
        "ended_at": pd.Timestamp(ended) if ended else pd.NaT,
        "outcome": outcome,
        "pause_started_at": pd.Timestamp(pause[0]) if pause[0] else pd.NaT,
        "pause_ended_at": pd.Timestamp(pause[1]) if pause[1] else pd.NaT,
    }


HANDLINGS = pd.DataFrame(
    [
        _handling("000120001000", "2026-09-07 09:00", "2026-09-09 16:00"),  # 立项
        _handling("000121001000", "2026-09-10 10:00", "2026-09-17 10:00"),  # 用地: 选址
        _handling("000121002000", "2026-09-14 10:00", "2026-09-24 15:00"),  # 用地: 用地规划许可, overlapping
        _handling("000121003000", "2026-09-21 09:00", "2026-09-23 09:00", "returned"),  # 规划: 方案, returned
        _handling("000121003000", "2026-09-28 09:00", "2026-09-29 09:00"),  # ... and done again
        _handling("000121004000", "2026-09-29 14:00", "2026-10-12 11:00", pause=("2026-09-29", "2026-10-09")),
        _handling("000122001000", "2026-09-22 09:00", "2026-09-30 17:00"),  # 环评, parallel to 规划
        _handling("000130001000", "2026-10-13 09:00", "2026-10-16 10:00"),  # 施工许可
    ]
)
PROJECTS = pd.DataFrame(
    [
        {
            "project_code": CODE,
            "project_name": "某精密机械厂房",
            "unit_name": "常州某机械有限公司",
            "site": "武进高新区",
            "total_investment_wan": 12000.0,
            "key_flag": False,
        }
    ]
)
TODAY = dt.date(2026, 11, 30)


def test_stages_count_their_handlings_once_leave_pauses_out_and_see_a_redone_stage():
    stages = project_stage_rows(HANDLINGS, calendar(), TODAY, ProjectDefinitions()).set_index("stage")
    # 立项: 8, 9 Sep. 用地: (10 Sep, 24 Sep]: 11, 14-18, 20 (make-up Sunday), 21-24 = 11.
    # 规划: 22, 23, 29, 30 Sep, 8, 9, 10 (make-up Saturday), 12 Oct = 8, less the pause's 30 Sep, 8, 9 Oct = 5.
    # 环评: 23, 24, 28, 29, 30 Sep = 5 (25-27 中秋). 施工许可: 14, 15, 16 Oct = 3.
    assert stages["working_days"].to_dict() == {"施工许可": 3, "环评": 5, "用地": 11, "立项": 2, "规划": 5}
    assert stages.loc["规划", "paused_working_days"] == 3
    assert stages.loc["规划", "redone"] and stages.loc["规划", "handlings"] == 3 and not stages.loc["用地", "redone"]
    assert stages.loc["规划", "ended_on"] == dt.date(2026, 10, 12) and stages.loc["规划", "status"] == "done"
    assert stages["on_time"].all()
    assert stages.loc["用地", "responsible_dept"] == "区自然资源和规划局"  # from the code table: no source named one


def test_the_45_clock_counts_parallel_stages_once_and_leaves_out_pauses_and_applicant_time():
    settings = ProjectDefinitions()
    stages = project_stage_rows(HANDLINGS, calendar(), TODAY, settings)
    clock = project_clocks(PROJECTS, HANDLINGS, stages, calendar(), TODAY, settings).iloc[0]
    # Every working day from 7 Sep (立项 accepted, not counted) to 16 Oct: 8-11, 14-18, 20, 21-24, 28-30 Sep (17)
    # and 8, 9, 10, 12-16 Oct (8) = 25. Nothing was filed on 10 Sep and 13 Oct (each an acceptance day): 23 in some
    # department's hands. The 专家评审 pause of the 规划许可 (30 Sep, 8 and 9 Oct) takes out 8 and 9 Oct, when nothing
    # else was open; on 30 Sep 环评 was in its department's hands, so that day counts: 21.
    assert (clock["working_days_gross"], clock["paused_working_days"], clock["working_days"]) == (25, 2, 21)
    assert clock["status"] == "permitted" and clock["permit_on"] == dt.date(2026, 10, 16)
    assert clock["within_target"] and clock["days_left"] == 24 and clock["month_permitted"] == "2026-10"
    assert clock["held_up_by"] == "用地" and clock["stages_late"] is None and clock["stage_reached"] == "施工许可"
    assert clock["industrial"] and clock["key_project"]  # industry 34; 12000 万元 over the 10000 threshold
    # the sum of the stages (2 + 11 + 5 + 5 + 3 = 26) would count 环评's days beside 用地's and 规划's twice
    assert stages["working_days"].sum() == 26


def test_a_stage_past_its_limit_is_late_and_a_running_project_counts_to_today():
    settings = ProjectDefinitions(stage_limits={"立项": 5, "用地": 10, "规划": 10, "环评": 10, "施工许可": 5})
    running = HANDLINGS[HANDLINGS["item_code"] != "000130001000"]
    stages = project_stage_rows(running, calendar(), dt.date(2026, 10, 16), settings)
    clock = project_clocks(PROJECTS, running, stages, calendar(), dt.date(2026, 10, 16), settings).iloc[0]
    assert clock["stages_late"] == "用地" and clock["status"] == "running" and pd.isna(clock["within_target"])
    # up to 12 Oct (the last handling's end): 23 - 3 (施工许可's days) = 20 in hands, less 8 and 9 Oct paused = 18
    assert clock["working_days"] == 18 and clock["days_left"] == 27 and clock["stage_reached"] == "环评"


def test_counted_days_unions_spans_and_pauses():
    spans = pd.DataFrame(
        {"start": pd.to_datetime(["2026-10-12", "2026-10-13"]), "end": pd.to_datetime(["2026-10-16", "2026-10-19"])}
    )
    pauses = pd.DataFrame(
        {"start": pd.to_datetime(["2026-10-14", "2026-10-13"]), "end": pd.to_datetime(["2026-10-15", "2026-10-15"])}
    )
    # (12, 19 Oct] = 13, 14, 15, 16, 19 = 5 working days; paused (13, 15] ∪ (14, 15] = 14, 15
    assert counted_days(spans, pauses, calendar()) == (3, 2, 5)


def test_monthly_figures_the_2345_construction_target_and_the_key_project_report():
    settings = ProjectDefinitions()
    stages = project_stage_rows(HANDLINGS, calendar(), TODAY, settings)
    clocks = project_clocks(PROJECTS, HANDLINGS, stages, calendar(), TODAY, settings)
    monthly = projects_monthly(clocks).iloc[0]
    assert (monthly["month"], monthly["projects"], monthly["average_working_days"], monthly["within_target"]) == (
        "2026-10", 1, 21.0, 1,
    )  # fmt: skip
    assert monthly["held_up_by"] == f"{CODE} 用地"
    target = construction_2345(clocks, "工业建设项目施工许可", 45).iloc[0]
    assert (target["target"], target["month"], target["completed"], target["within_target"]) == (
        "construction", "2026-10", 1, 1,
    )  # fmt: skip
    report, shown = key_project_report(clocks, stages, "2026-10")
    assert report["project_code"].tolist() == [CODE] and len(shown) == 5
    assert key_project_report(clocks, stages, "2026-11")[0].empty  # permitted in October: no longer tracked


def test_the_report_xlsx_matches_the_mart_and_neutralises_formulas(tmp_path):
    from openpyxl import load_workbook

    from reporting.project_report import PROJECT_HEADINGS, report_frames, write_report

    settings = ProjectDefinitions()
    stages = project_stage_rows(HANDLINGS, calendar(), TODAY, settings)
    projects = PROJECTS.assign(project_name='=HYPERLINK("http://x")')
    clocks = project_clocks(projects, HANDLINGS, stages, calendar(), TODAY, settings)
    path = tmp_path / "report.xlsx"
    assert write_report(clocks, stages, "2026-10", path) == {"projects": 1, "stages": 5}
    book = load_workbook(path)
    assert book.sheetnames == ["projects", "stages"]
    sheet = book["projects"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert [c.value for c in sheet[1]] == list(PROJECT_HEADINGS.values())
    row = dict(zip(PROJECT_HEADINGS, [c.value for c in sheet[2]], strict=True))
    expected = report_frames(clocks, stages, "2026-10")["projects"].iloc[0]
    assert row["project_name"] == '\'=HYPERLINK("http://x")'  # text, never a formula
    for column in ("project_code", "working_days", "days_left", "stage_reached", "held_up_by", "responsible_dept"):
        assert row[column] == expected[column], column
    stage_rows = [[c.value for c in r] for r in book["stages"].iter_rows(min_row=2)]
    assert [r[1] for r in stage_rows] == ["立项", "用地", "规划", "环评", "施工许可"]
    assert [r[6] for r in stage_rows] == [2, 11, 5, 5, 3]


def test_the_report_keeps_negative_numbers_numbers_and_reads_a_month_with_no_permit(tmp_path):
    # Days left below zero (a project past its 45) were written as the text '-3, and a month in which no project
    # had been permitted failed comparing dates (issue 24).
    from openpyxl import load_workbook

    from reporting.project_report import PROJECT_HEADINGS, write_report

    settings = ProjectDefinitions()
    stages = project_stage_rows(HANDLINGS, calendar(), TODAY, settings)
    clocks = project_clocks(PROJECTS, HANDLINGS, stages, calendar(), TODAY, settings)
    late = clocks.assign(days_left=-3, permit_on=None, held_up_by="-用地")  # not permitted, three days over
    report, _ = key_project_report(late, stages, "2026-11")
    assert report["project_code"].tolist() == [CODE]
    path = tmp_path / "report.xlsx"
    write_report(late, stages, "2026-11", path)
    row = dict(zip(PROJECT_HEADINGS, [c.value for c in load_workbook(path)["projects"][2]], strict=True))
    assert row["days_left"] == -3 and isinstance(row["days_left"], int)
    assert row["held_up_by"] == "'-用地"  # text that starts like a formula is still neutralised


# ---------------------------------------------------------------- cases that carry the code
def test_a_case_carrying_the_code_is_linked_by_it_and_a_mistyped_code_is_flagged_not_linked():
    from staging.normalise import stage_partition
    from tests.test_staging import _raw

    permit = {
        "ywh": "WJJS20261013000091", "sxbm": "ZJ-SGXK", "sxmc": "建筑工程施工许可证核发", "jsdw": "常州某机械有限公司",
        "tyshxydm": "9132041258558635XF", "xmdz": "武进高新区", "sqrq": "2026-10-13 09:00:00", "zt": "审查中",
    }  # fmt: skip
    typed = CODE.replace("-", "")  # typed without dashes: the 4-6-2-2-6 places come back
    staged, quarantined = stage_partition(
        _raw(
            ("housing", dict(permit, xmdm=typed, _key="a")),
            ("housing", dict(permit, ywh="WJJS20261013000092", xmdm=CODE.replace("-320412-", "-32412-"), _key="b")),
        )
    )
    assert quarantined.empty
    assert staged["project_code"].tolist()[0] == CODE and pd.isna(staged["project_code"].iloc[1])
    assert "project_code_invalid" in staged["quality_flags"].iloc[1]
    golden = pd.DataFrame(
        {
            "golden_case_id": ["G1", "G2"],
            "case_no": ["WJJS20261013000091", "WJJS20261013000092"],
            "item_code": "000130001000",
            "item_name": "建筑工程施工许可证核发",
            "applicant_id": "9132041258558635XF",
            "address": "武进高新区",
            "accepted_at": pd.Timestamp("2026-10-13 09:00"),
            "project_code": [CODE, None],
        }
    )
    projects = PROJECTS.assign(unit_id="9132041258558635XF")
    none_handled = HANDLINGS.iloc[0:0].assign(golden_case_id=pd.Series(dtype="string"), stage=pd.Series(dtype="string"))
    review = review_candidates(projects, none_handled, golden)
    assert review["golden_case_id"].tolist() == ["G2"]  # the coded case is linked by its code; the other to review
    settings = ProjectDefinitions()
    stages = project_stage_rows(HANDLINGS.assign(golden_case_id=None, source="spgl"), calendar(), TODAY, settings)
    clock = project_clocks(
        PROJECTS, HANDLINGS.assign(golden_case_id=None), stages, calendar(), TODAY, settings, golden
    ).iloc[0]
    assert clock["cases_linked"] == 1


# ---------------------------------------------------------------- SPGL handlings: the public 办理状态 (BLZT) list
def _spgl_item(hid: str, blzt: str | None, **given) -> dict:
    """A row as the spgl_project_items query gives it (its first step, last step and code, pauses, stage)."""
    return {
        "SPSXSLBM": hid, "XMDM": CODE, "GCDM": f"{CODE}-0001", "SPSXBM": "000121004000", "SPBMMC": "区自然资源和规划局",
        "SLSJ": "2026-09-29 14:00:00", "BJSJ": "2026-10-12 11:00:00.000000", "BLZT": blzt,
        "GXSJ": "2026-10-12 11:00:00",
    } | given  # fmt: skip


def _stage_items(*rows: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    from core.feeds import feed
    from staging.projects import stage_project_items

    raw = pd.DataFrame(
        {"record_key": [r["SPSXSLBM"] for r in rows], "payload": [json.dumps(r, ensure_ascii=False) for r in rows]}
    )
    return stage_project_items(raw, feed("spgl_project_items"), dt.date(2026, 10, 12))


def test_the_closing_step_decides_and_8_or_9_never_do():
    staged, quarantined = _stage_items(
        _spgl_item("A", "11"),  # 办结（通过）
        _spgl_item("B", "12"),  # 办结（容缺通过）
        _spgl_item("C", "13"),  # 办结（不通过）
        _spgl_item("D", "8"),  # 部门开始办理: still in the department's hands
        _spgl_item("E", "9", TBCXKSSJ="2026-10-09 10:00:00"),  # 特别程序（开始）: paused, not ended
        _spgl_item("F", "7", BZKSSJ="2026-10-01 09:00:00", BZJSSJ="2026-10-08 09:00:00"),  # 补正（结束）
        _spgl_item("G", "2"),  # 已撤件: withdrawn before acceptance
        _spgl_item("H", "5"),  # 不予受理
        _spgl_item("I", "14"),  # 撤回
        _spgl_item("J", "15"),  # 撤销
    )
    assert quarantined.empty
    found = staged.set_index("handling_id")
    assert found["outcome"].to_dict() == {
        "A": "granted", "B": "granted", "C": "refused", "D": "running", "E": "running", "F": "running",
        "G": "not_accepted", "H": "not_accepted", "I": "withdrawn", "J": "revoked",
    }  # fmt: skip
    # the end is kept where the last step ended the handling, never for 8, 9 or 7
    assert found["ended_at"].isna().to_dict() == dict.fromkeys("ABCGHIJ", False) | dict.fromkeys("DEF", True)
    assert found.loc["A", "ended_at"] == pd.Timestamp("2026-10-12 11:00")
    assert found.loc["E", "pause_started_at"] == pd.Timestamp("2026-10-09 10:00")
    assert pd.isna(found.loc["E", "pause_ended_at"])
    assert found.loc["F", "correction_started_at"] == pd.Timestamp("2026-10-01 09:00")
    assert found.loc["F", "correction_ended_at"] == pd.Timestamp("2026-10-08 09:00")


def test_an_unknown_step_code_or_a_handling_of_no_project_is_quarantined_with_its_reason():
    from reporting.projects import handling_states

    staged, quarantined = _stage_items(
        _spgl_item("U", "22"),  # a code of the system's own, outside the public list
        _spgl_item("N", "11", XMDM=None, GCDM=None),  # names neither a project nor a 工程
        _spgl_item("W", "11", XMDM=None),  # its 工程 not in the project table (yet)
        _spgl_item("X", "11", BJSJ="2026-09-28 10:00:00"),  # ended before it was accepted
        _spgl_item("S", "11", DYBZSPJDXH="5", SFLCBSX="0"),  # the process's stage-item table places it
        _spgl_item("T", "11", DYBZSPJDXH="7", SFLCBSX="是"),  # not a national stage: the bureau's table places it
    )
    reasons = quarantined.set_index("item_id")["reason_code"].to_dict()
    assert reasons == {"U": "unknown_outcome", "N": "missing_project_code", "X": "ended_before_accepted"}
    assert "BLZT“22”" in quarantined.set_index("item_id").loc["U", "reason"]
    found = staged.set_index("handling_id")
    assert found.loc["S", "national_stage"] == 5 and not found.loc["S", "milestone"]
    assert pd.isna(found.loc["T", "national_stage"]) and found.loc["T", "milestone"]
    assert pd.isna(found.loc["W", "project_code"]) and found.loc["W", "works_code"] == f"{CODE}-0001"
    states = handling_states(
        staged.assign(partition_date=dt.date(2026, 10, 12)),
        quarantined.assign(partition_date=dt.date(2026, 10, 12)),
        {CODE},
        pd.DataFrame(columns=["golden_case_id", "case_no"]),
    ).set_index("handling_id")
    assert states.loc["W", "status"] == "waiting" and states.loc["W", "note"] == "works_code_unknown"
    assert states.loc["S", "status"] == "linked" and states.loc["S", "national_stage"] == 5
    # the bureau's table fills what the process does not give: 000121004000 is its national stage 2, a milestone
    assert states.loc["T", "national_stage"] == 2 and states.loc["T", "milestone"]
    assert not states.loc["S", "milestone"]  # the process's flag wins over the bureau's
    assert states["status"].value_counts().to_dict() == {"linked": 2, "quarantined": 3, "waiting": 1}


def test_a_week_of_only_quarantined_handlings_still_carries_the_linking_columns():
    # The first week of a year had no usable handling: the projects asset counted linked cases on a column that
    # was not there (KeyError in benchmarks/year.py, week 1).
    from reporting.projects import handling_states

    staged, quarantined = _stage_items(_spgl_item("U", "22"))
    assert staged.empty
    states = handling_states(
        staged, quarantined.assign(partition_date=dt.date(2026, 10, 12)), {CODE}, pd.DataFrame(columns=["case_no"])
    )
    assert states["status"].tolist() == ["quarantined"]
    assert states["golden_case_id"].isna().all() and {"stage", "national_stage", "milestone"} <= set(states)


# ---------------------------------------------------------------- 并行推进, pauses and closures on the clock
def _with(frame: pd.DataFrame, item: str, **values) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in values.items():
        frame[column] = frame[column].astype(object)
        frame.loc[frame["item_code"] == item, column] = value
    return frame


def test_a_parallel_stage_counts_once_and_has_no_limit_of_its_own():
    from reporting.projects import national_limits

    handlings = _with(HANDLINGS, "000122001000", national_stage=5, milestone=True)  # 环评 in 并行推进
    # the system: 选址 is the 用地 milestone, not the 用地规划许可 (the bureau's table says the other way round)
    handlings = _with(handlings, "000121001000", national_stage=1, milestone=True)
    handlings = _with(handlings, "000121002000", national_stage=1, milestone=False)
    # an item of 并行推进 that is none of the seed's five
    extra = dict.fromkeys(HANDLING_COLUMNS) | {
        "project_code": CODE, "handling_id": "P5", "item_code": "000123001000", "outcome": "granted",
        "accepted_at": pd.Timestamp("2026-10-09 09:00"), "ended_at": pd.Timestamp("2026-10-13 10:00"),
        "national_stage": 5,
    }  # fmt: skip
    handlings = pd.concat([handlings, pd.DataFrame([extra])], ignore_index=True)
    process = pd.DataFrame(
        {
            "process_code": "P", "process_version": "1.0", "national_stage": [1, 2, 3, 5],
            "limit_days": [12, 15, 10, None],
        }
    )  # fmt: skip
    projects = PROJECTS.assign(process_code="P", process_version="1.0")
    limits = national_limits(projects, process)
    assert sorted(limits["national_stage"]) == [1, 2, 3]  # 并行推进: no limit
    settings = ProjectDefinitions()
    stages = project_stage_rows(handlings, calendar(), TODAY, settings, limits).set_index("stage")
    # national 5 = 环评 (22 Sep, 30 Sep]: 23, 24, 28-30 Sep (25-27 中秋) = 5, and the other item (9 Oct, 13 Oct]:
    # 10 (a make-up Saturday), 12, 13 Oct = 3: 8, against no limit
    row = stages.loc["环评"]
    assert row["national_stage"] == 5 and row["national_working_days"] == 8
    assert pd.isna(row["national_limit_days"]) and pd.isna(row["national_on_time"])
    # national 2 is 规划 alone now: 22, 23, 29 Sep, 10, 12 Oct (the 规划许可's pause takes out 30 Sep, 8 and 9 Oct,
    # when no other 规划 handling was open) = 5
    assert stages.loc["规划", "national_working_days"] == 5
    assert stages.loc["用地", "ended_on"] == dt.date(2026, 9, 17)  # the system's milestone ended the stage
    clock = project_clocks(projects, handlings, stages.reset_index(), calendar(), TODAY, settings, None, limits)
    # the clock as before (21): 环评's days once beside 规划's and 用地's; the 并行推进 item outside the five is not
    # on it (and 10, 12 Oct were counted for the 规划许可 already)
    assert clock.iloc[0]["working_days"] == 21
    assert clock.iloc[0]["national_stages_late"] == "1 立项用地规划许可"  # 13 > 12; 并行推进 never late


def test_pauses_take_out_their_own_handlings_days_and_a_never_accepted_handling_has_none():
    handlings = _with(
        HANDLINGS,
        "000120001000",
        correction_started_at=pd.Timestamp("2026-09-07 10:00"),  # 补正 on the 立项: (7 Sep, 8 Sep]
        correction_ended_at=pd.Timestamp("2026-09-08 15:00"),
    )
    more = [
        # a 环评 application not accepted (不予受理): its days before acceptance are on no clock
        {"handling_id": "NA", "accepted_at": "2026-10-07 09:00", "ended_at": "2026-10-09 10:00",
         "outcome": "not_accepted"},
        # one withdrawn (撤回) after acceptance: in the department's hands until then
        {"handling_id": "WD", "accepted_at": "2026-10-07 09:00", "ended_at": "2026-10-08 10:00",
         "outcome": "withdrawn"},
    ]  # fmt: skip
    extra = pd.DataFrame(
        [
            dict.fromkeys(HANDLING_COLUMNS)
            | {"project_code": CODE, "item_code": "000122001000"}
            | m
            | {"accepted_at": pd.Timestamp(m["accepted_at"]), "ended_at": pd.Timestamp(m["ended_at"])}
            for m in more
        ]
    )
    handlings = pd.concat([handlings, extra], ignore_index=True)
    settings = ProjectDefinitions()
    stages = project_stage_rows(handlings, calendar(), TODAY, settings).set_index("stage")
    assert (stages.loc["立项", "working_days"], stages.loc["立项", "paused_working_days"]) == (1, 1)  # 8 Sep paused
    assert stages.loc["环评", "redone"] and stages.loc["环评", "working_days"] == 6  # 5 + 8 Oct (the withdrawn one)
    clock = project_clocks(PROJECTS, handlings, stages.reset_index(), calendar(), TODAY, settings).iloc[0]
    # 23 days some handling was open; out: 8 Sep (the 立项's 补正, nothing else open) and 9 Oct (the 规划许可's
    # 专家评审; the one not accepted does not count). 8 Oct counts: the withdrawn 环评 was in its department's hands.
    assert (clock["working_days"], clock["paused_working_days"]) == (21, 2)
