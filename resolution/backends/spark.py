"""The Spark backend: Splink's Spark backend, the path beyond one machine.

The trained model is the same file; its comparison and blocking SQL, written in DuckDB's dialect, is translated
to Spark SQL by sqlglot (``backends/sql.py``). Features are prepared as on DuckDB (the learned item classes and
package days are SQL over the whole run) and handed to Spark as a DataFrame; scoring, the costly part, runs on
the Spark cluster (``local[*]`` unless a session is given).
"""

from __future__ import annotations

import os
import tempfile
import uuid

import pandas as pd

from resolution.backends import Backend, score_columns
from resolution.backends.duckdb import DuckDBBackend
from resolution.backends.sql import model_in
from resolution.model import for_scoring


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


class SparkBackend(Backend):
    name = "spark"
    dialect = "spark"

    def __init__(self, session=None) -> None:
        self.prepared = DuckDBBackend()  # where the features are finished, learned item classes included
        self.spark = session or spark_session()

    def load(self, prepared: pd.DataFrame) -> pd.DataFrame:
        nodes = self.prepared.load(prepared)
        features = self.prepared.features()
        self.frame = self.spark.createDataFrame(features.astype(object).where(features.notna(), None))
        return nodes

    def score(self, model: dict, review_threshold: float) -> pd.DataFrame:
        from splink import Linker
        from splink.backends.spark import SparkAPI

        db_api = SparkAPI(spark_session=self.spark)
        name = f"cases_{uuid.uuid4().hex[:8]}"  # the session is shared: each run registers its own table
        table = db_api.register(self.frame, dataset_display_name=name)
        linker = Linker(table, model_in(for_scoring(model), self.dialect), log_level=30)
        predictions = linker.inference.predict(threshold_match_probability=review_threshold, warning_mode="never")
        frame = predictions.as_spark_dataframe()
        return frame.select(*score_columns(frame.columns)).toPandas()

    def close(self) -> None:
        """Closes the DuckDB side; the Spark session is shared (``getOrCreate``): stopping it is the caller's."""
        self.prepared.close()
