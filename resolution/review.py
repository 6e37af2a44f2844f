"""The review queue and explanations, as clerks and IT staff use them from the command line.

Uncertain pairs wait in ``review_queue`` (identifiers and phones masked); a decision goes to
``review_decisions`` and every later resolution respects it. ``explain`` shows, field by field, why the
records of a golden case were linked.
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa

from core import clock
from core.warehouse import Warehouse
from resolution.clusters import CONSTRAINTS
from schemas.warehouse import case_links, link_evidence, resolution_splits, review_decisions, review_queue, staged_cases

PAIR_KEYS = ["source_system_l", "source_record_id_l", "source_system_r", "source_record_id_r"]


def _record(text: str) -> tuple[str, str]:
    system, sep, record = text.partition(":")
    if not sep or not system or not record:
        raise SystemExit(f"records are named SOURCE:RECORD_ID (e.g. approval_platform:WJSP2026111700001), not {text!r}")
    return system, record


def decide(
    warehouse: Warehouse, left: str, right: str, decision: str, decided_by: str, note: str | None = None
) -> dict:
    """Record a reviewer's verdict on a pair (in either order) and take it off the queue."""
    if decision not in ("same", "different"):
        raise SystemExit("a decision is 'same' or 'different'")
    first, second = sorted([_record(left), _record(right)])
    row = {
        "source_system_l": first[0],
        "source_record_id_l": first[1],
        "source_system_r": second[0],
        "source_record_id_r": second[1],
    }
    with warehouse.begin() as conn:
        for table in (review_decisions, review_queue):
            for a, b in ((first, second), (second, first)):
                conn.execute(
                    table.delete().where(
                        (table.c.source_system_l == a[0])
                        & (table.c.source_record_id_l == a[1])
                        & (table.c.source_system_r == b[0])
                        & (table.c.source_record_id_r == b[1])
                    )
                )
        conn.execute(
            review_decisions.insert(),
            {
                **row,
                "decision": decision,
                "decided_by": decided_by,
                "decided_at": clock.now(),
                "note": note,
            },
        )
    return row


def open_pairs(warehouse: Warehouse, limit: int = 50) -> pd.DataFrame:
    return warehouse.read(sa.select(review_queue).order_by(review_queue.c.match_probability.desc()).limit(limit))


def _linked_records(where) -> sa.Select:
    """Staged records with the golden case each is linked to."""
    joined = staged_cases.join(
        case_links,
        (staged_cases.c.source_system == case_links.c.source_system)
        & (staged_cases.c.partition_date == case_links.c.partition_date)
        & (staged_cases.c.record_key == case_links.c.record_key),
    )
    columns = (staged_cases.c.source_system, staged_cases.c.source_record_id, case_links.c.golden_case_id)
    return sa.select(*columns).select_from(joined).where(where)


def _pairs_of(warehouse: Warehouse, table: sa.Table, golden_case_id: str, *, both: bool) -> pd.DataFrame:
    """Rows of a pair table (links, splits) with one record (``both``: both records) in the golden case, with
    ``left``/``right`` as SOURCE:ID and ``inside`` (the left record is the golden case's)."""
    records = warehouse.read(_linked_records(case_links.c.golden_case_id == golden_case_id))
    keys = set(records["source_system"] + ":" + records["source_record_id"])
    if not keys:
        return pd.DataFrame()
    systems = sorted(set(records["source_system"]))
    system_l, system_r = table.c.source_system_l.in_(systems), table.c.source_system_r.in_(systems)
    found = warehouse.read(sa.select(table).where((system_l & system_r) if both else (system_l | system_r)))
    left = found["source_system_l"] + ":" + found["source_record_id_l"]
    right = found["source_system_r"] + ":" + found["source_record_id_r"]
    touching = (left.isin(keys) & right.isin(keys)) if both else (left.isin(keys) | right.isin(keys))
    return found.assign(left=left, right=right, inside=left.isin(keys))[touching]


def splits(warehouse: Warehouse, golden_case_id: str) -> pd.DataFrame:
    """Links the model made from a golden case's records that a cannot-link constraint did not take: the other
    record, its golden case, and the constraint (``approval-bridge explain`` prints them under the links)."""
    found = _pairs_of(warehouse, resolution_splits, golden_case_id, both=False)
    if found.empty:
        return pd.DataFrame()
    other = found["right"].where(found["inside"], found["left"])
    homes = warehouse.read(_linked_records(staged_cases.c.source_system.in_(sorted({o.split(":")[0] for o in other}))))
    home = dict(zip(homes["source_system"] + ":" + homes["source_record_id"], homes["golden_case_id"], strict=False))
    return pd.DataFrame(
        {
            "record": found["left"].where(found["inside"], found["right"]).to_numpy(),
            "not_merged_with": other.to_numpy(),
            "its_golden_case": other.map(home).to_numpy(),
            "probability": found["match_probability"].round(6).to_numpy(),
            "constraint": found["constraint_name"].to_numpy(),
            "why": found["constraint_name"].map(CONSTRAINTS).to_numpy(),
        }
    ).drop_duplicates()


def explain(warehouse: Warehouse, golden_case_id: str) -> pd.DataFrame:
    """The links among a golden case's records, each with its per-field levels and match weights."""
    links = _pairs_of(warehouse, link_evidence, golden_case_id, both=True)
    if links.empty:
        return pd.DataFrame()
    rows = []
    for link in links.itertuples():
        for field, detail in json.loads(link.evidence).items():
            if field == "not_merged":
                continue
            rows.append(
                {
                    "left": f"{link.source_system_l}:{link.source_record_id_l}",
                    "right": f"{link.source_system_r}:{link.source_record_id_r}",
                    "probability": round(link.match_probability, 6),
                    "field": field,
                    "level": detail["level"],
                    "weight": detail["weight"],
                }
            )
    return pd.DataFrame(rows)
