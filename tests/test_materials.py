"""材料 and 经办人 on the golden case: staged from hand-made records in two systems' own shapes (the market
regulator's list, the housing database's JSON text), unreadable entries flagged and never dropped, survivorship
(the department's record over the re-entry, a record's current state over its earlier one), and the payload: the
keys only where known, so every other case's content, and so its versions, stay as they were.
"""

import json

import pandas as pd
import pytest

from core import departments as declared
from resolution.golden import build_golden_cases, materials_of, payload_json
from staging.materials import FLAG, flag_records, stage_materials
from staging.normalise import stage_partition
from tests.test_staging import GOOD_MARKET, MR, PLATFORM

pytestmark = pytest.mark.unit

HOUSING = {
    "ywh": "WJJS2026111600001",
    "sxbm": "ZJ-SGXK",
    "sxmc": "建筑工程施工许可",
    "jsdw": "常州恒达科技有限公司",
    "tyshxydm": "9132041258558635XF",
    "sqrq": "2026-11-16 09:00:00",
    "slrq": "2026-11-16 10:30:00",
    "zt": "已受理",
    "gxsj": "2026-11-16 10:30:00",
    "slr": " 沈 建国 ",
    "sqcl": json.dumps(
        [
            {"mc": "建筑工程施工许可申请表", "sqfs": "纸质", "fs": 2},
            {"mc": "建设工程规划许可证", "sqfs": "证照库调取", "fs": None},
        ],
        ensure_ascii=False,
    ),
}
LISTED = [
    {"CLMC": "公司登记（备案）申请书", "SQFS": "2", "SQSL": 1, "FJMC": "申请书.pdf"},
    {"CLMC": "法定代表人身份证明", "SQFS": "3", "SQSL": None, "FJMC": ""},
    {"CLMC": "住所使用证明", "SQFS": "1", "SQSL": "2", "FJMC": ""},
]


def _raw(*records: tuple[str, dict, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"source_system": s, "record_key": key, "payload": json.dumps(p, ensure_ascii=False)} for s, p, key in records]
    )


def staged_with_materials(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    staged, quarantined = stage_partition(raw)
    assert quarantined.empty, quarantined.to_dict("records")
    materials = stage_materials(raw, staged)
    staged["quality_flags"] = flag_records(staged, materials)
    return staged, materials


def test_each_system_lists_materials_in_its_own_shape():
    raw = _raw(
        ("market_regulation", {**GOOD_MARKET, "SQCL": LISTED}, "M1"),
        ("housing", HOUSING, "H1"),
        ("market_regulation", {**GOOD_MARKET, "SBLSH": MR[2], "SQCL": []}, "M2"),  # none listed: no error
        ("market_regulation", {**GOOD_MARKET, "SBLSH": MR[3]}, "M3"),  # no such field (an older record)
        ("housing", {**HOUSING, "ywh": "WJJS2026111600002", "sqcl": None}, "H2"),  # NULL in an older row
    )
    staged, materials = staged_with_materials(raw)
    rows = materials.set_index(["record_key", "seq"])
    assert rows.loc[("M1", 0), ["name", "get_type", "count", "attachment"]].tolist() == [
        "公司登记（备案）申请书", "upload", 1, "申请书.pdf"
    ]  # fmt: skip
    assert rows.loc[("M1", 1), "get_type"] == "licence" and pd.isna(rows.loc[("M1", 1), "count"])
    assert pd.isna(rows.loc[("M1", 1), "attachment"])  # "" is no attachment
    assert rows.loc[("M1", 2), "count"] == 2  # "2" as the system wrote it
    assert rows.loc[("H1", 0), ["name", "get_type", "count"]].tolist() == ["建筑工程施工许可申请表", "paper", 2]
    assert rows.loc[("H1", 1), "get_type"] == "licence"
    assert set(materials["record_key"]) == {"M1", "H1"} and materials["problem"].isna().all()
    assert staged["quality_flags"].fillna("").str.contains(FLAG).sum() == 0


def test_unreadable_materials_flag_their_record_and_are_kept():
    bad = [
        {"CLMC": "申请书", "SQFS": "9", "SQSL": 1},  # a 收取方式 the declaration does not list
        {"CLMC": "", "SQFS": "1"},  # no name
        {"CLMC": "章程", "SQFS": "1", "SQSL": "两份"},  # a count that is no number
        "营业执照",  # not an object
        {"CLMC": "住所使用证明", "SQFS": "1", "SQSL": 1},  # fine
    ]
    raw = _raw(
        ("market_regulation", {**GOOD_MARKET, "SQCL": bad}, "M1"),
        ("housing", {**HOUSING, "sqcl": "[{mc: 申请表}"}, "H1"),  # JSON that does not parse
        ("market_regulation", {**GOOD_MARKET, "SBLSH": MR[2], "SQCL": {"CLMC": "申请书"}}, "M2"),  # not a list
    )
    staged, materials = staged_with_materials(raw)
    assert len(staged) == 3  # every record staged
    problems = materials.set_index(["record_key", "seq"])["problem"]
    assert problems.loc[("M1", 0)] == "unknown_get_type"
    assert problems.loc[("M1", 1)] == "material_name_missing"
    assert problems.loc[("M1", 2)] == "material_count_unreadable"
    assert problems.loc[("M1", 3)] == "material_not_an_object"
    assert pd.isna(problems.loc[("M1", 4)])
    assert problems.loc[("H1", 0)] == problems.loc[("M2", 0)] == "materials_not_a_list"
    flags = staged.set_index("record_key")["quality_flags"]
    assert all(FLAG in flags[k] for k in ("M1", "H1", "M2"))


def test_a_material_mapping_maps_onto_the_canonical_get_types():
    with pytest.raises(ValueError, match="收取方式"):
        declared.MaterialMapping(field="X", name="N", get_type="T", get_types={"1": "fax"})


def linked_cases() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One case seen three times: the market regulator's record on two days (受理 listing two papers, then 办结
    listing them again with the count of one changed and a third), and a clerk's re-entry."""
    accepted = {**GOOD_MARKET, "SQCL": LISTED[:2]}
    done = {**GOOD_MARKET, "BLZT": "05", "BJSJ": "2026-11-18 15:00:00", "GXSJ": "2026-11-18 15:00:00",
            "SQCL": [{**LISTED[0], "SQSL": 3}, LISTED[1], LISTED[2]]}  # fmt: skip
    platform = {**PLATFORM, "acceptUserName": "王丽"}
    frames, materials = [], []
    for day, raw in (
        ("2026-11-16", _raw(("market_regulation", accepted, "M1"), ("approval_platform", platform, "AP-1"))),
        ("2026-11-18", _raw(("market_regulation", done, "M1"))),
    ):
        staged, listed = staged_with_materials(raw)
        frames.append(staged.assign(partition_date=pd.Timestamp(day).date()))
        materials.append(listed.assign(partition_date=pd.Timestamp(day).date()))
    linked = pd.concat(frames, ignore_index=True).assign(golden_case_id="GC1")
    return linked, pd.concat(materials, ignore_index=True)


def test_the_case_lists_each_material_once_from_its_best_record():
    linked, materials = linked_cases()
    # a platform record listing a paper by another spelling, and one of its own
    extra = pd.DataFrame(
        [
            {"source_system": "approval_platform", "partition_date": linked["partition_date"].min(),
             "record_key": "AP-1", "seq": 0, "name": "公司登记(备案)申请书", "get_type": "paper", "count": 1,
             "attachment": None, "problem": None},
            {"source_system": "approval_platform", "partition_date": linked["partition_date"].min(),
             "record_key": "AP-1", "seq": 1, "name": "授权委托书", "get_type": "paper", "count": 1,
             "attachment": None, "problem": None},
        ]
    )  # fmt: skip
    listed = pd.concat([materials, extra], ignore_index=True).assign(golden_case_id="GC1")  # as the links give it
    found = materials_of(pd.Series(["GC1", "GC2"]), listed, linked)
    assert pd.isna(found.iloc[1])  # a case with none
    listed = json.loads(found.iloc[0])
    assert listed == [
        {"name": "公司登记（备案）申请书", "get_type": "upload", "count": 3, "attachment": "申请书.pdf"},  # 办结 state
        {"name": "法定代表人身份证明", "get_type": "licence", "count": None, "attachment": None},
        {"name": "住所使用证明", "get_type": "paper", "count": 2, "attachment": None},
        {"name": "授权委托书", "get_type": "paper", "count": 1, "attachment": None},  # the re-entry's own
    ]


def test_the_clerk_comes_from_the_best_record_that_names_one():
    linked, _ = linked_cases()
    golden = build_golden_cases(linked).set_index("golden_case_id")
    assert golden.loc["GC1", "handler_name"] == "王丽"  # the market regulator names none: the re-entry's clerk
    housing, _ = staged_with_materials(_raw(("housing", HOUSING, "H1")))
    typed = stage_partition(_raw(("approval_platform", {**PLATFORM, "acceptUserName": "王丽"}, "AP-9")))[0]
    both = pd.concat([housing, typed], ignore_index=True).assign(golden_case_id="GC2", partition_date=None)
    assert build_golden_cases(both).set_index("golden_case_id").loc["GC2", "handler_name"] == "沈建国"  # department


def test_the_payload_carries_materials_and_the_clerk_only_when_known():
    linked, materials = linked_cases()
    golden = build_golden_cases(linked)
    plain = golden.assign(handler_name=pd.NA)
    before = json.loads(payload_json(plain)[0])
    assert "handler_name" not in before and "materials" not in before
    with_none = json.loads(payload_json(plain.assign(materials=pd.Series([pd.NA], dtype="string")))[0])
    assert with_none == before  # no materials: the content (and so the hash and the versions) as before
    golden["materials"] = materials_of(golden["golden_case_id"], materials, linked)
    after = json.loads(payload_json(golden)[0])
    assert after["handler_name"] == "王丽"
    assert [m["name"] for m in after["materials"]] == ["公司登记（备案）申请书", "法定代表人身份证明", "住所使用证明"]
    assert {k: v for k, v in after.items() if k not in ("materials", "handler_name")} == before
