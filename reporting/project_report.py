"""The key-project monthly report (重点项目月报) as an XLSX the office can hand on: one sheet of projects (stage
reached, days used and left of the 45, stages late, responsible department) and one of their stages, both read from
the marts (``mart_projects``, ``mart_project_stages``) through ``reporting.projects.key_project_report``. Text
cells that would start a formula are written as text (core.exports.write_workbook)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.exports import write_workbook
from reporting.projects import key_project_report

PROJECT_HEADINGS = {
    "project_code": "投资项目代码",
    "project_name": "项目名称",
    "unit_name": "项目单位",
    "site": "建设地点",
    "total_investment_wan": "总投资(万元)",
    "started_on": "立项受理日",
    "stage_reached": "当前阶段",
    "status": "状态",
    "working_days": "已用工作日",
    "target_days": "目标工作日",
    "days_left": "剩余工作日",
    "stages_late": "超时阶段",
    "held_up_by": "用时最长阶段",
    "responsible_dept": "责任部门",
    "permit_on": "施工许可日",
}
STAGE_HEADINGS = {
    "project_code": "投资项目代码",
    "stage": "阶段",
    "national_stage": "国家标准阶段",
    "started_on": "开始",
    "ended_on": "完成",
    "status": "状态",
    "working_days": "工作日",
    "paused_working_days": "特别程序工作日",
    "limit_days": "阶段时限",
    "on_time": "按时",
    "redone": "重办",
    "responsible_dept": "责任部门",
}
SHEETS = {"projects": PROJECT_HEADINGS, "stages": STAGE_HEADINGS}


def report_frames(clocks: pd.DataFrame, stages: pd.DataFrame, month: str) -> dict[str, pd.DataFrame]:
    """The two sheets' rows (mart columns, in the sheet's order) for ``month``."""
    projects, shown = key_project_report(clocks, stages, month)
    return {"projects": projects[list(PROJECT_HEADINGS)], "stages": shown[list(STAGE_HEADINGS)]}


def write_report(clocks: pd.DataFrame, stages: pd.DataFrame, month: str, path: Path) -> dict[str, int]:
    """Write the report; returns the rows per sheet."""
    frames = report_frames(clocks, stages, month)
    return write_workbook(path, {name: (frame, SHEETS[name]) for name, frame in frames.items()})
