"""One resolution run: records in, clusters out, on any backend.

The engine prepares the features (``features.py``), has a backend score the candidate pairs with the trained
model (``backends/``: DuckDB or Spark, one interface), and decides on the scored pairs the same way on every
backend: the case definition and the rule for weak evidence (``model.py``), a reviewer's decisions, and
clustering under the cannot-link constraints (``clusters.py``). The golden cases are named and built from its
clusters (``golden.py``); the model is trained in ``training.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resolution.backends import BACKENDS, Backend, backend_named
from resolution.clusters import cluster, pair_conflicts
from resolution.features import prepare
from resolution.model import (
    CASE_WINDOW_DAYS,
    MATCH_THRESHOLD,
    REVIEW_THRESHOLD,
    load_model,
    needs_a_person,
    within_case_definition,
)

__all__ = ["BACKENDS", "Engine", "Resolution", "make_engine", "resolve"]


@dataclass
class Resolution:
    """What the engine found for a set of records (row order of the input)."""

    cluster: np.ndarray  # cluster number per input row
    links: pd.DataFrame  # uid_l, uid_r, match_probability, match_weight, gamma_*/mw_* per field (links taken)
    review: pd.DataFrame  # the uncertain pairs and the rejected links (``constraint`` says why), same columns
    seconds: dict[str, float] = field(default_factory=dict)
    #: Links above the match threshold that a cannot-link constraint kept out of a cluster: uid_l, uid_r,
    #: match_probability and ``constraint`` (see ``clusters.CONSTRAINTS``), plus the per-field columns.
    splits: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Scored pairs dropped because the two records break a constraint themselves, by constraint.
    vetoed: dict[str, int] = field(default_factory=dict)


class Engine:
    """One resolution run: load records once (the caller may then drop its copy), score, cluster."""

    def __init__(self, model: dict | None = None, backend: Backend | str | None = None) -> None:
        self.model = model or load_model()
        self.backend = backend if isinstance(backend, Backend) else backend_named(backend)
        self.keys = pd.DataFrame(columns=["source_system", "source_record_id"])
        self.seconds: dict[str, float] = {}

    def load(self, cases: pd.DataFrame) -> None:
        started = time.perf_counter()
        self.load_prepared(prepare(cases))
        self.seconds["features"] = time.perf_counter() - started

    def load_prepared(self, prepared: pd.DataFrame) -> None:
        """Load features already prepared (``features.prepare``): a caller holding a million cases drops them
        before the backend materialises the features, so the text is not held twice."""
        started = time.perf_counter()
        self.keys = prepared[["source_system", "source_record_id"]].copy()
        self.nodes = self.backend.load(prepared)
        self.seconds["features"] = self.seconds.get("prepare", 0.0) + time.perf_counter() - started

    def score(self, review_threshold: float = REVIEW_THRESHOLD) -> pd.DataFrame:
        """Candidate pairs inside the case definition with probability ≥ ``review_threshold``."""
        started = time.perf_counter()
        scored = self.backend.score(self.model, review_threshold)
        self.seconds["predict"] = time.perf_counter() - started
        return scored[within_case_definition(scored)].reset_index(drop=True)

    def resolve(
        self,
        *,
        decisions: pd.DataFrame | None = None,
        match_threshold: float = MATCH_THRESHOLD,
        review_threshold: float = REVIEW_THRESHOLD,
        close_backend: bool = False,
    ) -> Resolution:
        """``close_backend``: close the backend once the pairs are scored (the rest is the engine's), so its
        memory (DuckDB's tables and buffers) is not held beside the clustering's."""
        scored = self.score(review_threshold)
        if close_backend:
            self.close()
        started = time.perf_counter()
        # Two records that cannot be one case are never a pair, whatever the model says of them.
        conflict = pair_conflicts(scored, self.nodes, CASE_WINDOW_DAYS)
        vetoed = conflict.value_counts().to_dict()
        scored = scored[conflict.isna().to_numpy()].reset_index(drop=True)
        confident = (scored["match_probability"] >= match_threshold) & ~needs_a_person(scored, self.model)
        scored, apart = self._apply_decisions(scored.assign(confident=confident.to_numpy()), decisions)
        forced = scored["forced"].fillna(False).astype(bool) if "forced" in scored else False
        confident = scored["confident"].fillna(False).astype(bool) | forced
        scored = scored.drop(columns="confident")
        linked = scored[confident.to_numpy()].reset_index(drop=True)
        review = scored[~confident.to_numpy()].reset_index(drop=True)
        clustering = cluster(len(self.keys), linked, self.nodes, cannot=apart, window_days=CASE_WINDOW_DAYS)
        pair = ["uid_l", "uid_r"]
        splits = linked.merge(clustering.rejected[[*pair, "constraint"]], on=pair)
        if len(splits):
            taken = linked.merge(splits[pair], on=pair, how="left", indicator=True)["_merge"].eq("left_only")
            linked = linked[taken.to_numpy()].reset_index(drop=True)
            # A split is a judgement: both candidates go to a person, with the constraint that decided it.
            review = pd.concat([review, splits], ignore_index=True)
        self.seconds["cluster"] = time.perf_counter() - started
        return Resolution(
            clustering.cluster,
            linked,
            review,
            dict(self.seconds),
            splits=splits,
            vetoed={str(k): int(v) for k, v in vetoed.items()},
        )

    def _apply_decisions(
        self, scored: pd.DataFrame, decisions: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A reviewer's ``same`` links a pair whatever its score (constraints still hold); ``different`` keeps the
        two apart, also through any chain of other links. Returns the scored pairs and the pairs kept apart."""
        apart = pd.DataFrame({"uid_l": pd.Series(dtype=int), "uid_r": pd.Series(dtype=int)})
        if decisions is None or decisions.empty:
            return scored, apart
        uid = self.keys.reset_index(names="uid")
        pairs = decisions.merge(
            uid, left_on=["source_system_l", "source_record_id_l"], right_on=["source_system", "source_record_id"]
        )[["uid", "source_system_r", "source_record_id_r", "decision"]]
        pairs = (
            pairs.rename(columns={"uid": "a"})
            .merge(
                uid, left_on=["source_system_r", "source_record_id_r"], right_on=["source_system", "source_record_id"]
            )
            .rename(columns={"uid": "b"})
        )
        pairs = pairs.assign(uid_l=pairs[["a", "b"]].min(axis=1), uid_r=pairs[["a", "b"]].max(axis=1))
        decided = pairs.drop_duplicates(["uid_l", "uid_r"], keep="last").set_index(["uid_l", "uid_r"])["decision"]
        different = decided[decided == "different"].index
        apart = pd.DataFrame({"uid_l": different.get_level_values(0), "uid_r": different.get_level_values(1)})
        key = pd.MultiIndex.from_arrays([scored["uid_l"], scored["uid_r"]])
        verdict = decided.reindex(key).to_numpy()
        scored = scored.loc[verdict != "different"].copy()
        same = verdict[verdict != "different"] == "same"
        scored.loc[same, "match_probability"] = 1.0
        scored["forced"] = same
        forced = decided[decided == "same"].index.difference(key)
        extra = pd.DataFrame(
            {
                "uid_l": forced.get_level_values(0),
                "uid_r": forced.get_level_values(1),
                "match_probability": 1.0,
                "forced": True,
            }
        )
        return (pd.concat([scored, extra], ignore_index=True) if len(extra) else scored), apart

    def close(self) -> None:
        self.backend.close()


def make_engine(model: dict | None = None, backend: Backend | str | None = None) -> Engine:
    """The engine on a backend: one given, or by name: ``backend``, else ``BRIDGE_RESOLUTION_BACKEND``, else
    DuckDB (see ``backends/__init__.py``)."""
    return Engine(model, backend)


def resolve(
    cases: pd.DataFrame,
    *,
    model: dict | None = None,
    decisions: pd.DataFrame | None = None,
    match_threshold: float = MATCH_THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    backend: str | None = None,
) -> Resolution:
    """Score candidate pairs, link the confident ones, set aside the uncertain ones, cluster.

    ``decisions`` (source_system_l, source_record_id_l, source_system_r, source_record_id_r, decision) are a
    reviewer's verdicts (``same`` / ``different``), respected over the model.
    """
    engine = make_engine(model, backend)
    try:
        engine.load(cases)
        return engine.resolve(decisions=decisions, match_threshold=match_threshold, review_threshold=review_threshold)
    finally:
        engine.close()
