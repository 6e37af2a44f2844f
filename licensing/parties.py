"""The parties of a case, to which the sharing API binds a read (docs/security.md, "A read is bound to its case").

A read of the sharing API names the case it is for (``caseNo``). The holder it asks about must be a party of that
case: its applicant, or the holder of a licence the case produced (a 个体工商户's licence names the business, its
application the person). ``case_parties`` holds both under every number the case is known by (the department's
own, the national 办件编号 it went out under, an allocated one later replaced: ``number_index``), so a caller
citing any of them is bound alike.

The licence repository's day writes the rows of the golden cases it touched, once their licences are in. A
number keeps the parties it was recorded with until its case is touched again; a golden case that a later
resolution folded into another leaves its rows (the number still names the same records, whose parties they
are): a stale row can only let a party's read through, never refuse one.

The API reads them (``sharing.api.is_party``): a code the case wrote (perhaps mistyped) and a code the caller sent
are the same party when they are equal or name the same holder (``holder_codes``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from core.warehouse import in_lists, insert_frame
from resolution.evaluations import number_index
from schemas.warehouse import case_parties, golden_cases, licences

APPLICANT, LICENCE_HOLDER = "applicant", "licence_holder"
COLUMNS = [c.name for c in case_parties.c]


def parties_of(conn: sa.Connection, golden_ids: list[str]) -> pd.DataFrame:
    """golden_case_id, party_code, role: each case's applicant and its licences' holders (the applicant's row
    first when one code is both)."""
    g, lc = golden_cases.c, licences.c
    found = []
    for chunk in in_lists(golden_ids):
        found += conn.execute(
            sa.union_all(
                sa.select(
                    g.golden_case_id, g.applicant_id.label("party_code"), sa.literal(APPLICANT).label("role")
                ).where(g.golden_case_id.in_(chunk) & g.applicant_id.is_not(None) & (g.applicant_id != "")),
                sa.select(lc.golden_case_id, lc.holder_code, sa.literal(LICENCE_HOLDER)).where(
                    lc.golden_case_id.in_(chunk) & lc.holder_code.is_not(None) & (lc.holder_code != "")
                ),
            )
        ).all()
    frame = pd.DataFrame(found, columns=["golden_case_id", "party_code", "role"])
    frame["order"] = frame["role"].ne(APPLICANT)
    return frame.sort_values("order", kind="stable").drop_duplicates(["golden_case_id", "party_code"])[
        ["golden_case_id", "party_code", "role"]
    ]


def record_parties(conn: sa.Connection, golden_ids: Iterable[str]) -> int:
    """Write again the ``case_parties`` rows of these golden cases (after their licences are built). A warehouse
    that has none yet (built by an earlier release) is filled for every golden case first. Returns rows written."""
    if conn.execute(sa.select(case_parties.c.case_no).limit(1)).first() is None:
        golden_ids = [r[0] for r in conn.execute(sa.select(golden_cases.c.golden_case_id))]
    ids = sorted({str(g) for g in golden_ids})
    if not ids:
        return 0
    for chunk in in_lists(ids):
        conn.execute(case_parties.delete().where(case_parties.c.golden_case_id.in_(chunk)))
    parties = parties_of(conn, ids)
    if parties.empty:
        return 0
    numbers = number_index(conn, golden_ids=parties["golden_case_id"].unique().tolist())
    rows = numbers.merge(parties, on="golden_case_id")
    rows = rows[rows["case_no"].notna() & (rows["case_no"] != "")].drop_duplicates(
        ["case_no", "party_code", "golden_case_id"]
    )
    return insert_frame(conn, case_parties, rows[COLUMNS])
