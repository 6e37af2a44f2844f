"""Code lists as data (schemas/codelists.py): canonical values → each receiver profile's codes, versioned by date,
each list and row saying where it comes from, and the lists held against the standard's code sets as published
(contracts/gbt39046, transcribed from GB/T 39046-2020, not from the lists)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from schemas import codelists
from schemas.case import APPLICANT_TYPES, STATUSES, departments
from schemas.codelists import PROFILES, CodeListError, CodeLists

pytestmark = pytest.mark.unit

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def read_contract(relative: str, key: str = "code", value: str = "meaning") -> dict[str, str]:
    """A published code set under contracts/ (its '#' lines name the source): key → value, as text."""
    table = pd.read_csv(CONTRACTS / relative, comment="#", dtype=str, keep_default_na=False)
    return dict(zip(table[key], table[value], strict=True))


HEADER = "version,valid_from,valid_to,value,label,national,municipal,source\n"


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
    unknown = codelists.unmapped_reason("certificate_type", "municipal", "nonsense")
    assert "not a value of the list" in unknown and "certificate_type.csv" in unknown


def _lists(tmp_path: Path, rows: str) -> CodeLists:
    (tmp_path / "lists.csv").write_text("list,title,canonical_values\ncertificate_type,证件类型,x\n", encoding="utf-8")
    (tmp_path / "certificate_type.csv").write_text(HEADER + rows, encoding="utf-8")
    return CodeLists(tmp_path)


def test_a_new_version_applies_from_its_date(tmp_path: Path):
    lists = _lists(
        tmp_path,
        "1,2025-01-01,2025-12-31,hk_macau_permit,港澳居民来往内地通行证,513,,old\n"
        "2,2026-01-01,,hk_macau_permit,港澳居民来往内地通行证,516,516,new\n"
        "1,2025-01-01,,ric,居民身份证,111,111,x\n",
    )
    values = pd.Series(["hk_macau_permit", "ric"])
    old, old_unmapped = lists.translate("certificate_type", "national", values, on=dt.date(2025, 6, 1))
    new, _ = lists.translate("certificate_type", "national", values, on=dt.date(2026, 1, 1))
    assert old.tolist() == ["513", "111"] and not old_unmapped.any()
    assert new.tolist() == ["516", "111"]
    _, unmapped = lists.translate("certificate_type", "municipal", values, on=dt.date(2025, 6, 1))
    assert unmapped.tolist() == [True, False]
    reason = lists.unmapped_reason("certificate_type", "municipal", "hk_macau_permit", on=dt.date(2025, 6, 1))
    assert reason.startswith("证件类型 'hk_macau_permit' has no code for the municipal platform")
    assert reason.endswith("add one")
    _, unmapped = lists.translate("certificate_type", "national", values, on=dt.date(2024, 1, 1))
    assert unmapped.all()
    reason = lists.unmapped_reason("certificate_type", "national", "ric", dt.date(2024, 1, 1))
    assert "no row in force on 2024-01-01" in reason


def test_overlapping_versions_unknown_lists_and_profiles_are_refused(tmp_path: Path):
    lists = _lists(tmp_path, "1,2025-01-01,,ric,x,111,111,a\n2,2025-06-01,,ric,x,112,112,b\n")
    with pytest.raises(CodeListError, match="overlapping"):
        lists.translate("certificate_type", "national", pd.Series(["ric"]))
    with pytest.raises(CodeListError, match="no code list 'colour'"):
        codelists.translate("colour", "national", pd.Series(["red"]))
    with pytest.raises(CodeListError, match="unknown receiver profile"):
        codelists.translate("case_type", "tianjin", pd.Series(["immediate"]))
    with pytest.raises(CodeListError, match="unknown receiver profile 'pre_family'"):  # the PRE family is gone
        codelists.translate("case_type", "pre_family", pd.Series(["immediate"]))


def test_department_list_agrees_with_departments_csv():
    table = codelists.code_table("department")
    expected = departments().set_index("department_code")["issuer_uscc"]
    for profile in PROFILES:
        assert table[profile].to_dict() == expected.to_dict()


#: Lists whose national (and municipal) codes are a GB/T 39046 appendix A code set.
STANDARD_SETS = {
    "channel": "gbt39046/a5_handling_form.csv",
    "case_type": "gbt39046/a6_case_type.csv",
    "satisfaction": "gbt39046/a8_satisfaction.csv",
    "applicant_type": "gbt39046/a4_service_object.csv",
}
#: The rows that knowingly take a broader code than their meaning, and the standard's meaning of that code: the row
#: must say so (``assumed: …``) as well.
BROADER = {("channel", "self_service"): "其他", ("applicant_type", "legal_person"): "企业法人"}


@pytest.mark.parametrize("list_name", sorted(STANDARD_SETS))
def test_no_list_gives_a_canonical_value_a_code_the_standard_means_otherwise(list_name):
    """E.g. channel web must go as A.5 2 电脑端网上办理, never as a code A.5 gives another meaning."""
    published = read_contract(STANDARD_SETS[list_name])
    table = codelists.code_table(list_name)
    for profile in ("national", "municipal"):
        for value, row in table.iterrows():
            code = row[profile]
            assert code in published, f"{list_name} {value}: {profile} code {code!r} is not in the standard's set"
            if (list_name, value) in BROADER:
                assert published[code] == BROADER[list_name, value]
                assert "assumed:" in row["source"], f"{list_name} {value} takes {code} without saying it is assumed"
            else:
                assert published[code] == row["label"], f"{list_name} {value}: {code} means {published[code]}"


def test_a_list_that_takes_a_code_of_another_meaning_fails(tmp_path: Path):
    """The check above can fail: a list sending web as A.5 3 (移动端网上申请) is caught."""
    rows = "1,2004-01-01,,web,电脑端网上办理,3,3,GB/T 39046 A.5\n"
    (tmp_path / "lists.csv").write_text("list,title,canonical_values,source,assumed\nchannel,办理形式,x,A.5,\n")
    (tmp_path / "channel.csv").write_text(HEADER + rows, encoding="utf-8")
    published = read_contract(STANDARD_SETS["channel"])
    row = CodeLists(tmp_path).in_force("channel").loc["web"]
    assert published[row["national"]] != row["label"]


def test_every_list_and_row_says_where_it_comes_from(tmp_path: Path):
    for name in codelists.list_names():
        source, assumed = codelists.DEFAULT.provenance(name)
        assert bool(source) != bool(assumed), name
    # the standard's lists name it; the lists no source gives say what to confirm
    assert "A.5" in codelists.DEFAULT.provenance("channel")[0]
    assert "confirm" in codelists.DEFAULT.provenance("process_action")[1]
    assert codelists.DEFAULT.assumed_rows("delivery_method") == {
        next(iter(codelists.DEFAULT.assumed_rows("delivery_method"))): ["window", "express", "electronic"]
    }
    (tmp_path / "lists.csv").write_text(
        "list,title,canonical_values,source,assumed\ncertificate_type,证件类型,x,GA/T 2000.156,also assumed\n",
        encoding="utf-8",
    )
    (tmp_path / "certificate_type.csv").write_text(HEADER + "1,2025-01-01,,ric,居民身份证,111,111,\n")
    lists = CodeLists(tmp_path)
    with pytest.raises(CodeListError, match=r"lists.csv: list 'certificate_type' gives both source and assumed"):
        lists.provenance("certificate_type")
    with pytest.raises(CodeListError, match=r"certificate_type.csv: rows name no source and no 'assumed: …': ric"):
        lists.table("certificate_type")
