"""Record resolution on Splink's Spark backend: the path beyond one machine.

The trained model is the same file; its comparison and blocking SQL, written for DuckDB, is translated to Spark
SQL (the constructs it uses are few and known). Features are prepared column-wise as on DuckDB and handed to
Spark as a DataFrame; scoring, the costly part, runs on the Spark cluster (``local[*]`` unless a session is given).
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import time
import uuid

import pandas as pd

from resolution.engine import BLOCKING_RULES, SAME_SOUND, Engine, _pair, within_case_definition

# Every reading group of one name intersects the other's, position by position (see engine.SAME_SOUND).
SPARK_SAME_SOUND = (
    "(size(split({l.name_sounds}, ' ')) = size(split({r.name_sounds}, ' ')) AND forall(zip_with("
    "split({l.name_sounds}, ' '), split({r.name_sounds}, ' '), "
    "(a, b) -> size(array_intersect(split(a, '[|]'), split(b, '[|]'))) > 0), v -> v))"
)
_WHOLE = {_pair(SAME_SOUND, style): _pair(SPARK_SAME_SOUND, style) for style in ("level", "block", "gate")}
_FUNCTIONS = [
    (r"string_split\(", "split("),
    (r"\blen\(", "size("),
    (r"list_intersect\(", "array_intersect("),
    (r"list_distinct\(", "array_distinct("),
    (r"list_concat\(", "concat("),
    (r"starts_with\(", "startswith("),
    (r"date_diff\('day', ", "datediff("),
    (r'"([A-Za-z_][A-Za-z0-9_]*)"', r"`\1`"),  # quoted identifiers: backticks in Spark SQL
]


def spark_sql(sql: str) -> str:
    """The DuckDB SQL of the model's levels and blocking rules, in Spark SQL."""
    for duck, spark in _WHOLE.items():
        sql = sql.replace(duck, spark)
    for pattern, replacement in _FUNCTIONS:
        sql = re.sub(pattern, replacement, sql)
    return sql


def spark_model(model: dict) -> dict:
    translated = copy.deepcopy(model)
    translated["sql_dialect"] = "spark"
    for comparison in translated["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = spark_sql(level["sql_condition"])
    translated["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": spark_sql(rule), "sql_dialect": "spark"} for rule in BLOCKING_RULES
    ]
    return translated


def spark_session():
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    master = os.environ.get("BRIDGE_SPARK_MASTER", "local[*]")  # spark://host:7077, yarn, k8s://… for a cluster
    builder = (
        SparkSession.builder.master(master)
        .appName("approval-bridge-resolution")
        .config("spark.jars", similarity_jar_location())  # damerau_levenshtein and friends as Scala UDFs
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
    )
    if master.startswith("local"):  # local mode talks to itself on loopback only
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    session = builder.getOrCreate()
    if not session.sparkContext.getCheckpointDir():  # Splink checkpoints to cut long lineages
        session.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="splink-checkpoints-"))
    return session


class SparkEngine(Engine):
    """:class:`Engine` with scoring on Spark."""

    def __init__(self, model: dict | None = None, session=None) -> None:
        super().__init__(model)  # its DuckDB connection prepares the features, learned item classes included
        self.model = spark_model(self.model)
        self.spark = session or spark_session()

    def load(self, cases: pd.DataFrame) -> None:
        super().load(cases)
        started = time.perf_counter()
        features = self.con.execute(f"SELECT * FROM {self.table} ORDER BY uid").df()
        self.frame = self.spark.createDataFrame(features.astype(object).where(features.notna(), None))
        self.seconds["features"] += time.perf_counter() - started

    def score(self, review_threshold: float) -> pd.DataFrame:
        from splink import Linker
        from splink.backends.spark import SparkAPI

        started = time.perf_counter()
        db_api = SparkAPI(spark_session=self.spark)
        name = f"cases_{uuid.uuid4().hex[:8]}"  # the session is shared: each run registers its own table
        linker = Linker(db_api.register(self.frame, dataset_display_name=name), self.model, log_level=30)
        predictions = linker.inference.predict(threshold_match_probability=review_threshold, warning_mode="never")
        frame = predictions.as_spark_dataframe()
        wanted = ["uid_l", "uid_r", "match_probability", "match_weight"]
        wanted += [c for c in frame.columns if c.startswith(("gamma_", "mw_")) and not c.startswith("mw_tf_")]
        scored = frame.select(*wanted).toPandas()
        self.seconds["predict"] = time.perf_counter() - started
        return scored[within_case_definition(scored)].reset_index(drop=True)

    def close(self) -> None:
        """Closes the DuckDB side; the Spark session is shared (``getOrCreate``): stopping it is the caller's."""
        super().close()
