"""The licence-reuse marts are kept per application: a refresh computes again only the applications that are new,
changed, gone, or whose applicant's licences or codes changed (a licence loaded late, a withdrawal, a newcomer's
code known later, a mistyped code resolved to another holder), and the per-item figures
of the months those fall in; it ends with exactly the rows a full rebuild writes. On SQLite (unit) and PostgreSQL
(server tier).

The cases, codes and licences are written here by hand as the pipeline writes them; which materials a licence
stands in for is the register (``schemas/codes/required_materials.csv``: a food-business permit's 营业执照), whose
rule ``tests/test_licences.py`` holds on its own."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, insert_frame
from reporting.reuse import licence_reuse, refresh_reuse
from schemas.case import items
from schemas.warehouse import (
    golden_cases,
    holder_codes,
    licence_events,
    licences,
    mart_licence_reuse,
    mart_material_reuse,
)
from tests.conftest import rolled_back

NOW = dt.datetime(2026, 12, 1, 9)
FOOD, BUSINESS_LICENCE = "000105001000", "11100000MB0143028R001"  # 食品经营许可; 营业执照 stands in for material 2
CODE = {"H1": "91320412MA1W7R8X1K", "H2": "91320412MA1W7R9Y2L"}  # two sister companies at one address
NEWCOMER = "91320412MA1X2K3M4N"  # an applicant the repository does not know yet


def _case(case_id: str, holder: str, submitted: str) -> dict:
    content = f"{case_id}|{holder}|{submitted}"
    return {"golden_case_id": case_id, "source_system": "market_regulation", "source_record_id": case_id,
            "item_code": FOOD, "item_name": "食品经营许可", "applicant_id": CODE.get(holder, NEWCOMER),
            "submitted_at": dt.datetime.fromisoformat(submitted), "status": "受理", "record_count": 1, "version": 1,
            "content_hash": hashlib.sha256(content.encode()).hexdigest(), "first_partition": dt.date(2026, 10, 1),
            "updated_partition": dt.date(2026, 10, 1), "updated_at": NOW}  # fmt: skip


def _licence(key: str, holder: str, issued: str) -> dict:
    return {"licence_key": key, "licence_id": f"ID-{key}", "licence_type_code": BUSINESS_LICENCE,
            "licence_name": "营业执照", "licence_no": key, "holder_id": holder, "holder_name": f"公司{holder}",
            "holder_code": CODE.get(holder, NEWCOMER), "holder_code_type": "001", "issuer_name": "武进区市场监督管理局",
            "issuer_code": "11320412MB1234567X", "issue_date": dt.date.fromisoformat(issued),
            "valid_from": dt.date.fromisoformat(issued), "valid_to": None, "status": "有效", "area_code": "320412",
            "sources": "market_regulation", "version": 1, "content_hash": key, "updated_at": NOW}  # fmt: skip


def _write(warehouse: Warehouse, table: sa.Table, rows: list[dict]) -> None:
    with warehouse.begin() as conn:
        insert_frame(conn, table, pd.DataFrame(rows))


def _load(warehouse: Warehouse, cases: list[dict], removed: tuple[str, ...] = ()) -> None:
    ids = [c["golden_case_id"] for c in cases] + list(removed)
    with warehouse.begin() as conn:
        conn.execute(golden_cases.delete().where(golden_cases.c.golden_case_id.in_(ids)))
        insert_frame(conn, golden_cases, pd.DataFrame(cases))


def _refresh(warehouse: Warehouse, conn: sa.Connection | None = None, full: bool = False):
    if conn is not None:
        return refresh_reuse(conn, full=full)
    with warehouse.begin() as own:
        return refresh_reuse(own, full=full)


def _rows(warehouse: Warehouse, conn: sa.Connection | None = None) -> dict[str, pd.DataFrame]:
    out = {}
    for table in (mart_material_reuse, mart_licence_reuse):
        key = [c.name for c in table.primary_key.columns]
        out[table.name] = warehouse.read(sa.select(table), conn).sort_values(key, ignore_index=True).astype(str)
    return out


def _same_as_full(warehouse: Warehouse) -> pd.DataFrame:

    def rebuild(conn: sa.Connection) -> dict[str, pd.DataFrame]:
        assert _refresh(warehouse, conn, full=True).full
        return _rows(warehouse, conn)

    rebuilt = rolled_back(warehouse, rebuild)
    rows = _rows(warehouse)
    for name, frame in rows.items():
        pd.testing.assert_frame_equal(frame, rebuilt[name], obj=name)
    # the monthly figures summed in SQL are the rule's, run on the applications' rows read whole
    applications = warehouse.read(sa.select(mart_material_reuse))
    by_rule = licence_reuse(applications, items().set_index("item_code")["item_name"])
    key = ["item_code", "month"]
    by_rule = by_rule.sort_values(key, ignore_index=True).astype(str)
    pd.testing.assert_frame_equal(rows["mart_licence_reuse"], by_rule, obj="licence_reuse by the rule")
    detail = rows["mart_material_reuse"]
    return detail[detail["material_no"] == "2"].set_index("golden_case_id")["available"]


def _history(warehouse: Warehouse) -> None:
    _write(warehouse, holder_codes, [{"code": CODE[h], "holder_id": h, "how": "identifier"} for h in CODE])
    _write(warehouse, licences, [_licence("L1", "H1", "2026-09-01")])
    _load(
        warehouse,
        [_case("F1", "H1", "2026-10-10T09:00:00"), _case("F2", "H2", "2026-10-12T09:00:00"),
         _case("F3", "H1", "2026-11-03T09:00:00")],
    )  # fmt: skip
    assert _refresh(warehouse).full
    assert _same_as_full(warehouse).to_dict() == {"F1": "True", "F2": "False", "F3": "True"}

    nothing = _refresh(warehouse)  # nothing new: nothing computed again
    assert (nothing.full, nothing.cases_changed, nothing.months) == (False, 0, ())

    # the sister company's licence, issued before F2 was submitted, is loaded late: F2 (and October) only
    _write(warehouse, licences, [_licence("L2", "H2", "2026-10-01")])
    late = _refresh(warehouse)
    assert (late.cases_changed, late.months) == (1, ("2026-10",))
    assert _same_as_full(warehouse)["F2"] == "True"

    # H1's licence withdrawn from 20 October: its November application could not have reused it
    day = dt.date(2026, 10, 20)
    event = {"licence_key": "L1", "event": "withdrawn", "effective_date": day, "source": "case", "source_ref": "X",
             "partition_date": day, "details": "{}", "recorded_at": NOW}  # fmt: skip
    _write(warehouse, licence_events, [event])
    withdrawn = _refresh(warehouse)
    assert (withdrawn.cases_changed, withdrawn.months) == (2, ("2026-10", "2026-11"))
    assert _same_as_full(warehouse).to_dict() == {"F1": "True", "F2": "True", "F3": "False"}

    # a case a re-run took away, and a new one in December
    _load(warehouse, [_case("F4", "H2", "2026-12-01T09:00:00")], removed=("F2",))
    moved = _refresh(warehouse)
    assert (moved.cases_changed, moved.months) == (2, ("2026-10", "2026-12"))
    assert _same_as_full(warehouse).to_dict() == {"F1": "True", "F3": "False", "F4": "True"}
    october = warehouse.read(sa.select(mart_licence_reuse).where(mart_licence_reuse.c.month == "2026-10"))
    assert october[["applications", "materials_not_needed"]].values.tolist() == [[1, 1]]

    # a newcomer applies before the repository knows them; their code and licence arrive on a later day: the
    # application is found by its code (it was judged by no holder) and computed again, alone
    _load(warehouse, [_case("F5", "H3", "2026-12-02T09:00:00")])
    assert _refresh(warehouse).cases_changed == 1
    assert _same_as_full(warehouse)["F5"] == "False"
    _write(warehouse, holder_codes, [{"code": NEWCOMER, "holder_id": "H3", "how": "identifier"}])
    _write(warehouse, licences, [_licence("L3", "H3", "2026-11-01")])
    known = _refresh(warehouse)
    assert (known.cases_changed, known.months) == (1, ("2026-12",))
    assert _same_as_full(warehouse)["F5"] == "True"

    # the code is taken from the repository (no holder names it now): its application found by the code
    with warehouse.begin() as conn:
        conn.execute(holder_codes.delete().where(holder_codes.c.code == NEWCOMER))
    taken = _refresh(warehouse)
    assert (taken.cases_changed, taken.months) == (1, ("2026-12",))
    assert _same_as_full(warehouse)["F5"] == "False"

    # the code turns out to be a mistyped code of H1 (resolved to H1, whose licence was withdrawn in October): the
    # newcomer's application is judged by H1 now (found by its code)
    _write(warehouse, holder_codes, [{"code": NEWCOMER, "holder_id": "H1", "how": "resolved"}])
    resolved = _refresh(warehouse)
    assert resolved.cases_changed == 1  # F5 alone: H1's own applications do not depend on that code
    assert _same_as_full(warehouse).to_dict() == {"F1": "True", "F3": "False", "F4": "True", "F5": "False"}
    again = _refresh(warehouse)
    assert (again.cases_changed, again.months) == (0, ())

    # H2 renews its business licence on 2 December, and H1's new one of 1 November is loaded late: only each
    # holder's applications from its licence's day on could use it (H1's F3 and F5; not H2's F4 of the 1st), not
    # their history
    _write(warehouse, licences, [_licence("L4", "H2", "2026-12-02"), _licence("L5", "H1", "2026-11-01")])
    renewed = _refresh(warehouse)
    assert (renewed.cases_changed, renewed.months) == (2, ("2026-11", "2026-12"))
    assert _same_as_full(warehouse).to_dict() == {"F1": "True", "F3": "True", "F4": "True", "F5": "True"}

    # L2 is taken out of the repository (a licence recorded in error): the applications it stood in for, from its
    # day of issue, are computed again
    with warehouse.begin() as conn:
        conn.execute(licences.delete().where(licences.c.licence_key == "L2"))
    erased = _refresh(warehouse)
    assert (erased.cases_changed, erased.months) == (1, ("2026-12",))  # F4; F2 was taken away earlier
    assert _same_as_full(warehouse)["F4"] == "False"


@pytest.mark.unit
def test_per_application_refresh_equals_a_full_rebuild_on_sqlite(warehouse):
    _history(warehouse)


@pytest.mark.integration
def test_per_application_refresh_equals_a_full_rebuild_on_postgresql(postgres_warehouse):
    _history(postgres_warehouse)
