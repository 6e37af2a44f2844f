"""The province's checks of one row against its own definitions and code lists.

Written from the published rules (exchange-formats.md §3.1: the 办件编号 is the 31-character 实施编码, the date
yyyyMMdd and a 4-digit serial from 0001; §3.2: the 实施编码 begins with the implementing body's 18-character
统一社会信用代码, GB 32100-2015 check character; the lengths and NOT NULL of the published tables,
``contracts/national``; ``codes.yaml``; which column follows which, ``checks.yaml``).
Messages are in the province's words: they are what the sender reads back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.province.fixture import AuditedTable, codes

# GB 32100-2015: 31 characters (no I, O, S, V, Z); weights 3^i mod 31; check = (31 - sum mod 31) mod 31.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_SHAPE = re.compile(f"[{USCC_CHARS}]{{18}}")
IMPLEMENTING_TAIL = re.compile(r"[0-9A-Z]{13}")
CASE_NUMBER_LENGTH = 31 + 8 + 4

# err_type codes (codes.yaml err_type)
MISSING, TOO_LONG, MALFORMED, UNKNOWN_CODE, NO_SUCH_ROW, NOT_ACCEPTED, DUPLICATE = (
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "07",
)


@dataclass(frozen=True)
class Problem:
    column: str
    err_type: str
    message: str


def uscc_problem(value: str) -> str | None:
    """Why ``value`` is no 统一社会信用代码, or None."""
    if not USCC_SHAPE.fullmatch(value):
        return "应为18位统一社会信用代码"
    total = sum(USCC_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(value[:17]))
    if USCC_CHARS[(31 - total % 31) % 31] != value[17]:
        return "统一社会信用代码校验位错误"
    return None


def implementing_code_problem(value: str) -> str | None:
    """Why ``value`` is no 31-character 实施编码 (USCC of the implementing body + 13 characters), or None."""
    if len(value) != 31:
        return f"实施编码应为31位，实为{len(value)}位"
    if problem := uscc_problem(value[:18]):
        return f"实施编码前18位{problem}"
    if not IMPLEMENTING_TAIL.fullmatch(value[18:]):
        return "实施编码后13位应为数字或大写字母"
    return None


def case_number_problem(value: str) -> str | None:
    """Why ``value`` is no 办件编号 (实施编码 + yyyyMMdd + serial 0001-9999), or None."""
    if len(value) != CASE_NUMBER_LENGTH:
        return f"办件编号应为{CASE_NUMBER_LENGTH}位（实施编码31位+日期8位+流水号4位），实为{len(value)}位"
    if problem := implementing_code_problem(value[:31]):
        return problem
    try:
        dt.datetime.strptime(value[31:39], "%Y%m%d")
    except ValueError:
        return f"办件编号第32-39位应为日期yyyyMMdd，实为{value[31:39]}"
    if not value[39:].isascii() or not value[39:].isdigit() or value[39:] == "0000":
        return f"办件编号末4位应为0001起的流水号，实为{value[39:]}"
    return None


RULES = {"case_number": case_number_problem, "implementing_code": implementing_code_problem, "uscc": uscc_problem}


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def check_row(spec: AuditedTable, row: Mapping[str, object]) -> list[Problem]:
    """Every problem of ``row`` against its table alone (NOT NULL, lengths, code lists, identifier rules); the
    checks that need what the province already holds (updates, parents) are the exchange process's."""
    lists = codes()
    problems: list[Problem] = []
    for column in spec.definition.columns:
        value = row.get(column.name)
        check = spec.checks.get(column.name)
        if _blank(value):
            if column.not_null and column.default is None and not column.auto_increment:
                problems.append(Problem(column.name, MISSING, f"必填项{column.name}为空"))
            continue
        text = value if isinstance(value, str) else str(value)
        if column.type == "varchar" and column.length is not None and len(text) > column.length:
            problems.append(
                Problem(column.name, TOO_LONG, f"字段{column.name}长度{len(text)}超过规定的{column.length}")
            )
            continue
        if check and check.codes and text not in lists[check.codes]:
            problems.append(Problem(column.name, UNKNOWN_CODE, f"字段{column.name}的值{text}不在代码表{check.codes}中"))
        if check and check.rule and (why := RULES[check.rule](text)):
            problems.append(Problem(column.name, MALFORMED, f"字段{column.name}：{why}"))
    rule_of = {check.rule: column for column, check in spec.checks.items() if check.rule}
    case_col, task_col = rule_of.get("case_number"), rule_of.get("implementing_code")
    case_no, task = row.get(case_col or ""), row.get(task_col or "")
    if case_col and task_col and not problems and not str(case_no).startswith(str(task)):
        problems.append(Problem(case_col, MALFORMED, f"办件编号{case_no}不以实施编码{task}开头"))
    return problems


def reason(problems: list[Problem]) -> str:
    """The province's text for a refused row: every problem, in column order."""
    return "；".join(p.message for p in problems)
