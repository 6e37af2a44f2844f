"""What a valid 办件编号 is (GB/T 39046-2020: an..50; the national DDL's varchar(50); UUIDs in national test
payloads), what staging does with a department's number, and where the bridge's new numbers come from: its own
serial or the province's numbering service, a derived 实施编码 flagged.

The numbers here are typed out by hand from the published rule, not produced by the code under test.
"""

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from resolution import numbering
from resolution.numbering import BridgeSerials, assign_case_numbers, request_ids
from schemas.identifiers import case_number_problems, is_national_case_no, is_valid_case_no
from schemas.warehouse import case_numbers
from staging.normalise import stage_partition

pytestmark = pytest.mark.unit

MARKET_USCC = "11320412MB0143028G"  # schemas/codes/departments.csv: market_regulation
TASK = MARKET_USCC + "4" + "000102001000"  # the catalogue's 实施编码 of 企业设立登记
NATIONAL = TASK + "20261116" + "0017"  # 31 + 8 + 4 = 43
UUID_FORM = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # as the national test payloads number cases
DAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 17, 2, 0)


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        (NATIONAL, None),
        (UUID_FORM, None),
        (UUID_FORM.upper(), None),
        ("WJJS2026111600001", None),  # a department's own form
        (TASK + "20261116" + "10023", None),  # 44: a daily serial grown past four digits
        ("A" * 50, None),
        ("A" * 51, "too_long"),
        (UUID_FORM + "-" + "0" * 14, "too_long"),  # 51
        ("WJJS 2026 0001", "characters"),  # blanks inside
        ("WJJS\t20260001", "characters"),
        ("WJJS\x0020260001", "characters"),  # a control character
        ("WJ办件0001", "characters"),
        ("WJJS_0001", "characters"),
        ("", "blank"),
        (None, "blank"),
        (TASK + "20261332" + "0017", "national_form"),  # 43 in the national shape, no 32nd of month 13
        (TASK + "20261116" + "0000", "national_form"),  # serials start at 0001
        ("12441500196720244X" + NATIONAL[18:], "national_form"),  # the 实施编码 must open with a valid USCC
    ],
)
def test_a_case_number_is_what_the_published_definitions_allow(number, problem):
    found = case_number_problems(pd.Series([number], dtype="string")).iloc[0]
    assert (None if pd.isna(found) else found) == problem
    assert is_valid_case_no(number) is (problem is None)


def test_the_national_form_is_one_form_among_the_valid_ones():
    assert is_national_case_no(NATIONAL) and is_valid_case_no(NATIONAL)
    assert not is_national_case_no(UUID_FORM) and is_valid_case_no(UUID_FORM)
    assert not is_national_case_no(NATIONAL.lower()) and is_valid_case_no(NATIONAL.lower())  # not read as national


# ---------------------------------------------------------------- staging a department's number
MARKET = {
    "SXBM": "SCJG-QYSL",
    "SXMC": "企业设立登记",
    "SQRLX": "1",
    "SQRMC": "常州恒达科技有限公司",
    "SQRZJHM": "9132041258558635XF",
    "LXDH": "13812345678",
    "SBSJ": "2026-11-16 09:00:00",
    "SLSJ": "2026-11-16 10:00:00",
    "BLZT": "02",
    "GXSJ": "2026-11-16 10:00:00",
}


def _raw(numbers: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"source_system": "market_regulation", "record_key": key, "payload": json.dumps({**MARKET, "SBLSH": no})}
            for key, no in numbers.items()
        ]
    )


def test_a_valid_department_number_is_kept_and_only_an_invalid_one_quarantined():
    raw = _raw(
        {
            "national": NATIONAL,
            "uuid": UUID_FORM,
            "long": "SCJG" + "0" * 47,
            "blanks": "SCJG 0001",
            "bad_day": TASK + "20260230" + "0001",  # 30 February
        }
    )
    staged, quarantined = stage_partition(raw)
    assert sorted(staged["case_no"]) == sorted([NATIONAL, UUID_FORM])
    reasons = quarantined.set_index("record_key")
    assert set(reasons["reason_code"]) == {"malformed_case_no"}
    assert "最长50位" in reasons.loc["long", "reason"] and "（51位）" in reasons.loc["long", "reason"]
    assert "空格" in reasons.loc["blanks", "reason"]
    assert "日期须为真实日期" in reasons.loc["bad_day", "reason"] and "（43位）" in reasons.loc["bad_day", "reason"]
    assert not any(text in " ".join(reasons["reason"]) for text in ("SCJG 0001", TASK))  # no number echoed


# ---------------------------------------------------------------- where new numbers come from
def golden(case_id: str, record: tuple[str, str], item_code: str = "000102001000") -> dict:
    return {
        "golden_case_id": case_id,
        "source_system": record[0],
        "source_record_id": record[1],
        "item_code": item_code,
        "handling_dept": "market_regulation",
        "accepted_at": pd.Timestamp(DAY) + pd.Timedelta(hours=10),
        "submitted_at": pd.Timestamp(DAY) + pd.Timedelta(hours=9),
    }


def member(case_id: str, system: str, record_id: str, case_no: str | None = None) -> dict:
    return {"golden_case_id": case_id, "source_system": system, "source_record_id": record_id, "case_no": case_no}


def stored(warehouse) -> pd.DataFrame:
    with warehouse.engine.connect() as conn:
        rows = conn.execute(sa.select(case_numbers).order_by(case_numbers.c.project_no)).mappings().all()
    return pd.DataFrame(rows).set_index("project_no")


def test_a_department_number_of_another_form_is_kept_with_no_parts(warehouse):
    cases = [golden("GC1", ("approval_platform", "WJSP1"))]
    members = [member("GC1", "approval_platform", "WJSP1", "WJSP1"),
               member("GC1", "market_regulation", UUID_FORM, UUID_FORM)]  # fmt: skip
    with warehouse.begin() as conn:
        numbers, figures = assign_case_numbers(conn, pd.DataFrame(cases), pd.DataFrame(members), DAY, NOW)
    assert numbers.tolist() == [UUID_FORM] and figures["carried"] == 1 and figures["allocated"] == 0
    row = stored(warehouse).loc[UUID_FORM]
    assert row["origin"] == "department" and row["source_system"] == "market_regulation"
    assert pd.isna(row["task_code"]) and pd.isna(row["serial"]) and pd.isna(row["task_code_origin"])


def test_a_derived_task_code_is_flagged_and_counted(warehouse, monkeypatch):
    """An item the catalogue gives no 实施编码: the bridge builds one from the department's USCC, level 4 and the
    基本编码, stores it as derived and counts it."""
    catalogue = numbering.items().copy()
    catalogue.loc[catalogue["item_code"] == "000102002000", "task_code"] = ""
    monkeypatch.setattr(numbering, "items", lambda: catalogue)
    cases = [golden("GC1", ("approval_platform", "P1")), golden("GC2", ("approval_platform", "P2"), "000102002000")]
    members = [member("GC1", "approval_platform", "P1"), member("GC2", "approval_platform", "P2")]
    with warehouse.begin() as conn:
        numbers, figures = assign_case_numbers(conn, pd.DataFrame(cases), pd.DataFrame(members), DAY, NOW)
    derived = MARKET_USCC + "4" + "000102002000"
    assert numbers.tolist() == [TASK + "202611169001", derived + "202611169001"]
    assert figures["derived_task_codes"] == 1 and figures["allocated"] == 2
    rows = stored(warehouse)
    assert rows.loc[TASK + "202611169001", "task_code_origin"] == "catalogue"
    assert rows.loc[derived + "202611169001", "task_code_origin"] == "derived"
    assert set(rows["allocated_by"]) == {"bridge"}


def test_the_bridges_serials_start_where_configured(warehouse):
    cases = [golden("GC1", ("approval_platform", "P1")), golden("GC2", ("approval_platform", "P2"))]
    members = [member("GC1", "approval_platform", "P1"), member("GC2", "approval_platform", "P2")]
    with warehouse.begin() as conn:
        numbers, _ = assign_case_numbers(
            conn, pd.DataFrame(cases), pd.DataFrame(members), DAY, NOW, BridgeSerials(start=5001)
        )
    assert numbers.tolist() == [TASK + "202611165001", TASK + "202611165002"]


class Service:
    """The province's numbering service as numbering sees it, answering from a table typed here."""

    source = "province_service"

    def __init__(self, answers: dict[str, dict]) -> None:
        self.answers, self.asked = answers, []

    def issue(self, wanted: pd.DataFrame) -> pd.DataFrame:
        self.asked.append(wanted.copy())
        rows = [{"request_id": r, **self.answers.get(r, {"error": "unknown"})} for r in wanted["request_id"]]
        return pd.DataFrame(rows, columns=["request_id", "project_no", "error"])


def test_numbers_from_the_province_service_are_stored_and_refusals_counted(warehouse):
    cases = [golden(f"GC{i}", ("approval_platform", f"P{i}")) for i in range(1, 6)]
    members = [member(f"GC{i}", "approval_platform", f"P{i}") for i in range(1, 6)]
    records = pd.Series([f"P{i}" for i in range(1, 6)])
    key = dict(zip(records, request_ids(pd.Series(["approval_platform"] * 5), records), strict=True))
    service = Service(
        {
            key["P1"]: {"project_no": TASK + "202611160001"},  # the national form
            key["P2"]: {"project_no": "JS-2026-000000123"},  # another valid form
            key["P3"]: {"error": "实施编码不在事项目录中"},
            key["P4"]: {"project_no": "JS 2026 124"},  # not a valid 办件编号: not taken
            key["P5"]: {"project_no": TASK + "202611160001"},  # given twice: taken for neither
        }
    )
    with warehouse.begin() as conn:
        numbers, figures = assign_case_numbers(conn, pd.DataFrame(cases), pd.DataFrame(members), DAY, NOW, service)
    assert numbers.iloc[1] == "JS-2026-000000123" and numbers.iloc[[0, 2, 3, 4]].isna().all()
    assert figures["allocated"] == 1 and figures["service_refused"] == 4 and figures["unnumbered"] == 4
    (asked,) = service.asked
    assert asked["task_code"].tolist() == [TASK] * 5 and set(asked["number_date"]) == {DAY}
    assert set(asked["org_code"]) == {MARKET_USCC}
    row = stored(warehouse).loc["JS-2026-000000123"]
    assert (row["allocated_by"], row["task_code"], row["task_code_origin"]) == ("province_service", TASK, "catalogue")
    assert pd.isna(row["serial"])

    # the next run asks only for the cases still without a number, under the same keys
    with warehouse.begin() as conn:
        again, figures = assign_case_numbers(conn, pd.DataFrame(cases), pd.DataFrame(members), DAY, NOW, service)
    assert again.iloc[1] == "JS-2026-000000123" and figures["reused"] == 1
    assert sorted(service.asked[1]["request_id"]) == sorted(key[f"P{i}"] for i in (1, 3, 4, 5))


# ---------------------------------------------------------------- picking the source is configuration
@pytest.fixture
def numbering_env(monkeypatch):
    from core import settings

    for variable in [*settings.variables(), *settings.CASE_NO_SERVICE_VARIABLES, *settings.CASE_NO_KNOBS]:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.delenv(settings.PROFILE_VARIABLE, raising=False)
    return monkeypatch


def test_the_source_is_checked_and_the_service_required_in_production_when_chosen(numbering_env):
    from core import settings
    from pipelines.resources import case_numbering
    from tests.test_profiles import production_values

    assert settings.case_no_source() == "bridge" and settings.case_no_serial_start() == 9001
    assert "CASE_NO_SERVICE_BASE_URL" not in {v.name for v in settings.variables()}  # not read unless chosen
    shown = {row["variable"]: row for row in settings.resolved()}
    assert shown["BRIDGE_CASE_NO_SOURCE"]["value"] == "bridge" and shown["BRIDGE_CASE_NO_SOURCE"]["source"] == "default"

    numbering_env.setenv("BRIDGE_CASE_NO_SOURCE", "redis")
    numbering_env.setenv("BRIDGE_CASE_NO_SERIAL_START", "0")
    problems = [str(p) for p in settings.check()]
    assert any(p.startswith("BRIDGE_CASE_NO_SOURCE: 'redis'") and "province_service" in p for p in problems)
    assert any(p.startswith("BRIDGE_CASE_NO_SERIAL_START: '0': a serial from 1 to 9999") for p in problems)

    numbering_env.setenv("BRIDGE_CASE_NO_SOURCE", "province_service")
    numbering_env.delenv("BRIDGE_CASE_NO_SERIAL_START")
    sandbox = case_numbering()  # the sandbox profile: the stand-in's published address and keys
    assert (sandbox.source, sandbox.base_url) == ("province_service", "http://127.0.0.1:18105")
    numbering_env.setenv("BRIDGE_PROFILE", "production")
    for name, value in production_values().items():
        if not name.startswith("CASE_NO_SERVICE_"):
            numbering_env.setenv(name, value)
    missing = {p.variable.name for p in settings.check()}
    assert missing == {"CASE_NO_SERVICE_BASE_URL", "CASE_NO_SERVICE_APP_KEY", "CASE_NO_SERVICE_APP_SECRET"}
    numbering_env.setenv("CASE_NO_SERVICE_APP_SECRET", "sandbox-secret-case_no_service")  # the published one
    refused = {str(p) for p in settings.check() if p.variable.name == "CASE_NO_SERVICE_APP_SECRET"}
    assert refused and all("sandbox publishes" in p for p in refused)
