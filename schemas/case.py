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
    "promised_days",  # 承诺时限 (in the catalogue's promised_unit: working or natural days)
    "statutory_days",  # 法定时限 (in the catalogue's statutory_unit)
    "handling_dept",  # 承办部门
    "submission_channel",  # 申报渠道 / 办理形式: CHANNELS; NA where the source does not say
    "delivery_method",  # 结果送达方式: DELIVERY_METHODS; NA where the source does not say
    "accepting_place",  # 受理地点: a place_code of places.csv; NA where the source does not say
    "approval_mode",  # 审批方式: APPROVAL_MODES (the source's word, else the item's default in items.csv)
    "project_code",  # 投资项目代码, where the case is a step of an investment project and its source says which
    "handler_name",  # 经办人 / 受理人员: the clerk who accepted or handled the case (staff); NA where unsaid
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
#: A case that ended without being completed: returned (退件) or not accepted (不予受理). Its clock stops when it
#: ended (its completion time as the source gave it, else its decision time); it is neither running nor overdue.
ENDED_UNCOMPLETED = ("退件", "不予受理")

#: 特别程序: what stops a case's clock. 行政许可法 Art. 45 leaves out 听证、招标、拍卖、检验、检测、检疫、鉴定 and
#: 专家评审; the days an applicant spends correcting papers (补正, Art. 32: the time runs from the complete
#: application) and a 公示 the law requires are left out the same way. The sources' own codes map onto these.
PAUSE_KINDS: tuple[str, ...] = ("补正", "听证", "招标", "拍卖", "检验", "检测", "检疫", "鉴定", "专家评审", "公示")
#: Why each kind stops the clock, in the words a receiver's 特别程序 record carries (启动理由/依据).
PAUSE_GROUNDS = {
    "补正": (
        "申请材料不齐全或者不符合法定形式，一次告知申请人补正（《中华人民共和国行政许可法》第三十二条），"
        "补正期间不计入办理时限"
    ),
    "公示": "依法需要公示，公示期间不计入办理时限",
    **{
        kind: f"依法需要{kind}，所需时间不计算在行政许可期限内（《中华人民共和国行政许可法》第四十五条）"
        for kind in ("听证", "招标", "拍卖", "检验", "检测", "检疫", "鉴定", "专家评审")
    },
}


#: 收取方式 of a case's materials (材料), canonical: 纸质收取 (paper), 附件上传 (upload), 电子证照库 (licence:
#: taken from the licence repository), after the 前置库 ``PRE_FILE.TAKETYPE`` values (research exchange-formats
#: §2.2); GB/T 39046-2020 表5 lists 收取方式 an..20 without a code list, and the national
#: ``up_pro_material.get_type`` is 2 characters with no published list (research §9): each receiver's profile maps
#: these onto its codes.
MATERIAL_GET_TYPES: tuple[str, ...] = ("paper", "upload", "licence")
#: The keys of one material in the canonical case's ``materials`` list.
MATERIAL_KEYS: tuple[str, ...] = ("name", "get_type", "count", "attachment")

#: 申报渠道 (办理形式): the values of ``schemas/codes/lists/channel.csv``. ``self_service`` is a terminal in a hall.
CHANNELS: tuple[str, ...] = ("window", "web", "mobile", "self_service", "express", "other")
#: 结果送达方式: the values of ``schemas/codes/lists/delivery_method.csv``.
DELIVERY_METHODS: tuple[str, ...] = ("window", "express", "electronic")
#: 审批方式: ordinary licensing, filing, notification-and-commitment, acceptance with missing papers (证照分离).
APPROVAL_MODES: tuple[str, ...] = ("审批", "备案", "告知承诺", "容缺受理")
#: The columns a department's code maps translate (FieldMapping), each with its vocabulary.
CODED_COLUMNS = {"submission_channel": "channels", "delivery_method": "deliveries", "accepting_place": "places",
                 "approval_mode": "approval_modes"}  # fmt: skip


def is_completed(cases: pd.DataFrame) -> pd.Series:
    """Cases that are finished: a completed status (办结, 送达) and a completion time."""
    return cases["status"].isin(COMPLETED_STATUSES) & cases["completed_at"].notna()


LOCAL_TZ = "Asia/Shanghai"


#: What :func:`items` returns: the bureau's columns, then the catalogue's (事项实施清单).
ITEM_COLUMNS: tuple[str, ...] = (
    "item_code",  # 基本编码
    "item_name",  # 事项名称 (the catalogue's)
    "handling_dept",  # the department whose USCC is the implementing body's (departments.csv); "" if none
    "licence_type_code",  # items.csv: 证照类型代码 of the licence produced ("" = none)
    "licence_name",
    "validity_years",
    "promised_days",  # 承诺办结时限, in promised_unit
    "statutory_days",  # 法定办结时限, in statutory_unit
    "target_2345",
    "aliases",
    "action",
    "task_code",  # 实施编码 (31)
    "task_version",  # 事项版本
    "implementing_body_uscc",  # 实施主体编码
    "implementing_body_name",  # 实施主体
    "promised_unit",  # workday / natural_day
    "statutory_unit",  # workday / natural_day
    "case_type",  # immediate (即办件) / promised (承诺件)
    "online",  # 可网办 (bool)
    "express",  # 可快递 (bool)
    "approval_mode",  # items.csv: the item's 审批方式 when a source names none (APPROVAL_MODES)
    "other_modes",  # items.csv: the other modes the item may be handled by, "|"-separated (告知承诺, 容缺受理)
)
#: The bureau's own notes per item, which the province's export does not carry.
LOCAL_ITEM_COLUMNS = (
    "licence_type_code",
    "licence_name",
    "validity_years",
    "target_2345",
    "aliases",
    "action",
    "approval_mode",
    "other_modes",
)


@cache
def items() -> pd.DataFrame:
    """The item catalogue: each item's current version in the province's implementation list
    (``schemas/codes/catalogue.csv``, imported by ``approval-bridge catalogue import``) with the bureau's notes
    from ``items.csv`` (licence produced, 2345 target, the names clerks type). One row per 基本编码."""
    from schemas.catalogue import catalogue

    current = catalogue()
    local = pd.read_csv(CODES_DIR / "items.csv", dtype=str, keep_default_na=False)
    merged = current.merge(local[["item_code", *LOCAL_ITEM_COLUMNS]], on="item_code", how="left")
    merged[list(LOCAL_ITEM_COLUMNS)] = merged[list(LOCAL_ITEM_COLUMNS)].fillna("")
    body_to_dept = dict(zip(departments()["issuer_uscc"], departments()["department_code"], strict=True))
    merged["handling_dept"] = merged["implementing_body_uscc"].map(body_to_dept).fillna("")
    return merged[list(ITEM_COLUMNS)]


@cache
def departments() -> pd.DataFrame:
    return pd.read_csv(CODES_DIR / "departments.csv", dtype=str, keep_default_na=False)


@cache
def field_labels() -> dict[str, str]:
    """The canonical fields in a clerk's words (``field_labels.csv``: 办件编号 for ``case_no`` …): what an export,
    a correction list or a reason shows a person instead of the bridge's English column name."""
    labels = pd.read_csv(CODES_DIR / "field_labels.csv", dtype=str, keep_default_na=False)
    return dict(zip(labels["field"], labels["label"], strict=True))


@cache
def places() -> pd.DataFrame:
    """受理地点: the district hall, the two parks' halls and the towns' service centres (``places.csv``), each
    with the region code (``regions.csv``) that place reports under."""
    return pd.read_csv(CODES_DIR / "places.csv", dtype=str, keep_default_na=False)


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
