"""The sandbox's cases as canonical rows (values left as each system wrote them), with the ground truth.

This is the input shape of ``approval-bridge dedup`` and of the resolution benchmark. What each stand-in system's
fields and status codes mean is the sandbox's own knowledge (it generated them: :mod:`sandbox.generator`),
transcribed here, never read from the bridge's mapping (``staging.mappings`` / ``core/departments/*.yaml``): a
wrong mapping on the bridge's side then shows up against this ground truth (tests/test_sandbox_truth.py).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from sandbox.generator import HEALTH_STATUS, HOUSING_STATUS, MARKET_STATUS, PLATFORM_STATUS, SOURCES, Dataset

#: The columns ``approval-bridge dedup`` reads, in its order, as docs/resolution.md ("For IT staff") documents its
#: input: the sandbox writes to the documented shape (tests/test_sandbox_catalogue.py holds the two equal).
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

#: Per stand-in system: canonical column -> the field the generator writes that meaning into. A column a system
#: does not have is absent (housing records no applicant type; the platform no decision time).
SYSTEM_FIELDS: dict[str, dict[str, str]] = {
    "market_regulation": {
        "source_record_id": "SBLSH",
        "case_no": "SBLSH",
        "item_code": "SXBM",
        "item_name": "SXMC",
        "applicant_type": "SQRLX",
        "applicant_name": "SQRMC",
        "applicant_id": "SQRZJHM",
        "contact_phone": "LXDH",
        "address": "DZ",
        "submitted_at": "SBSJ",
        "accepted_at": "SLSJ",
        "decided_at": "JDSJ",
        "completed_at": "BJSJ",
        "status": "BLZT",
    },
    "housing": {
        "source_record_id": "ywh",
        "case_no": "ywh",
        "item_code": "sxbm",
        "item_name": "sxmc",
        "applicant_name": "jsdw",
        "applicant_id": "tyshxydm",
        "contact_phone": "lxdh",
        "address": "xmdz",
        "submitted_at": "sqrq",
        "accepted_at": "slrq",
        "decided_at": "jdrq",
        "completed_at": "bjrq",
        "status": "zt",
    },
    "health": {
        "source_record_id": "办件编号",
        "case_no": "办件编号",
        "item_code": "事项编码",
        "item_name": "事项名称",
        "applicant_type": "申请人类型",
        "applicant_name": "申请人",
        "applicant_id": "证件号码",
        "contact_phone": "联系电话",
        "address": "地址",
        "submitted_at": "申请日期",
        "accepted_at": "受理日期",
        "decided_at": "决定日期",
        "completed_at": "办结日期",
        "status": "办理状态",
    },
    "approval_platform": {
        "source_record_id": "caseNo",
        "case_no": "caseNo",
        "item_code": "itemCode",
        "item_name": "itemName",
        "applicant_type": "applicantType",
        "applicant_name": "applicantName",
        "applicant_id": "certNo",
        "contact_phone": "mobile",
        "address": "address",
        "submitted_at": "applyTime",
        "accepted_at": "acceptTime",
        "completed_at": "finishTime",
        "status": "status",
    },
}
#: Per system: its status code -> the canonical 办件状态 (the generator's own tables, inverted).
SYSTEM_STATUSES: dict[str, dict[str, str]] = {
    source: {code: canonical for canonical, code in table.items()}
    for source, table in (
        ("market_regulation", MARKET_STATUS),
        ("housing", HOUSING_STATUS),
        ("health", HEALTH_STATUS),
        ("approval_platform", PLATFORM_STATUS),
    )
}
#: Per system: its applicant-type value -> legal_person / natural_person (what the generator writes).
SYSTEM_APPLICANT_TYPES: dict[str, dict[str, str]] = {
    "market_regulation": {"1": "legal_person", "2": "natural_person"},
    "housing": {},  # no field: construction permits are filed by the 建设单位 (legal persons)
    "health": {"单位": "legal_person", "个人": "natural_person"},
    "approval_platform": {"法人": "legal_person", "自然人": "natural_person"},
}


def canonical_cases(data: Dataset) -> pd.DataFrame:
    frames = []
    for source in SOURCES:
        rows = pd.DataFrame(data.records(source))
        if rows.empty:
            continue
        fields = SYSTEM_FIELDS[source]
        frame = pd.DataFrame(index=rows.index)
        for column in DEDUP_COLUMNS:
            field = fields.get(column)
            values = rows[field] if field in rows else pd.Series(pd.NA, index=rows.index)
            if values.map(lambda v: isinstance(v, dt.datetime)).any():
                values = pd.to_datetime(values).dt.strftime("%Y-%m-%d %H:%M:%S")
            frame[column] = values.astype("string")
        frame["source_system"] = source
        frame["status"] = frame["status"].map(SYSTEM_STATUSES[source]).fillna(frame["status"])
        frames.append(frame[list(DEDUP_COLUMNS)])
    cases = pd.concat(frames, ignore_index=True)
    truth = pd.DataFrame(data.truth, columns=["source_system", "source_record_id", "true_case_id"])
    return cases.merge(truth, on=["source_system", "source_record_id"], how="left")
