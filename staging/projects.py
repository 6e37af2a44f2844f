"""Investment projects staged from the engineering-construction approval system (SPGL): each project record and
each item-handling record usable (``staged_projects``, ``staged_project_items``) or quarantined with its reason
(``quarantined_feed_records``); nothing is dropped.

Beyond the rules every feed shares (``staging.feeds``), a record whose 投资项目代码 fails the check
(``schemas.identifiers.project_code_problems``: a clerk's typing, most often) is quarantined: a project is keyed by
its code, and a wrong code would start a second project. A project that names an investment that is not a number
is quarantined too.

An item handling is read with its steps (SPGL 办理状态 BLZT, contracts/spgl/BLZT.yaml): its outcome is its last
step's code as the declaration maps it (a code the map lacks is quarantined with the code in the reason), its end
is kept only when that step ended it (11/12 granted, 13 refused, 2/4/5 never accepted, 14 withdrawn, 15 revoked;
8 部门开始办理 and 9 特别程序 never end it), and its 补正 (6 → 7) and 特别程序 (9 → 10) are its pauses. A handling that
ended before it was accepted, or that names neither a project nor a 工程, is quarantined. The national stage and the
milestone flag its process's stage-item table gives are kept when they are a national stage (1-5); otherwise the
bureau's table places the item (``schemas.projects``).

A process stage (SPGL_DFXMSPLCJDXXB) whose 对应标准阶段 is not one of the national four or 5 并行推进, or whose
阶段时限 is not a positive whole number of working days (0 is 并行推进's: no limit), is quarantined: its limit would
be compared with a stage it does not stand for, or with nothing.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from core.feeds import Feed
from schemas.identifiers import normalize_code_series, normalize_project_code_series, project_code_problems
from schemas.projects import NATIONAL_STAGES, PARALLEL_STAGE
from staging.feeds import feed_rules, first_failing, map_feed, split

PROJECT_COLUMNS = [
    "source_system", "record_key", "project_code", "project_name", "works_code", "approval_type", "works_class",
    "total_investment_wan", "site", "unit_name", "unit_id", "key_flag", "submitted_at", "process_code",
    "process_version", "changed_at",
]  # fmt: skip
ITEM_COLUMNS = [
    "source_system", "record_key", "handling_id", "project_code", "works_code", "item_code", "item_name",
    "dept_code", "dept_name", "limit_days", "accepted_at", "ended_at", "outcome", "correction_started_at",
    "correction_ended_at", "pause_started_at", "pause_ended_at", "national_stage", "milestone", "changed_at",
]  # fmt: skip
STAGE_COLUMNS = [
    "source_system", "record_key", "stage_key", "process_code", "process_version", "stage_code", "stage_name",
    "stage_order", "national_stage", "limit_days", "milestone_rule", "changed_at",
]  # fmt: skip
PROBLEM_WORDS = {
    "format": "不是 4-6-2-2-6 位数字",
    "year": "年份代码不是年份",
    "region": "地区代码不是有效的行政区划",
    "serial": "流水号为 000000",
}
FLAG_WORDS = {"1": True, "是": True, "Y": True, "TRUE": True, "0": False, "否": False, "N": False, "FALSE": False}


def _code_rule(frame: pd.DataFrame, feed: Feed) -> tuple:
    given = frame["project_code"]
    frame["project_code"] = normalize_project_code_series(given)
    problem = project_code_problems(frame["project_code"])
    return (
        problem.notna(),
        "invalid_project_code",
        feed.fields["project_code"]
        + "“"
        + given.fillna("")
        + "”不是有效的投资项目代码（"
        + problem.map(PROBLEM_WORDS).fillna("")
        + "）：请在"
        + feed.system_name
        + "中核对后重新上报。",
    )


def _empty(columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(columns=columns), pd.DataFrame(columns=["source_system", "record_key", "item_id"])


def stage_projects(raw: pd.DataFrame, feed: Feed, partition: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw``: record_key, payload (one feed, one day). Returns (staged, quarantined), both with source_system."""
    if raw.empty:
        return _empty(PROJECT_COLUMNS)
    frame = map_feed(raw, feed)
    rules = feed_rules(frame, feed)
    rules.append(_code_rule(frame, feed))
    investment = pd.to_numeric(frame["total_investment_wan"], errors="coerce")
    rules.append(
        (
            frame["total_investment_wan"].notna() & investment.isna(),
            "invalid_total_investment",
            "总投资“" + frame["total_investment_wan"].fillna("") + "”不是数字（万元）。",
        )
    )
    frame["total_investment_wan"] = investment
    frame["key_flag"] = frame["key_flag"].str.upper().map(FLAG_WORDS).astype("boolean")
    frame["unit_id"] = normalize_code_series(frame["unit_id"])
    frame["process_version"] = process_version(frame["process_version"])
    reason_code, reason = first_failing(frame, rules)
    staged, quarantined = split(frame, reason_code, reason, "project_code")
    staged["source_system"] = feed.name
    return staged.reindex(columns=PROJECT_COLUMNS).reset_index(drop=True), quarantined.assign(source_system=feed.name)


def stage_project_items(raw: pd.DataFrame, feed: Feed, partition: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """As :func:`stage_projects`, for the item handlings."""
    if raw.empty:
        return _empty(ITEM_COLUMNS)
    frame = map_feed(raw, feed)
    rules = feed_rules(frame, feed)
    rules.append(_code_rule(frame, feed))
    # an end is kept only when the last step ended the handling (a decision, or no decision: withdrawn, revoked …)
    frame["ended_at"] = frame["ended_at"].mask((frame["outcome"] == "running").fillna(False).astype(bool))
    rules += [
        (
            frame["project_code"].isna() & frame["works_code"].isna(),
            "missing_project_code",
            feed.system_name + "的事项实例未填项目代码或工程代码，无法归入项目。",
        ),
        (
            frame["_raw_ended_at"].notna() & (frame["outcome"] != "running").fillna(True) & frame["ended_at"].isna(),
            "invalid_ended_at",
            feed.fields.get("ended_at", "ended_at") + "“" + frame["_raw_ended_at"].fillna("") + "”无法识别为时间。",
        ),
        (
            frame["ended_at"] < frame["accepted_at"],
            "ended_before_accepted",
            "办结时间早于受理时间：请" + feed.system_name + "核对该事项实例。",
        ),
    ]
    frame["limit_days"] = pd.to_numeric(frame["limit_days"], errors="coerce").astype("Int64")
    national = _whole(frame["national_stage"])
    frame["national_stage"] = national.where(national.isin(list(NATIONAL_STAGES)).fillna(False).astype(bool))
    frame["milestone"] = frame["milestone"].str.upper().map(FLAG_WORDS).astype("boolean")
    reason_code, reason = first_failing(frame, rules)
    staged, quarantined = split(frame, reason_code, reason, "handling_id")
    staged["source_system"] = feed.name
    return staged.reindex(columns=ITEM_COLUMNS).reset_index(drop=True), quarantined.assign(source_system=feed.name)


def process_version(text: pd.Series) -> pd.Series:
    """SPLCBBH 审批流程版本号 (a number in SPGL: Double) in one spelling, whichever database formatted it: 1, 1.0 and
    1.00 are "1.0", 2.5 is "2.5"; text that is not a number stays as written. The projects and the process stages
    are joined on it."""
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    return number.astype("string").fillna(text.astype("string"))  # a float's own spelling: 1.0, 2.5


def _whole(text: pd.Series) -> pd.Series:
    """Text → a whole number (Int64), NA where it is not one ("15", "15.0" yes; "十五", "1.5" no)."""
    number = pd.to_numeric(text, errors="coerce")
    return number.where(number == number.round()).astype("Float64").astype("Int64")


def stage_process_stages(raw: pd.DataFrame, feed: Feed, partition: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """As :func:`stage_projects`, for the stages of the approval processes."""
    if raw.empty:
        return _empty(STAGE_COLUMNS)
    frame = map_feed(raw, feed)
    rules = feed_rules(frame, feed)
    national, limit = _whole(frame["national_stage"]), _whole(frame["limit_days"])
    parallel = (national == PARALLEL_STAGE).fillna(False).astype(bool)
    rules += [
        (
            frame["national_stage"].notna() & ~national.isin(list(NATIONAL_STAGES)).fillna(False).astype(bool),
            "invalid_national_stage",
            feed.fields["national_stage"]
            + "“"
            + frame["national_stage"].fillna("")
            + "”不是标准审批阶段 1-4（立项用地规划许可、工程建设许可、施工许可、竣工验收）或 5 并行推进：请在"
            + feed.system_name
            + "中核对该流程阶段的对应标准阶段。",
        ),
        (
            frame["limit_days"].notna() & ~((limit > 0) | (parallel & (limit == 0))).fillna(False).astype(bool),
            "invalid_limit_days",
            feed.fields["limit_days"] + "“" + frame["limit_days"].fillna("") + "”不是正整数（工作日）。",
        ),
    ]
    limit = limit.mask(parallel & (limit == 0))  # 并行推进's 0: no limit of its own
    frame["national_stage"], frame["limit_days"] = national, limit
    frame["stage_order"] = _whole(frame["stage_order"])
    # the stage's key from its parts, the version in one spelling (databases format a Double differently)
    frame["process_version"] = process_version(frame["process_version"])
    parts = frame["process_code"] + ":" + frame["process_version"] + ":" + frame["stage_code"]
    frame["stage_key"] = parts.fillna(frame["stage_key"])
    reason_code, reason = first_failing(frame, rules)
    staged, quarantined = split(frame, reason_code, reason, "stage_key")
    staged["source_system"] = feed.name
    return staged.reindex(columns=STAGE_COLUMNS).reset_index(drop=True), quarantined.assign(source_system=feed.name)
