"""``approval-bridge dedup``: resolve a CSV of canonical cases into clusters, for IT staff.

Input: UTF-8 CSV with the canonical columns (blanks allowed, values as messy as re-entry makes them).
Output: one row per input row, in input order, with ``cluster_id`` and why the row joined its cluster.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from resolution.engine import make_engine
from resolution.golden import golden_id_for
from schemas.case import DEDUP_COLUMNS

REQUIRED = ("source_system", "source_record_id")


def read_cases(path: Path) -> pd.DataFrame:
    cases = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in REQUIRED if c not in cases.columns]
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(DEDUP_COLUMNS)}")
    for column in DEDUP_COLUMNS:
        if column not in cases.columns:
            cases[column] = ""
    return cases


def cluster_ids(cases: pd.DataFrame, component) -> pd.Series:
    """Each cluster is named after its first record (by source and id), so reruns give the same ids."""
    frame = pd.DataFrame(
        {
            "component": component,
            "source_system": cases["source_system"].to_numpy(),
            "source_record_id": cases["source_record_id"].to_numpy(),
        }
    )
    first = frame.sort_values(["source_system", "source_record_id"], kind="stable").drop_duplicates("component")
    names = pd.Series(
        golden_id_for(first["source_system"], first["source_record_id"]).to_numpy(), index=first["component"].to_numpy()
    )
    return frame["component"].map(names)


def run(input_path: Path, output_path: Path, *, backend: str | None = None, log=print) -> dict:
    started = time.perf_counter()
    cases = read_cases(input_path)
    keys = cases[list(REQUIRED)].copy()
    engine = make_engine(backend=backend)
    engine.load(cases)
    del cases  # the features live in DuckDB now; a million rows of text need not be held twice
    try:
        result = engine.resolve()
    finally:
        engine.close()
    clusters = cluster_ids(keys, result.cluster)
    best = (
        pd.concat(
            [
                result.links[["uid_l", "match_probability"]].rename(columns={"uid_l": "uid"}),
                result.links[["uid_r", "match_probability"]].rename(columns={"uid_r": "uid"}),
            ]
        )
        .groupby("uid")["match_probability"]
        .max()
    )
    in_review = pd.Index(pd.concat([result.review["uid_l"], result.review["uid_r"]]).unique())
    output = pd.DataFrame(
        {
            "source_system": keys["source_system"],
            "source_record_id": keys["source_record_id"],
            "cluster_id": clusters.to_numpy(),
            "best_match_probability": best.reindex(range(len(keys))).round(6).to_numpy(),
            "in_review": pd.RangeIndex(len(keys)).isin(in_review),
        }
    )
    output.to_csv(output_path, index=False, encoding="utf-8")
    summary = {
        "records": len(keys),
        "clusters": int(clusters.nunique()),
        "pairs_linked": len(result.links),
        "pairs_to_review": len(result.review),
        "links_split": len(result.splits),
        "seconds": round(time.perf_counter() - started, 1),
    }
    log(
        f"{summary['records']} records → {summary['clusters']} clusters; {summary['pairs_linked']} pairs linked, "
        f"{summary['pairs_to_review']} sent to review ({summary['links_split']} of them links a cannot-link "
        f"constraint kept apart); {summary['seconds']}s "
        f"(features {result.seconds['features']:.1f}s, scoring {result.seconds['predict']:.1f}s, "
        f"clustering {result.seconds['cluster']:.1f}s)"
    )
    if len(result.review):
        review_path = output_path.with_name(output_path.stem + "_review.csv")
        result.review.to_csv(review_path, index=False, encoding="utf-8")
        log(f"uncertain pairs with their per-field match weights: {review_path}")
    return summary
