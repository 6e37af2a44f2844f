"""Training: estimate the model's weights from unlabelled cases, on DuckDB, and write the versioned model file.

u comes from random sampling; m from expectation maximisation on blocks restricted to the case definition
(:data:`model.CASE_GATE`), so the latent class is "same case", not "same applicant". Levels the data never
showed are smoothed (:func:`smooth`) so the model stays usable on data unlike the training data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from resolution.backends.duckdb import linker
from resolution.features import load_features, prepare
from resolution.model import CASE_GATE, MODEL_PATH, pair_sql, save_model, settings

GATE_COLUMNS = (
    "item_key",
    "item_known",
    "item_class",
    "item_action",
    "item_objects",
    "item_name_norm",
    "submitted_date",
    "id_norm",
    "id_valid",
    "name_norm",
    "name_sounds",
)


def _gated(*columns: str) -> str:
    """An EM training block restricted to pairs inside the case definition. The gate reads copies of the columns
    (``gate_*``): Splink holds every comparison whose columns a training block names fixed, and only the equi-join
    column should be."""
    return " AND ".join([*(f"l.{c} = r.{c}" for c in columns), pair_sql(CASE_GATE, "gate")])


def train(cases: pd.DataFrame, *, max_pairs: float = 1e6, path: Path | None = MODEL_PATH) -> dict:
    """Estimate the model from unlabelled cases and (optionally) write it to the versioned model file."""
    con = duckdb.connect()
    table = load_features(con, prepare(cases))
    copies = ", ".join(f"{c} AS gate_{c}" for c in GATE_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE training_features AS SELECT *, {copies} FROM {table}")
    trainer = linker(con, "training_features", settings())
    trainer.training.estimate_probability_two_random_records_match(
        [_gated("id_norm") + " AND abs(date_diff('day', l.gate_submitted_date, r.gate_submitted_date)) <= 3"],
        recall=0.8,
    )
    trainer.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=7)
    # Each EM session holds one field fixed by its blocking and learns the others. Every session sees only pairs
    # inside the case definition, so the latent "match" class is "same case", not "same applicant".
    for rule in (_gated("id_norm"), _gated("name_norm"), _gated("phone_norm")):
        trainer.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=max_pairs)
    model = smooth(trainer.misc.save_model_to_json(None, overwrite=True))
    con.close()
    if path is not None:
        save_model(model, path)
    return model


M_FLOOR = 0.01


def smooth(model: dict) -> dict:
    """Make every level usable on data unlike the training data.

    A level the training never observed among matches gets a neutral weight (m = u): no evidence either way;
    the else level, which the case definition keeps out of training, gets the floor instead. A learned m is
    floored at 1 %: a level that matches never showed in training (a re-entry three days late, a phone typed
    differently) counts against a link but does not veto it with a weight of -60.
    """
    for comparison in model["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        for lvl in levels:
            m, u = lvl.get("m_probability"), lvl.get("u_probability")
            if m is None and lvl["sql_condition"].strip().upper() == "ELSE":
                lvl["m_probability"] = M_FLOOR
            elif m is None and u is None:
                lvl["m_probability"] = lvl["u_probability"] = M_FLOOR
            elif m is None:
                lvl["m_probability"] = u
            elif u is None:
                lvl["u_probability"] = m
            else:
                lvl["m_probability"] = max(m, M_FLOOR)
        total = sum(lvl["m_probability"] for lvl in levels)
        for lvl in levels:
            lvl["m_probability"] /= total
    return model
