"""The rule-based resolution on small, hand-made cases."""

import pandas as pd

from pipelines.resolve.rules import assign_golden_ids, build_golden_cases, cluster, roles


def _records(*rows):
    frame = pd.DataFrame(
        rows,
        columns=[
            "source_system",
            "source_record_id",
            "item_code",
            "applicant_type",
            "applicant_name",
            "applicant_id",
            "applicant_id_checksum_ok",
            "contact_phone",
            "submitted_at",
        ],
    )
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], format="ISO8601")
    for column in (
        "case_no",
        "item_name",
        "address",
        "accepted_at",
        "decided_at",
        "completed_at",
        "status",
        "promised_days",
        "statutory_days",
        "handling_dept",
        "applicant_id_kind",
    ):
        frame[column] = pd.NA
    frame["record_key"] = frame["source_record_id"]
    frame["golden_case_id"] = pd.NA
    return frame


def _groups(frame):
    frame = frame.copy()
    frame["golden_case_id"] = assign_golden_ids(frame, cluster(frame))
    return {frozenset(g["source_record_id"]) for _, g in frame.groupby("golden_case_id")}, frame


CO, CO_ID = "常州恒达科技有限公司", "9132041258558635XF"


def test_reentry_with_typo_in_id_and_name_variant_is_one_case():
    groups, _ = _groups(
        _records(
            ("market_regulation", "MR-1", "000102001000", "legal_person", CO, CO_ID, True, "138", "2026-11-16 09:00"),
            (
                "approval_platform",
                "AP-1",
                "000102001000",
                "legal_person",
                "恒达科技有限公司",
                "9132041258558653XF",
                False,
                None,
                "2026-11-17",
            ),
        )
    )
    assert groups == {frozenset({"MR-1", "AP-1"})}


def test_package_applications_on_one_day_stay_apart():
    groups, _ = _groups(
        _records(
            (
                "market_regulation",
                "MR-1",
                "000102002000",
                "natural_person",
                "武进区湖塘镇张伟小吃店",
                "11010519491231002X",
                True,
                "138",
                "2026-11-16 09:00",
            ),
            (
                "market_regulation",
                "MR-2",
                "000105001000",
                "natural_person",
                "武进区湖塘镇张伟小吃店",
                "11010519491231002X",
                True,
                "138",
                "2026-11-16 09:05",
            ),
            (
                "market_regulation",
                "MR-3",
                "000105002000",
                "natural_person",
                "武进区湖塘镇张伟小吃店",
                "11010519491231002X",
                True,
                "138",
                "2026-11-16 09:10",
            ),
        )
    )
    assert len(groups) == 3


def test_namesakes_with_different_valid_ids_stay_apart():
    groups, _ = _groups(
        _records(
            (
                "health",
                "H-1",
                "000140002000",
                "natural_person",
                "张伟",
                "11010519491231002X",
                True,
                "138",
                "2026-11-16 09:00",
            ),
            (
                "health",
                "H-2",
                "000140002000",
                "natural_person",
                "张伟",
                "440524188001010014",
                True,
                "139",
                "2026-11-16 11:00",
            ),
        )
    )
    assert len(groups) == 2


def test_same_item_months_later_is_a_new_case():
    groups, _ = _groups(
        _records(
            ("market_regulation", "MR-1", "000105001000", "legal_person", CO, CO_ID, True, "138", "2026-05-16 09:00"),
            ("market_regulation", "MR-2", "000105001000", "legal_person", CO, CO_ID, True, "138", "2026-11-16 09:00"),
        )
    )
    assert len(groups) == 2


def test_golden_ids_are_stable_and_department_record_wins():
    rows = (
        (
            "approval_platform",
            "AP-1",
            "000102001000",
            "legal_person",
            "恒达科技有限公司",
            CO_ID,
            True,
            None,
            "2026-11-17",
        ),
        ("market_regulation", "MR-1", "000102001000", "legal_person", CO, CO_ID, True, "138", "2026-11-16 09:00"),
    )
    _, first = _groups(_records(*rows))
    _, again = _groups(_records(*reversed(rows)))
    assert set(first["golden_case_id"]) == set(again["golden_case_id"])
    golden = build_golden_cases(first)
    assert golden.loc[0, "applicant_name"] == CO and golden.loc[0, "contact_phone"] == "138"
    assert golden.loc[0, "source_system"] == "market_regulation"
    assert dict(zip(first["source_record_id"], roles(first), strict=True)) == {"AP-1": "duplicate", "MR-1": "golden"}


def test_existing_golden_id_is_kept_when_a_new_day_links_to_it():
    frame = _records(
        ("market_regulation", "MR-1", "000102001000", "legal_person", CO, CO_ID, True, "138", "2026-11-16 09:00"),
        ("approval_platform", "AP-1", "000102001000", "legal_person", CO, CO_ID, True, None, "2026-11-17"),
    )
    frame.loc[0, "golden_case_id"] = "GC-EARLIER"
    assert assign_golden_ids(frame, cluster(frame)).tolist() == ["GC-EARLIER", "GC-EARLIER"]
