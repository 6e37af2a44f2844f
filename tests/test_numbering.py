"""The 办件编号 each golden case goes out under: carried from a department that numbers nationally, else allocated
once by the national rule and found again on every rerun, backfill and re-resolution.

The expected numbers are spelled out by the rule (实施编码 = the department's USCC, level 4, the 12-digit 基本编码;
then yyyyMMdd; then a 4-digit serial), not computed through the code under test.
"""

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from resolution.golden import GOLDEN_FIELDS, payload_json
from resolution.numbering import assign_case_numbers, withdrawn_numbers
from schemas.warehouse import case_numbers

pytestmark = pytest.mark.unit

MARKET_USCC = "11320412MB0143028G"  # schemas/codes/departments.csv: market_regulation
COMPANY_REGISTRATION = "000102001000"  # 企业设立登记, handled by market_regulation
TASK = MARKET_USCC + "4" + COMPANY_REGISTRATION  # 31 characters
DAY1, DAY2 = dt.date(2026, 11, 16), dt.date(2026, 11, 17)
NOW = dt.datetime(2026, 11, 30, 2, 0)


def national(day: dt.date, serial: int) -> str:
    return f"{TASK}{day:%Y%m%d}{serial:04d}"


def golden(case_id: str, record: tuple[str, str], accepted: dt.date | None, submitted: dt.date, **extra) -> dict:
    return {
        "golden_case_id": case_id,
        "source_system": record[0],
        "source_record_id": record[1],
        "item_code": extra.get("item_code", COMPANY_REGISTRATION),
        "handling_dept": "market_regulation",
        "accepted_at": pd.Timestamp(accepted) + pd.Timedelta(hours=10) if accepted else pd.NaT,
        "submitted_at": pd.Timestamp(submitted) + pd.Timedelta(hours=9),
    }


def member(case_id: str, system: str, record_id: str, case_no: str | None = None) -> dict:
    return {"golden_case_id": case_id, "source_system": system, "source_record_id": record_id, "case_no": case_no}


def assign(warehouse, goldens: list[dict], members: list[dict], partition: dt.date = DAY1) -> tuple[list, dict]:
    with warehouse.begin() as conn:
        numbers, figures = assign_case_numbers(conn, pd.DataFrame(goldens), pd.DataFrame(members), partition, NOW)
    return numbers.tolist(), figures


def stored(warehouse) -> pd.DataFrame:
    with warehouse.engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.select(case_numbers).order_by(case_numbers.c.project_no)).mappings().all())


def test_a_department_number_is_carried_and_a_re_entry_gets_none_of_its_own(warehouse):
    number = national(DAY1, 17)
    numbers, figures = assign(
        warehouse,
        [golden("GC1", ("approval_platform", "WJSP2026111600001"), DAY1, DAY1)],  # the re-entry won survivorship
        [member("GC1", "approval_platform", "WJSP2026111600001", "WJSP2026111600001"),
         member("GC1", "market_regulation", number, number)],
    )  # fmt: skip
    assert numbers == [number] and figures["carried"] == 1 and figures["allocated"] == 0
    rows = stored(warehouse)
    assert rows[["project_no", "source_system", "origin", "serial"]].values.tolist() == [
        [number, "market_regulation", "department", 17]
    ]


def test_allocated_by_the_rule_from_the_top_of_the_days_range(warehouse):
    cases = [
        golden("GC1", ("approval_platform", "P1"), DAY1, DAY1),
        golden("GC2", ("approval_platform", "P2"), DAY1, DAY1),
        golden("GC3", ("approval_platform", "P3"), None, DAY2),  # not accepted yet: the submission day
        golden("GC4", ("approval_platform", "P4"), DAY1, DAY1, item_code="XX"),  # no 实施编码 can be formed
    ]
    members = [member(c["golden_case_id"], *c_record) for c, c_record in zip(cases, [
        ("approval_platform", "P1", "WJSP1"), ("approval_platform", "P2", "WJSP2"),
        ("approval_platform", "P3", "WJSP3"), ("approval_platform", "P4", "WJSP4")], strict=True)]  # fmt: skip
    numbers, figures = assign(warehouse, cases, members)
    assert numbers[:3] == [f"{TASK}202611169001", f"{TASK}202611169002", f"{TASK}202611179001"]
    assert all(len(n) == 43 for n in numbers[:3]) and pd.isna(numbers[3])
    assert figures["allocated"] == 3 and figures["unnumbered"] == 1

    # a rerun of the day, and a re-resolution that renamed a golden case, find the same numbers
    renamed = [{**cases[0], "golden_case_id": "GC9"}, *cases[1:3]]
    again, figures = assign(warehouse, renamed, [{**members[0], "golden_case_id": "GC9"}, *members[1:3]])
    assert again == numbers[:3] and figures["allocated"] == 0 and figures["reused"] == 3
    assert len(stored(warehouse)) == 3


def test_days_in_any_order_number_alike(warehouse, tmp_path):
    def run(order: list[dt.date]) -> dict[str, str]:
        found = {}
        for day in order:
            case = golden(f"GC{day:%d}", ("approval_platform", f"P{day:%d}"), day, day)
            numbers, _ = assign(warehouse, [case], [member(f"GC{day:%d}", "approval_platform", f"P{day:%d}")], day)
            found[f"P{day:%d}"] = numbers[0]
        return found

    backwards = run([DAY2, DAY1])
    with warehouse.begin() as conn:
        conn.execute(case_numbers.delete())
    assert run([DAY1, DAY2]) == backwards == {"P16": f"{TASK}202611169001", "P17": f"{TASK}202611179001"}


def test_a_department_record_arriving_later_replaces_the_allocated_number(warehouse):
    case = golden("GC1", ("approval_platform", "P1"), DAY1, DAY1)
    first, _ = assign(warehouse, [case], [member("GC1", "approval_platform", "P1", "WJSP1")])
    assert first == [f"{TASK}202611169001"]
    number = national(DAY1, 5)
    later, figures = assign(
        warehouse,
        [case],
        [member("GC1", "approval_platform", "P1", "WJSP1"), member("GC1", "market_regulation", number, number)],
        DAY2,
    )
    assert later == [number] and figures["superseded"] == 1
    rows = stored(warehouse).set_index("project_no")
    assert rows.loc[f"{TASK}202611169001", "superseded_by"] == number
    # and it stays the department's on every rerun
    members = [member("GC1", "approval_platform", "P1"), member("GC1", "market_regulation", number, number)]
    assert assign(warehouse, [case], members, DAY2)[0] == [number]
    # the receivers are told to withdraw the allocated number, on this version and every later one
    with warehouse.begin() as conn:
        withdrawn = withdrawn_numbers(conn, pd.DataFrame([case]), pd.DataFrame(members))
    assert withdrawn.tolist() == [f"{TASK}202611169001"]
    columns = [*GOLDEN_FIELDS, "project_no", "withdrawn_numbers"]

    def payload(withdrawn: str | None) -> dict:
        row = {**case, "project_no": number, "withdrawn_numbers": withdrawn}
        return json.loads(payload_json(pd.DataFrame([row]).reindex(columns=columns))[0])

    assert payload(withdrawn[0])["withdrawn_numbers"] == f"{TASK}202611169001"
    plain = payload(None)
    assert "withdrawn_numbers" not in plain  # a case with none keeps its content (and its hash) as before


def test_a_malformed_department_number_is_not_carried(warehouse):
    bad = national(DAY1, 0)  # serial 0000: staging quarantines such a record; here it must not be trusted either
    numbers, _ = assign(
        warehouse,
        [golden("GC1", ("market_regulation", bad), DAY1, DAY1)],
        [member("GC1", "market_regulation", bad, bad)],
    )
    assert numbers == [f"{TASK}202611169001"]
