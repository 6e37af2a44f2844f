"""How each department system's fields and codes map onto the canonical case.

Adding a department with the same kind of system means adding a mapping here and a connector entry
in ``pipelines/pull/sources.py``; the normalisation and validation that follow are shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.case import LEGAL_PERSON, NATURAL_PERSON


@dataclass(frozen=True)
class SourceMapping:
    source_system: str
    fields: dict[str, str]  # canonical column -> the source's field name
    statuses: dict[str, str]  # the source's status value -> canonical 办件状态
    applicant_types: dict[str, str] = field(default_factory=dict)  # source value -> canonical; {} = infer from id
    item_codes_are_local: bool = True  # local codes need item_code_map.csv; else provincial codes


MAPPINGS: dict[str, SourceMapping] = {
    m.source_system: m
    for m in (
        SourceMapping(
            "market_regulation",
            fields={
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
            statuses={
                "01": "申报",
                "02": "受理",
                "03": "审查",
                "04": "决定",
                "05": "办结",
                "06": "送达",
                "07": "退件",
                "08": "不予受理",
            },
            applicant_types={"1": LEGAL_PERSON, "2": NATURAL_PERSON},
        ),
        SourceMapping(
            "housing",
            fields={
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
            statuses={
                "已申报": "申报",
                "已受理": "受理",
                "审查中": "审查",
                "已决定": "决定",
                "已办结": "办结",
                "已送达": "送达",
                "已退件": "退件",
                "不予受理": "不予受理",
            },
            applicant_types={"": LEGAL_PERSON},  # construction permits are filed by 建设单位
        ),
        SourceMapping(
            "health",
            fields={
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
            statuses={
                "申报": "申报",
                "受理": "受理",
                "审核中": "审查",
                "审批": "决定",
                "办结": "办结",
                "送达": "送达",
                "退回": "退件",
                "不予受理": "不予受理",
            },
            applicant_types={"单位": LEGAL_PERSON, "个人": NATURAL_PERSON},
        ),
        SourceMapping(
            "approval_platform",
            fields={
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
            statuses={
                "10": "申报",
                "20": "受理",
                "30": "审查",
                "40": "决定",
                "50": "办结",
                "60": "送达",
                "70": "退件",
                "80": "不予受理",
            },
            applicant_types={"法人": LEGAL_PERSON, "自然人": NATURAL_PERSON},
            item_codes_are_local=False,
        ),
    )
}
