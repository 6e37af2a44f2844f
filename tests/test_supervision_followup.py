"""mart_supervision_followup as the asset builds it: the approvals counted per month, department and approval mode
in SQL and only the approvals of holders with a linked finding read and paired (reporting.supervision,
followup_in_warehouse), against the rule (followup, held on its own cases in tests/test_findings.py) run on every
completed case read whole. On SQLite (unit) and PostgreSQL (server tier)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, insert_frame
from reporting.definitions import SupervisionDefinitions
from reporting.supervision import approvals_select, followup, followup_in_warehouse
from schemas.identifiers import make_uscc
from schemas.warehouse import findings, golden_cases, holder_codes, licences
from tests.test_findings import BUSINESS, DAY, SHOP, STRANGER
from tests.test_reuse_refresh import _case, _licence


def _followup_equal(warehouse: Warehouse) -> None:
    """The mart as the asset builds it (approvals counted in SQL, only the holders with findings paired) equals
    the rule run on every completed case read whole: a case that issued two licences, a department left blank,
    approvals of holders with no finding, a finding outside the window, a case not completed, an unknown holder."""
    codes = {f"H{i}": make_uscc("91320412", f"{30000000 + i:08d}") for i in range(1, 9)}
    cases = []
    for i, (holder, completed, dept, mode, status) in enumerate(
        [("H1", "2026-10-05 10:00:00", "market_regulation", "告知承诺", "办结"),
         ("H1", "2026-10-06 10:00:00", "market_regulation", "告知承诺", "办结"),
         ("H2", "2026-10-08 10:00:00", None, "审批", "办结"),
         ("H3", "2026-11-02 10:00:00", "health", "容缺受理", "办结"),
         ("H4", "2026-11-03 10:00:00", "health", "审批", "办结"),  # no finding
         ("H5", "2026-11-04 10:00:00", "health", "审批", "受理"),  # not completed
         ("H9", "2026-11-05 10:00:00", "health", "审批", "办结")],  # applicant no holder is known by
        start=1,
    ):  # fmt: skip
        row = _case(f"GC{i}", "H1", "2026-10-01T09:00:00")
        row.update(applicant_id=codes.get(holder, STRANGER), handling_dept=dept, approval_mode=mode, status=status,
                   completed_at=dt.datetime.fromisoformat(completed))  # fmt: skip
        cases.append(row)
    licence_rows = []
    for key, holder, case, kind in [
        ("L1", "H1", "GC1", SHOP),
        ("L1B", "H1", "GC1", BUSINESS),
        ("L3", "H3", "GC4", SHOP),
    ]:
        row = _licence(key, "H1", "2026-10-05")
        row.update(holder_id=holder, golden_case_id=case, licence_type_code=kind, holder_code=codes[holder])
        licence_rows.append(row)
    found = pd.DataFrame(
        [("F1", "H1", "inspection", "fail", None, SHOP, dt.date(2026, 10, 20)),
         ("F2", "H2", "inspection", "pass", None, None, dt.date(2026, 12, 30)),  # past a 60-day window
         ("F3", "H3", "commitment_untrue", None, "L3", SHOP, dt.date(2026, 11, 10)),
         ("F4", "H5", "inspection", "pass", None, None, dt.date(2026, 11, 10))],
        columns=["finding_id", "holder_id", "kind", "result", "licence_key", "licence_type_code", "decided_date"],
    ).assign(source_system="supervision_findings", status="linked", first_partition=DAY, partition_date=DAY, licences=1,
             records=1, holder_code="x", in_force=True)  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, golden_cases, pd.DataFrame(cases))
        insert_frame(conn, holder_codes, pd.DataFrame({"code": list(codes.values()), "holder_id": list(codes),
                                                        "how": "identifier"}))  # fmt: skip
        insert_frame(conn, licences, pd.DataFrame(licence_rows))
        insert_frame(conn, findings, found.reindex(columns=[c.name for c in findings.columns]))
    settings = SupervisionDefinitions(inspection_window_days=60)
    with warehouse.begin() as conn:
        kept = followup_in_warehouse(conn, settings, DAY)
        whole = followup(
            warehouse.read(approvals_select(), conn),
            warehouse.read(sa.select(findings).where(findings.c.status == "linked"), conn),
            settings,
            DAY,
        )
    pd.testing.assert_frame_equal(
        kept.astype(str), whole.sort_values(["month", "handling_dept", "approval_mode"], ignore_index=True).astype(str)
    )
    rows = kept.set_index(["month", "handling_dept", "approval_mode"])
    assert rows.loc[
        ("2026-10", "market_regulation", "告知承诺"), ["approvals", "inspected", "inspections_failed"]
    ].tolist() == [2, 1, 1]  # GC2 issued no licence of the inspected type
    assert rows.loc[("2026-10", "", "审批"), "inspected"] == 0
    assert rows.loc[("2026-11", "health", "审批"), "approvals"] == 1  # H4's; H5's is not completed, H9 unknown


@pytest.mark.unit
def test_the_followup_mart_counts_in_the_warehouse_what_the_rule_counts_on_sqlite(warehouse):
    _followup_equal(warehouse)


@pytest.mark.integration
def test_the_followup_mart_counts_in_the_warehouse_what_the_rule_counts_on_postgresql(postgres_warehouse):
    _followup_equal(postgres_warehouse)
