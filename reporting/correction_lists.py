"""Each department's correction list (纠错清单) of a day, as the XLSX its clerks work through: every entry open at
the end of the day (the oldest first) and those put right that day, each with the record as the clerk knows it,
the case number, the applicant (identifiers masked), the field and what to do. Read from the ``corrections`` state
table (reporting.corrections); written by ``approval-bridge report corrections``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from core.departments import departments as declared_systems
from core.exports import write_workbook
from core.feeds import feeds
from reporting.corrections import (
    FILE_READ,
    FIXED,
    OPEN,
    QUARANTINE,
    RECEIVER_NAMES,
    RECORD_STAGED,
    REFUSAL,
    VERSION_ACKNOWLEDGED,
    WITHDRAWN,
)
from schemas.case import departments as department_codes
from schemas.case import field_labels
from schemas.workdays import WorkingCalendar

SHEET = "纠错清单"
HEADINGS = {
    "status_label": "状态",
    "age_working_days": "已等待（工作日）",
    "kind_label": "类型",
    "system": "系统",
    "receiver": "接收方",
    "record_id": "记录号",
    "case_no": field_labels()["case_no"],
    "applicant": field_labels()["applicant_name"],
    "field_label": "问题字段",
    "reason": "原因及改正方法",
    "first_seen": "首次发现",
    "last_seen": "最近发现",
    "occurrences": "次数",
    "fixed_on": "改正日期",
    "fixed_how_label": "改正方式",
}
STATUS_LABELS = {OPEN: "待改正", FIXED: "已改正"}
KIND_LABELS = {QUARANTINE: "入库校验未通过（已隔离）", REFUSAL: "接收方退回或暂缓推送"}
FIXED_HOW_LABELS = {
    RECORD_STAGED: "记录重新报送，校验通过",
    VERSION_ACKNOWLEDGED: "更正后的新版本已被接收方确认",
    FILE_READ: "文件重新读取成功",
    WITHDRAWN: "该记录已不再报送",
}


def _system_names() -> dict[str, str]:
    names = {name: d.system_name for name, d in declared_systems().items()}
    names.update({name: f.system_name for name, f in feeds().items()})
    return names


def list_of_day(entries: pd.DataFrame, day: dt.date, calendar: WorkingCalendar) -> pd.DataFrame:
    """The entries on the lists of ``day``: open at its end (first seen on or before it, not fixed by then) or
    fixed on it, each with its state that day and its age in working days (the day first seen is day 0); the
    oldest open first. Columns: the ``corrections`` table's and HEADINGS'."""
    if entries.empty:
        return entries.assign(**{column: pd.Series(dtype=object) for column in HEADINGS})
    e = entries.assign(
        first_seen=pd.to_datetime(entries["first_seen"]).dt.date,
        last_seen=pd.to_datetime(entries["last_seen"]).dt.date,
        fixed_on=pd.to_datetime(entries["fixed_on"]).dt.date,
    )
    fixed_on = pd.to_datetime(e["fixed_on"])
    shown = (pd.to_datetime(e["first_seen"]) <= pd.Timestamp(day)) & (fixed_on.isna() | (fixed_on >= pd.Timestamp(day)))
    e = e[shown].copy()
    fixed_today = pd.to_datetime(e["fixed_on"]) == pd.Timestamp(day)
    e["status_on_day"] = pd.Series(OPEN, index=e.index).where(~fixed_today, FIXED)
    e["status_label"] = e["status_on_day"].map(STATUS_LABELS)
    e["age_working_days"] = calendar.working_days_between(
        pd.to_datetime(e["first_seen"]), pd.Series(pd.Timestamp(day), index=e.index)
    )
    e["kind_label"] = e["kind"].map(KIND_LABELS)
    e["system"] = e["source_system"].map(_system_names()).fillna(e["source_system"])
    e["receiver"] = e["target"].map(RECEIVER_NAMES).fillna(e["target"])
    e["fixed_on"] = e["fixed_on"].where(fixed_today, None)
    e["fixed_how_label"] = e["fixed_how"].map(FIXED_HOW_LABELS).where(fixed_today, None)
    order = e.assign(_fixed=fixed_today).sort_values(
        ["department", "_fixed", "age_working_days", "first_seen", "entry_key"],
        ascending=[True, True, False, True, True],
    )
    return order.drop(columns="_fixed").reset_index(drop=True)


def list_file(folder: Path, day: dt.date, department: str) -> Path:
    """Where a department's list of a day goes: ``corrections-<day>-<department>.xlsx``."""
    return folder / f"corrections-{day.isoformat()}-{department}.xlsx"


def department_name(code: str) -> str:
    names = department_codes().set_index("department_code")["department_name"]
    return str(names.get(code, code))


def write_list(rows: pd.DataFrame, path: Path) -> int:
    """One department's list as an XLSX (core.exports.write_workbook); returns the rows written."""
    return write_workbook(path, {SHEET: (rows, HEADINGS)})[SHEET]
