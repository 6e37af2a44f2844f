"""The review queue and explanations, as clerks and IT staff use them from the command line.

Uncertain pairs wait in ``review_queue`` (identifiers and phones masked); a decision goes to
``review_decisions`` and every later resolution respects it. ``explain`` shows, field by field, why the
records of a golden case were linked.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa

from pipelines.resolve.clusters import CONSTRAINTS
from pipelines.warehouse import Warehouse
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
                "decided_at": dt.datetime.now().replace(microsecond=0),
                "note": note,
            },
        )
    return row


def open_pairs(warehouse: Warehouse, limit: int = 50) -> pd.DataFrame:
    return warehouse.read(sa.select(review_queue).order_by(review_queue.c.match_probability.desc()).limit(limit))


def _members(warehouse: Warehouse, golden_case_id: str) -> pd.DataFrame:
    query = (
        sa.select(staged_cases.c.source_system, staged_cases.c.source_record_id)
        .select_from(
            staged_cases.join(
                case_links,
                (staged_cases.c.source_system == case_links.c.source_system)
                & (staged_cases.c.partition_date == case_links.c.partition_date)
                & (staged_cases.c.record_key == case_links.c.record_key),
            )
        )
        .where(case_links.c.golden_case_id == golden_case_id)
    )
    return warehouse.read(query)


def splits(warehouse: Warehouse, golden_case_id: str) -> pd.DataFrame:
    """Links the model made from a golden case's records that a cannot-link constraint did not take: the other
    record, its golden case, and the constraint (``approval-bridge explain`` prints them under the links)."""
    records = _members(warehouse, golden_case_id)
    keys = set(records["source_system"] + ":" + records["source_record_id"])
    if not keys:
        return pd.DataFrame()
    systems = sorted(set(records["source_system"]))
    found = warehouse.read(
        sa.select(resolution_splits).where(
            resolution_splits.c.source_system_l.in_(systems) | resolution_splits.c.source_system_r.in_(systems)
        )
    )
    left = found["source_system_l"] + ":" + found["source_record_id_l"]
    right = found["source_system_r"] + ":" + found["source_record_id_r"]
    found = found.assign(left=left, right=right)[left.isin(keys) | right.isin(keys)]
    if found.empty:
        return pd.DataFrame()
    mine = found["left"].isin(keys)
    other = found["right"].where(mine, found["left"])
    homes = warehouse.read(
        sa.select(case_links.c.source_system, staged_cases.c.source_record_id, case_links.c.golden_case_id)
        .select_from(
            case_links.join(
                staged_cases,
                (staged_cases.c.source_system == case_links.c.source_system)
                & (staged_cases.c.partition_date == case_links.c.partition_date)
                & (staged_cases.c.record_key == case_links.c.record_key),
            )
        )
        .where(staged_cases.c.source_system.in_(sorted({o.split(":", 1)[0] for o in other})))
    )
    home = dict(zip(homes["source_system"] + ":" + homes["source_record_id"], homes["golden_case_id"], strict=False))
    return pd.DataFrame(
        {
            "record": found["left"].where(mine, found["right"]).to_numpy(),
            "not_merged_with": other.to_numpy(),
            "its_golden_case": other.map(home).to_numpy(),
            "probability": found["match_probability"].round(6).to_numpy(),
            "constraint": found["constraint_name"].to_numpy(),
            "why": found["constraint_name"].map(CONSTRAINTS).to_numpy(),
        }
    ).drop_duplicates()


def explain(warehouse: Warehouse, golden_case_id: str) -> pd.DataFrame:
    """The links among a golden case's records, each with its per-field levels and match weights."""
    records = _members(warehouse, golden_case_id)
    keys = set(records["source_system"] + ":" + records["source_record_id"])
    if not keys:
        return pd.DataFrame()
    systems = sorted(set(records["source_system"]))
    candidates = warehouse.read(
        sa.select(link_evidence).where(
            link_evidence.c.source_system_l.in_(systems) & link_evidence.c.source_system_r.in_(systems)
        )
    )
    left = candidates["source_system_l"] + ":" + candidates["source_record_id_l"]
    right = candidates["source_system_r"] + ":" + candidates["source_record_id_r"]
    links = candidates[left.isin(keys) & right.isin(keys)]
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
