"""First, rule-based record resolution: which staged records describe the same case (办件).

A case is the same applicant filing the same item within a few days. Rules, strongest first:
``same_source_record`` (one source record seen again), ``applicant_id`` (same valid identifier, same
item, submitted within the window) and ``applicant_name`` (same normalised name and item within the
window, used only when an identifier is missing or fails its check, so namesakes with different valid
identifiers stay apart). Linked records form clusters by connected components; each cluster is one
golden case built by survivorship.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.stage.normalise import company_name_key
from schemas.case import CASE_COLUMNS, LEGAL_PERSON

WINDOW_DAYS = 3
#: Department systems are authoritative for their own cases; the platform's re-typed copy ranks below.
SOURCE_PRIORITY = {"market_regulation": 0, "housing": 0, "health": 0, "approval_platform": 1}
RULE_STRENGTH = {"same_source_record": 0, "applicant_id": 1, "applicant_name": 2, "new": 3}
GOLDEN_FIELDS = [c for c in CASE_COLUMNS if c not in ("source_system", "source_record_id")] + ["applicant_id_kind"]


def golden_id_for(source_system: pd.Series, source_record_id: pd.Series) -> pd.Series:
    """A stable id from the record that founded the golden case: reruns and backfills give the same id."""
    keys = (source_system + "|" + source_record_id).astype(str)
    return pd.Series(["GC" + hashlib.sha1(k.encode()).hexdigest()[:14].upper() for k in keys], index=keys.index)


def _blocking_keys(pool: pd.DataFrame) -> pd.DataFrame:
    names = pool["applicant_name"].astype("string")
    name_key = names.where(pool["applicant_type"] != LEGAL_PERSON, company_name_key(names))
    valid_id = pool["applicant_id"].where(pool["applicant_id_checksum_ok"].eq(True).fillna(False).astype(bool))
    return pd.DataFrame(
        {
            "row": np.arange(len(pool)),
            "src_key": pool["source_system"] + "|" + pool["source_record_id"],
            "id_key": valid_id.astype("string"),
            "name_key": name_key,
            "item_code": pool["item_code"],
            "day": pool["submitted_at"].dt.floor("D"),
        }
    )


def _pairs(keys: pd.DataFrame, on: list[str], window_days: int | None) -> pd.DataFrame:
    block = keys.dropna(subset=on)
    pairs = block.merge(block, on=on, suffixes=("_a", "_b"))
    pairs = pairs[pairs["row_a"] < pairs["row_b"]]
    if window_days is not None:
        pairs = pairs[(pairs["day_a"] - pairs["day_b"]).abs() <= pd.Timedelta(days=window_days)]
    return pairs


def match_edges(pool: pd.DataFrame, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Edges (row_a, row_b, rule) between records of ``pool`` that the rules say are the same case."""
    keys = _blocking_keys(pool)
    same_record = _pairs(keys, ["src_key"], None).assign(rule="same_source_record")
    by_id = _pairs(keys, ["id_key", "item_code"], window_days).assign(rule="applicant_id")
    by_name = _pairs(keys, ["name_key", "item_code"], window_days)
    # Two valid, different identifiers are two applicants however alike the names (张伟, sister companies).
    conflict = by_name["id_key_a"].notna() & by_name["id_key_b"].notna() & (by_name["id_key_a"] != by_name["id_key_b"])
    by_name = by_name[~conflict].assign(rule="applicant_name")
    edges = pd.concat([frame[["row_a", "row_b", "rule"]] for frame in (same_record, by_id, by_name)])
    return edges.drop_duplicates(["row_a", "row_b"], keep="first").reset_index(drop=True)


def cluster(pool: pd.DataFrame, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Per record of ``pool``: its component number and the strongest rule that linked it."""
    n = len(pool)
    edges = match_edges(pool, window_days)
    graph = coo_matrix((np.ones(len(edges)), (edges["row_a"], edges["row_b"])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    incident = pd.concat(
        [
            edges[["row_a", "rule"]].rename(columns={"row_a": "row"}),
            edges[["row_b", "rule"]].rename(columns={"row_b": "row"}),
        ]
    )
    strongest = incident.assign(strength=incident["rule"].map(RULE_STRENGTH)).sort_values("strength")
    rule = strongest.drop_duplicates("row").set_index("row")["rule"].reindex(range(n)).fillna("new")
    return pd.DataFrame({"component": component, "match_rule": rule.to_numpy()}, index=pool.index)


def survivorship_order(records: pd.DataFrame) -> pd.DataFrame:
    """Records sorted best first: authoritative source, valid identifier, most complete, earliest."""
    ranked = records.assign(
        _source_rank=records["source_system"].map(SOURCE_PRIORITY).fillna(9),
        _id_rank=(~records["applicant_id_checksum_ok"].eq(True).fillna(False).astype(bool)).astype(int),
        _completeness=-records[GOLDEN_FIELDS].notna().sum(axis=1),
    )
    ranked = ranked.sort_values(
        ["_source_rank", "_id_rank", "_completeness", "submitted_at", "source_system", "source_record_id"],
        kind="stable",
    )
    return ranked.drop(columns=["_source_rank", "_id_rank", "_completeness"])


def assign_golden_ids(pool: pd.DataFrame, clusters: pd.DataFrame) -> pd.Series:
    """Keep the golden id a cluster already has; a new cluster takes the id of its best record."""
    frame = pool.assign(component=clusters["component"])
    existing = frame.dropna(subset=["golden_case_id"]).groupby("component")["golden_case_id"].min()
    best = survivorship_order(frame).drop_duplicates("component")
    fresh = pd.Series(
        golden_id_for(best["source_system"], best["source_record_id"]).to_numpy(), index=best["component"].to_numpy()
    )
    chosen = fresh.copy()
    chosen.loc[existing.index] = existing
    return frame["component"].map(chosen)


def build_golden_cases(linked: pd.DataFrame) -> pd.DataFrame:
    """One row per golden case: each field from the best record that has it (survivorship)."""
    ordered = survivorship_order(linked)
    golden = ordered.groupby("golden_case_id", sort=True)[GOLDEN_FIELDS].first()
    winners = ordered.drop_duplicates("golden_case_id").set_index("golden_case_id")
    golden["source_system"] = winners["source_system"]
    golden["source_record_id"] = winners["source_record_id"]
    golden["record_count"] = ordered.groupby("golden_case_id").size()
    golden["content_hash"] = content_hashes(golden)
    return golden.reset_index()


def content_hashes(golden: pd.DataFrame) -> pd.Series:
    payloads = payload_json(golden)
    return pd.Series([hashlib.sha256(p.encode()).hexdigest() for p in payloads], index=golden.index)


def payload_json(golden: pd.DataFrame) -> list[str]:
    """The canonical golden case as receivers get it (timestamps ISO, blanks null), stable key order."""
    frame = golden[GOLDEN_FIELDS].copy()
    for column in ("submitted_at", "accepted_at", "decided_at", "completed_at"):
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    frame = frame.astype(object).where(frame.notna(), None)
    return [json.dumps(row, ensure_ascii=False, sort_keys=True, default=int) for row in frame.to_dict("records")]


def roles(linked: pd.DataFrame) -> pd.Series:
    """``golden`` for the survivorship winner of each golden case, ``duplicate`` for the others."""
    ordered = survivorship_order(linked)
    winner = ~ordered.duplicated("golden_case_id")
    return pd.Series(np.where(winner, "golden", "duplicate"), index=ordered.index).reindex(linked.index)
