"""Code lists as data (schemas/codelists.py): canonical values → each receiver profile's codes, versioned by date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from schemas import codelists
from schemas.case import APPLICANT_TYPES, STATUSES, departments
from schemas.codelists import PROFILES, CodeListError, CodeLists

pytestmark = pytest.mark.unit

HEADER = "version,valid_from,valid_to,value,label,national,pre_family,municipal,source\n"


def test_shipped_lists_map_every_canonical_value_for_every_profile():
    for list_name, values in {
        "applicant_type": APPLICANT_TYPES,
        "case_status": STATUSES,
        "case_type": ("immediate", "promised"),
        "time_unit": ("workday", "natural_day"),
        "department": tuple(departments()["department_code"]),
    }.items():
        for profile in PROFILES:
            codes, unmapped = codelists.translate(list_name, profile, pd.Series(values))
            assert not unmapped.any(), (list_name, profile, list(pd.Series(values)[unmapped]))
            assert codes.notna().all()


def test_translate_maps_and_flags_what_has_no_code():
    values = pd.Series(["ric", "uscc", "passport", "hk_macau_permit", "nonsense", None], index=[5, 6, 7, 8, 9, 10])
    codes, unmapped = codelists.translate("certificate_type", "national", values)
    assert codes.tolist()[:4] == ["111", "001", "414", "516"]
    assert codes.index.tolist() == values.index.tolist()
    assert unmapped.tolist() == [False, False, False, False, True, False]  # a missing value is not unmapped
    assert pd.isna(codes[9]) and pd.isna(codes[10])

    kinds, _ = codelists.translate("applicant_class", "pre_family", pd.Series(["natural_person", "enterprise"]))
    assert kinds.tolist() == ["0", "1"]  # PRE_APASINFO.APPLY_TYPE: 0 个人, 1 企业
    units, _ = codelists.translate("time_unit", "national", pd.Series(["workday", "natural_day"]))
    assert units.tolist() == ["1", "2"]
    depts, _ = codelists.translate("department", "national", pd.Series(["market_regulation"]))
    assert depts.iloc[0] == departments().set_index("department_code").loc["market_regulation", "issuer_uscc"]


def test_a_blank_cell_is_unmapped_with_a_reason_naming_the_file_and_column():
    codes, unmapped = codelists.translate("result", "national", pd.Series(["approved", "withdrawn"]))
    assert codes.iloc[0] == "0" and unmapped.tolist() == [False, True]
    reason = codelists.unmapped_reason("result", "national", "withdrawn")
    assert "办结结果 'withdrawn'" in reason and "schemas/codes/lists/result.csv" in reason
    assert "column national" in reason and "add one" in reason
    unknown = codelists.unmapped_reason("certificate_type", "pre_family", "nonsense")
    assert "not a value of the list" in unknown and "certificate_type.csv" in unknown


def _lists(tmp_path: Path, rows: str) -> CodeLists:
    (tmp_path / "lists.csv").write_text("list,title,canonical_values\ncertificate_type,证件类型,x\n", encoding="utf-8")
    (tmp_path / "certificate_type.csv").write_text(HEADER + rows, encoding="utf-8")
    return CodeLists(tmp_path)


def test_a_new_version_applies_from_its_date(tmp_path: Path):
    lists = _lists(
        tmp_path,
        "1,2025-01-01,2025-12-31,hk_macau_permit,港澳居民来往内地通行证,513,,513,old\n"
        "2,2026-01-01,,hk_macau_permit,港澳居民来往内地通行证,516,516,516,new\n"
        "1,2025-01-01,,ric,居民身份证,111,111,111,x\n",
    )
    values = pd.Series(["hk_macau_permit", "ric"])
    old, old_unmapped = lists.translate("certificate_type", "national", values, on=dt.date(2025, 6, 1))
    new, _ = lists.translate("certificate_type", "national", values, on=dt.date(2026, 1, 1))
    assert old.tolist() == ["513", "111"] and not old_unmapped.any()
    assert new.tolist() == ["516", "111"]
    _, unmapped = lists.translate("certificate_type", "pre_family", values, on=dt.date(2025, 6, 1))
    assert unmapped.tolist() == [True, False]
    reason = lists.unmapped_reason("certificate_type", "pre_family", "hk_macau_permit", on=dt.date(2025, 6, 1))
    assert reason.startswith("证件类型 'hk_macau_permit' has no code for the province") and reason.endswith("add one")
    _, unmapped = lists.translate("certificate_type", "national", values, on=dt.date(2024, 1, 1))
    assert unmapped.all()
    reason = lists.unmapped_reason("certificate_type", "national", "ric", dt.date(2024, 1, 1))
    assert "no row in force on 2024-01-01" in reason


def test_overlapping_versions_unknown_lists_and_profiles_are_refused(tmp_path: Path):
    lists = _lists(tmp_path, "1,2025-01-01,,ric,x,111,111,111,a\n2,2025-06-01,,ric,x,112,112,112,b\n")
    with pytest.raises(CodeListError, match="overlapping"):
        lists.translate("certificate_type", "national", pd.Series(["ric"]))
    with pytest.raises(CodeListError, match="no code list 'colour'"):
        codelists.translate("colour", "national", pd.Series(["red"]))
    with pytest.raises(CodeListError, match="unknown receiver profile"):
        codelists.translate("case_type", "tianjin", pd.Series(["immediate"]))


def test_department_list_agrees_with_departments_csv():
    table = codelists.code_table("department")
    expected = departments().set_index("department_code")["issuer_uscc"]
    for profile in PROFILES:
        assert table[profile].to_dict() == expected.to_dict()
