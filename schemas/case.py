"""The canonical case (办件) every source is mapped onto, and the code tables it refers to."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import pandas as pd

CODES_DIR = Path(__file__).parent / "codes"

#: Canonical columns in the order the warehouse and the dedup command use them.
CASE_COLUMNS: tuple[str, ...] = (
    "source_system",  # 来源系统
    "source_record_id",  # 来源记录号
    "case_no",  # 办件编号
    "item_code",  # 事项编码 (provincial 基本编码)
    "item_name",  # 事项名称
    "applicant_type",  # 申请人类型: legal_person / natural_person
    "applicant_name",  # 申请人名称
    "applicant_id",  # 申请人证件号码
    "contact_phone",  # 联系电话
    "address",  # 地址
    "submitted_at",  # 申报时间
    "accepted_at",  # 受理时间
    "decided_at",  # 决定时间
    "completed_at",  # 办结时间
    "status",  # 办件状态
    "promised_days",  # 承诺时限 (working days)
    "statutory_days",  # 法定时限 (working days)
    "handling_dept",  # 承办部门
)
#: What ``approval-bridge dedup`` reads: the canonical columns record resolution looks at.
DEDUP_COLUMNS: tuple[str, ...] = (
    "source_system",
    "source_record_id",
    "case_no",
    "item_code",
    "item_name",
    "applicant_type",
    "applicant_name",
    "applicant_id",
    "contact_phone",
    "address",
    "submitted_at",
    "status",
)
TIMESTAMP_COLUMNS: tuple[str, ...] = ("submitted_at", "accepted_at", "decided_at", "completed_at")

LEGAL_PERSON = "legal_person"  # 法人
NATURAL_PERSON = "natural_person"  # 自然人
APPLICANT_TYPES = (LEGAL_PERSON, NATURAL_PERSON)

#: 办件状态 in the order a case moves through them; the rank decides which status survives a merge.
STATUSES: tuple[str, ...] = ("申报", "受理", "审查", "决定", "办结", "送达", "退件", "不予受理")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}
COMPLETED_STATUSES = ("办结", "送达")


def is_completed(cases: pd.DataFrame) -> pd.Series:
    """Cases that are finished: a completed status (办结, 送达) and a completion time."""
    return cases["status"].isin(COMPLETED_STATUSES) & cases["completed_at"].notna()


LOCAL_TZ = "Asia/Shanghai"


@cache
def items() -> pd.DataFrame:
    """The item catalogue (事项目录) with limits, licence produced and the names clerks type."""
    return pd.read_csv(CODES_DIR / "items.csv", dtype=str, keep_default_na=False).assign(
        promised_days=lambda df: df["promised_days"].astype(int),
        statutory_days=lambda df: df["statutory_days"].astype(int),
    )


@cache
def departments() -> pd.DataFrame:
    return pd.read_csv(CODES_DIR / "departments.csv", dtype=str, keep_default_na=False)


def name_key(value: str) -> str:
    """Normalise a free-text name for exact comparison: NFKC, no spaces, unified brackets."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(text.split()).replace("(", "（").replace(")", "）")


@cache
def item_name_index() -> dict[str, str]:
    """Every official name and alias of an item (normalised) → its provincial code."""
    index: dict[str, str] = {}
    for row in items().itertuples():
        for name in [row.item_name, *filter(None, row.aliases.split("|"))]:
            index[name_key(name)] = row.item_code
    return index
