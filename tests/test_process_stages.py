"""The SPGL stage table (SPGL_DFXMSPLCJDXXB 流程阶段) on hand-made records: staged (the 并行推进 stage, DYBZSPJDXH 5
with SPJDSX 0 as aplanmis writes it, kept with no limit; a national stage outside 1-5 and a limit that is not a
positive whole number of working days quarantined), each stage once in the state table, the
process's limits joined to the projects that name the process (per national stage; none for an unknown process or
version), and the national stage's working days against that limit beside the seed stages' figures, which stay as
they were.

The records are written here by hand, independent of the sandbox's generator; the working days are counted by hand
on the 2026 calendar (schemas/calendar/2026.csv), as in tests/test_projects.py."""

import datetime as dt
import json

import pandas as pd
import pytest

from core.feeds import feed
from reporting.definitions import ProjectDefinitions
from reporting.projects import national_limits, process_stage_states, project_clocks, project_stage_rows
from schemas.workdays import calendar
from staging.projects import stage_process_stages, stage_projects
from tests.test_projects import CODE, HANDLINGS, PROJECTS, TODAY

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 11, 16)
PROCESS = ("320412-GYXM", "2.0")


def _raw(*rows: dict) -> pd.DataFrame:
    records = []
    for row in rows:
        record = {"SPLCBM": PROCESS[0], "SPLCBBH": PROCESS[1], "SPJDMC": "阶段", "LCBSXLX": "1",
                  "GXSJ": "2026-11-16 08:00:00"} | row  # fmt: skip
        record["JDBS"] = f"{record['SPLCBM']}:{record['SPLCBBH']}:{record['SPJDBM']}"
        records.append(record)
    return pd.DataFrame(
        {
            "record_key": [r["JDBS"] for r in records],
            "payload": [json.dumps(r, ensure_ascii=False) for r in records],
        }
    )


def _stage(code: str, order: str, national: str, limit: str) -> dict:
    return {"SPJDBM": code, "SPJDXH": order, "DYBZSPJDXH": national, "SPJDSX": limit}


STAGE_RECORDS = _raw(
    _stage("GYXM-01", "1", "1", "20"),
    _stage("GYXM-02", "2", "2", "15.0"),  # a whole number written as a decimal
    _stage("GYXM-03", "3", "3", "10"),
    _stage("GYXM-04", "4", "4", "12"),
    _stage("320412-GYXM-2.0", "5", "5", "0"),  # 并行推进, as aplanmis writes it: no limit of its own
    _stage("GYXM-09", "9", "6", "30"),  # no such national stage
    _stage("GYXM-10", "10", "2", "十五"),  # a limit in words
    _stage("GYXM-11", "11", "3", "0"),  # a main-line stage with no limit
)


def test_stages_staged_and_the_bad_ones_quarantined_with_their_reason():
    staged, quarantined = stage_process_stages(STAGE_RECORDS, feed("spgl_process_stages"), DAY)
    assert staged["stage_code"].tolist() == ["GYXM-01", "GYXM-02", "GYXM-03", "GYXM-04", "320412-GYXM-2.0"]
    assert staged["national_stage"].tolist() == [1, 2, 3, 4, 5]
    assert staged["limit_days"].tolist()[:4] == [20, 15, 10, 12] and pd.isna(staged["limit_days"].iloc[4])
    assert staged["stage_order"].tolist() == [1, 2, 3, 4, 5]
    assert staged["stage_key"].iloc[0] == "320412-GYXM:2.0:GYXM-01" and (staged["milestone_rule"] == "1").all()
    reasons = quarantined.set_index("item_id")["reason_code"].to_dict()
    assert reasons == {
        "320412-GYXM:2.0:GYXM-09": "invalid_national_stage",
        "320412-GYXM:2.0:GYXM-10": "invalid_limit_days",
        "320412-GYXM:2.0:GYXM-11": "invalid_limit_days",
    }
    assert "DYBZSPJDXH“6”" in quarantined.loc[quarantined["reason_code"] == "invalid_national_stage", "reason"].item()
    # the state table: each stage once, current or quarantined (the reconciliation's identity)
    states = process_stage_states(
        staged.assign(partition_date=DAY), quarantined.assign(partition_date=DAY, quarantined_at=None)
    )
    assert len(states) == 8 and states["stage_key"].is_unique
    assert states["status"].value_counts().to_dict() == {"current": 5, "quarantined": 3}


def test_a_missing_limit_is_quarantined_as_missing():
    raw = _raw({"SPJDBM": "GYXM-01", "SPJDXH": "1", "DYBZSPJDXH": "1"})
    staged, quarantined = stage_process_stages(raw, feed("spgl_process_stages"), DAY)
    assert staged.empty and quarantined["reason_code"].tolist() == ["missing_limit_days"]


def test_the_projects_feed_carries_the_process():
    payload = {"XMDM": CODE, "XMMC": "某精密机械厂房", "SPLCBM": PROCESS[0], "SPLCBBH": PROCESS[1],
               "GXSJ": "2026-11-16 08:00:00"}  # fmt: skip
    raw = pd.DataFrame({"record_key": [CODE], "payload": [json.dumps(payload, ensure_ascii=False)]})
    staged, _ = stage_projects(raw, feed("spgl_projects"), DAY)
    assert staged[["process_code", "process_version"]].iloc[0].tolist() == list(PROCESS)


def _current_stages() -> pd.DataFrame:
    staged, _ = stage_process_stages(STAGE_RECORDS, feed("spgl_process_stages"), DAY)
    return staged


def test_the_national_limit_is_joined_per_project_by_its_process_and_version():
    projects = pd.DataFrame(
        {
            "project_code": ["A", "B", "C"],
            "process_code": [PROCESS[0], PROCESS[0], None],
            "process_version": [PROCESS[1], "1.0", None],  # B: a version not pulled; C: no process
        }
    )
    limits = national_limits(projects, _current_stages())
    # 并行推进 has no limit: no row for it
    assert limits.to_dict("records") == [
        {"project_code": "A", "national_stage": 1, "limit_days": 20},
        {"project_code": "A", "national_stage": 2, "limit_days": 15},
        {"project_code": "A", "national_stage": 3, "limit_days": 10},
        {"project_code": "A", "national_stage": 4, "limit_days": 12},
    ]
    # two stages of one process mapped to one national stage: their limits add up
    split = pd.concat([_current_stages(), _current_stages().iloc[[0]].assign(stage_code="GYXM-01B", limit_days=5)])
    assert national_limits(projects.iloc[[0]], split).iloc[0]["limit_days"] == 25


def test_the_national_stage_against_its_process_limit_beside_the_seed_stages():
    settings = ProjectDefinitions()
    before = project_stage_rows(HANDLINGS, calendar(), TODAY, settings)
    projects = PROJECTS.assign(process_code=PROCESS[0], process_version=PROCESS[1])
    limits = national_limits(projects, _current_stages().assign(limit_days=[12, 15, 10, 12, None]))
    stages = project_stage_rows(HANDLINGS, calendar(), TODAY, settings, limits).set_index("stage")
    # the seed stages' figures unchanged
    seed = [c for c in before.columns if c != "stage" and (not c.startswith("national_") or c == "national_stage")]
    pd.testing.assert_frame_equal(before.set_index("stage")[seed], stages[seed])
    # national 1 = 立项 + 用地: 8, 9, 11, 14-18, 20 (make-up Sunday), 21-24 Sep = 13 (10 Sep: no handling in the
    # department's hands, 选址's acceptance day not counted), over its 12.
    # national 2 = 规划 + 环评: (21 Sep, 12 Oct]: 22-24, 28-30 Sep, 8-10 (10 a make-up Saturday), 12 Oct = 10,
    # less the 规划许可's pause on 8 and 9 Oct (on 30 Sep 环评 was open) = 8, within 15. national 3 = 施工许可: 3.
    assert stages["national_working_days"].to_dict() == {"施工许可": 3, "环评": 8, "用地": 13, "立项": 13, "规划": 8}
    assert stages["national_limit_days"].to_dict() == {"施工许可": 10, "环评": 15, "用地": 12, "立项": 12, "规划": 15}
    assert stages["national_on_time"].to_dict() == {
        "施工许可": True, "环评": True, "用地": False, "立项": False, "规划": True
    }  # fmt: skip
    clock = project_clocks(projects, HANDLINGS, stages.reset_index(), calendar(), TODAY, settings, None, limits)
    assert clock.iloc[0]["national_stages_late"] == "1 立项用地规划许可"
    assert clock.iloc[0]["process_code"] == PROCESS[0] and clock.iloc[0]["stages_late"] is None
    # no process known: the limits NULL, nothing late, the seed figures as before
    unknown = project_stage_rows(HANDLINGS, calendar(), TODAY, settings)
    assert unknown["national_limit_days"].isna().all() and unknown["national_on_time"].isna().all()
    assert unknown["national_working_days"].notna().all()
    clock = project_clocks(PROJECTS, HANDLINGS, unknown, calendar(), TODAY, settings)
    assert pd.isna(clock.iloc[0]["national_stages_late"])
