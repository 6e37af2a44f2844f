"""Staging on hand-made raw records: what is normalised, and what is quarantined with which reason."""

import json

import pandas as pd
import pytest

from staging.normalise import parse_timestamps, stage_partition

pytestmark = pytest.mark.unit


def _raw(*records):
    return pd.DataFrame(
        [
            {
                "source_system": source,
                "record_key": payload.get("_key", f"k{i}"),
                "payload": json.dumps(payload, ensure_ascii=False),
            }
            for i, (source, payload) in enumerate(records)
        ]
    )


def sblsh(serial: int) -> str:
    """A 办件编号 by the national rule: 实施编码 (the bureau's market regulator's USCC, level 4 县级, 基本编码),
    the day, a 4-digit serial."""
    return f"11320412MB0143028G4000102001000{20261116}{serial:04d}"


MR = {n: sblsh(n) for n in range(1, 9)}
GOOD_MARKET = {
    "SBLSH": MR[1],
    "SXBM": "SCJG-QYSL",
    "SXMC": "企业设立登记",
    "SQRLX": "1",
    "SQRMC": "常州恒达科技有限公司",
    "SQRZJHM": "9132041258558635XF",
    "LXDH": "13812345678",
    "DZ": "江苏省常州市武进区湖塘镇人民中路1号",
    "SBSJ": "2026-11-16 09:00:00",
    "SLSJ": "2026-11-16 10:00:00",
    "BLZT": "02",
    "GXSJ": "2026-11-16 10:00:00",
}
PLATFORM = {
    "caseNo": "AP-1",
    "itemCode": "",
    "itemName": "公司设立登记",
    "applicantType": "法人",
    "applicantName": "恒达科技 有限公司",
    "certNo": "９１３２０４１２５８５５８６３５ｘｆ",
    "mobile": "",
    "address": "武进区湖塘镇",
    "applyTime": "2026年11月16日",
    "acceptTime": "2026/11/16 10:00",
    "finishTime": "",
    "status": "20",
}


def test_valid_records_are_normalised():
    staged, quarantined = stage_partition(_raw(("market_regulation", GOOD_MARKET), ("approval_platform", PLATFORM)))
    assert quarantined.empty
    market, platform = staged.set_index("source_system").loc[["market_regulation", "approval_platform"]].itertuples()
    assert market.item_code == platform.item_code == "000102001000"  # local code and item-name variant both map
    assert market.status == platform.status == "受理"
    assert platform.applicant_id == "9132041258558635XF"  # full-width, lower-case x
    assert platform.applicant_name == "恒达科技有限公司"
    assert platform.applicant_type == "legal_person"
    assert platform.submitted_at == pd.Timestamp("2026-11-16")
    assert market.promised_days == 2 and market.handling_dept == "market_regulation"
    assert "phone_missing" in platform.quality_flags and "item_from_name" in platform.quality_flags


def test_failed_check_digit_is_flagged_not_quarantined():
    record = dict(GOOD_MARKET, SQRZJHM="9132041258558635XE")
    staged, quarantined = stage_partition(_raw(("market_regulation", record)))
    assert quarantined.empty
    assert staged.loc[0, "quality_flags"] == "id_checksum_failed"
    assert not staged.loc[0, "applicant_id_checksum_ok"]


def test_bad_input_ends_in_quarantine_with_a_reason():
    raw = _raw(
        ("market_regulation", dict(GOOD_MARKET, SBLSH=MR[2], _key="MR-2", SQRMC="")),
        ("market_regulation", dict(GOOD_MARKET, SBLSH=MR[3], _key="MR-3", SXBM="XX-9999", SXMC="不存在的事项")),
        ("market_regulation", dict(GOOD_MARKET, SBLSH=MR[4], _key="MR-4", SQRZJHM="91320412M")),
        ("market_regulation", dict(GOOD_MARKET, SBLSH=MR[5], _key="MR-5", SBSJ="2026-13-45 09:00:00")),
        ("market_regulation", dict(GOOD_MARKET, SBLSH=MR[6], _key="MR-6", BLZT="99")),
        ("health", {"_file": "health_cases_20261116_补报.csv", "_error": "the file holds NUL bytes", "_key": "f.csv"}),
        ("market_regulation", dict(GOOD_MARKET, SBLSH=MR[7], _key="MR-7")),
        ("market_regulation", dict(GOOD_MARKET, SBLSH=MR[8][:-4] + "0000", _key="MR-8")),  # serials start at 0001
        ("market_regulation", dict(GOOD_MARKET, SBLSH="SCJG 2026 0009", _key="MR-9")),  # blanks in it
        ("market_regulation", dict(GOOD_MARKET, SBLSH="SCJG-2026-0010", _key="MR-10")),  # another valid form: kept
    )
    staged, quarantined = stage_partition(raw)
    assert len(staged) + len(quarantined) == len(raw)
    assert staged["source_record_id"].tolist() == [MR[7], "SCJG-2026-0010"]
    reasons = dict(zip(quarantined["record_key"], quarantined["reason_code"], strict=True))
    assert reasons == {
        "MR-2": "missing_applicant_name",
        "MR-3": "unknown_item",
        "MR-4": "invalid_applicant_id",
        "MR-5": "invalid_submitted_at",
        "MR-6": "unknown_status",
        "MR-8": "malformed_case_no",
        "MR-9": "malformed_case_no",
        "f.csv": "unreadable_file",
    }
    text = dict(zip(quarantined["record_key"], quarantined["reason"], strict=True))
    assert "XX-9999" in text["MR-3"] and "item_codes" in text["MR-3"]
    assert "9位" in text["MR-4"] and "91320412M" not in text["MR-4"]  # the reason never repeats the identifier
    assert "2026-13-45" in text["MR-5"]
    assert "重新导出" in text["f.csv"]
    assert "43位" in text["MR-8"] and "0001" in text["MR-8"]
    assert "（14位）" in text["MR-9"] and "空格" in text["MR-9"] and "SCJG 2026 0009" not in text["MR-9"]


def test_clerk_date_forms_parse():
    parsed = parse_timestamps(
        pd.Series(
            [
                "2025/03/05",
                "2025年3月5日",
                "20250305",
                "2025-03-05 14:30",
                "2025.3.5",
                "2025-03-05T14:30:00+08:00",
                "２０２５－０３－０５",
                "2025-03-05 14:30:00.000000",  # a database's datetime, fractions of a second and all
                "2025-02-30",
                "",
                None,
            ]
        )
    )
    expected = [
        "2025-03-05",
        "2025-03-05",
        "2025-03-05",
        "2025-03-05 14:30",
        "2025-03-05",
        "2025-03-05 14:30",
        "2025-03-05",
        "2025-03-05 14:30",
    ]
    assert parsed.iloc[:8].tolist() == [pd.Timestamp(v) for v in expected]
    assert parsed.iloc[8:].isna().all()  # an impossible date is not guessed
