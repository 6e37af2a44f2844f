"""The key-project monthly report (重点项目月报) as an XLSX the office can hand on: one sheet of projects (stage
reached, days used and left of the 45, stages late, responsible department) and one of their stages, both read from
the marts (``mart_projects``, ``mart_project_stages``) through ``reporting.projects.key_project_report``. Text
cells that would start a formula are written as text (core.exports.spreadsheet_safe)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from core.exports import spreadsheet_safe
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
    book = Workbook()
    book.remove(book.active)
    header = PatternFill("solid", fgColor="1F4E78")
    counts = {}
    for name, frame in report_frames(clocks, stages, month).items():
        headings = SHEETS[name]
        sheet = book.create_sheet(name)
        sheet.append([headings[c] for c in frame.columns])
        safe = spreadsheet_safe(frame.astype(object).where(frame.notna(), None))
        for row in safe.itertuples(index=False):
            sheet.append([None if v is pd.NA else v for v in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = header
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for index, column in enumerate(frame.columns, start=1):
            widest = max([len(str(headings[column])) * 2, *(len(str(v)) for v in frame[column].dropna())], default=8)
            sheet.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, 8), 48)
        sheet.freeze_panes = "A2"
        counts[name] = len(frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return counts
