"""The DuckDB backend: features and scoring in one in-process database, on one machine.

It is also where features are prepared for every backend: the learned item classes and package days are SQL
over the whole run (``features.load_features``), and the Spark backend reads the finished table from here.
Scoring is one query written from the model file (``scoring.py``: Splink's predictions, bit for bit, without
building a Splink linker); Splink itself is imported only for training (:func:`linker`).
"""

from __future__ import annotations

import copy
import os
import re
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pyarrow as pa

from resolution.backends import Backend
from resolution.backends.scoring import prediction_sql
from resolution.clusters import ATTRIBUTES
from resolution.features import load_features
from resolution.model import BLOCKING_RULES, MODEL_DIALECT, for_scoring

if TYPE_CHECKING:
    from splink import Linker, SettingsCreator

DUCKDB_MEMORY_LIMIT = "1500MB"  # spill to disk beyond it; the 2-core host shares memory with Dagster

#: Node attributes for the constraints, from the features table (``item_known_key``: the catalogue item, if any).
NODE_SQL = ", ".join(
    [
        "CASE WHEN item_known THEN item_key END AS item_known_key",
        *(a for a in ATTRIBUTES if a != "item_known_key"),
        "state_rank",
    ]
)
#: Columns only the constraints read: they leave DuckDB with the nodes (scoring reads the columns its levels
#: and blocking rules name, and another backend is handed the features without these).
NODE_ONLY_COLUMNS = ("item_code_id", "id_kind", "state_rank")


#: ``damerau_levenshtein(a, b) <= k`` in a level's SQL.
DAMERAU_AT_MOST = re.compile(r"damerau_levenshtein\((\w+), (\w+)\) <= (\d+)")


def cheaper_levels(model: dict) -> dict:
    """The model with the same levels in SQL DuckDB computes faster. DuckDB's ``damerau_levenshtein`` costs five
    times its ``levenshtein``, and Levenshtein bounds it both ways (a transposition is two of its edits), so
    ``d <= k`` is ``lev <= k OR (lev <= 2k AND d <= k)``: the same pairs, Damerau computed for the few within
    2k edits only."""

    def bounded(match: re.Match) -> str:
        left, right, k = match.group(1), match.group(2), int(match.group(3))
        lev = f"levenshtein({left}, {right})"
        return f"({lev} <= {k} OR ({lev} <= {2 * k} AND {match.group(0)}))"

    faster = copy.deepcopy(model)
    for comparison in faster["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = DAMERAU_AT_MOST.sub(bounded, level["sql_condition"])
    return faster


def linker(
    con: duckdb.DuckDBPyConnection, table: str, model: dict | SettingsCreator, *, validate: bool = True
) -> Linker:
    """A Splink linker over ``table`` of ``con``. ``validate``: Splink checks the settings' columns against the
    table (for training; the trained model's columns are the features table's by construction)."""
    from splink import Linker
    from splink.internals.duckdb.database_api import DuckDBAPI

    db_api = DuckDBAPI(connection=con)
    return Linker(db_api.register(table, dataset_display_name="cases"), model, log_level=30, validate_settings=validate)


class DuckDBBackend(Backend):
    name = "duckdb"
    dialect = MODEL_DIALECT

    def __init__(self) -> None:
        self.con = duckdb.connect(
            config={
                "threads": os.cpu_count() or 2,
                "memory_limit": DUCKDB_MEMORY_LIMIT,
                "preserve_insertion_order": False,
            }
        )
        self.con.execute("SET enable_progress_bar = false")  # a batch run: no bar redrawn on the terminal
        self.table = ""

    def load(self, prepared: pd.DataFrame) -> pd.DataFrame:
        self.table = load_features(self.con, prepared)
        # Through Arrow, text as Arrow-backed strings: a million Python strings per column cost seconds and memory.
        nodes = self.con.sql(f"SELECT {NODE_SQL} FROM {self.table} ORDER BY uid").to_arrow_table()
        text = pd.StringDtype("pyarrow", na_value=float("nan"))
        return nodes.to_pandas(types_mapper=lambda t: text if t == pa.string() else None, date_as_object=False)

    def features(self) -> pd.DataFrame:
        """The features table as scoring reads it, in ``uid`` order."""
        return self.con.execute(
            f"SELECT * EXCLUDE ({', '.join(NODE_ONLY_COLUMNS)}) FROM {self.table} ORDER BY uid"
        ).df()

    def score(self, model: dict, review_threshold: float) -> pd.DataFrame:
        columns = [row[0] for row in self.con.execute(f"DESCRIBE {self.table}").fetchall()]
        query = prediction_sql(
            cheaper_levels(for_scoring(model)), self.table, columns, BLOCKING_RULES, review_threshold
        )
        return self.con.execute(query).df()

    def splink_score(self, model: dict, review_threshold: float) -> pd.DataFrame:
        """The same predictions through a Splink linker (what :meth:`score` must equal; for tests)."""
        from resolution.backends import score_columns

        predictions = linker(
            self.con, self.table, cheaper_levels(for_scoring(model)), validate=False
        ).inference.predict(threshold_match_probability=review_threshold, warning_mode="never")
        names = [r[0] for r in self.con.execute(f"DESCRIBE {predictions.physical_name}").fetchall()]
        scored = self.con.execute(f"SELECT {', '.join(score_columns(names))} FROM {predictions.physical_name}").df()
        predictions.drop_table_from_database_and_remove_from_cache()
        return scored

    def close(self) -> None:
        self.con.close()
