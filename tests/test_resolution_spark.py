"""The same model on Splink's Spark backend (local mode, loopback only) finds the same cases as on DuckDB.

Spark needs a Java runtime: without one the Spark test skips, saying so, unless ``BRIDGE_REQUIRE_SERVICES=1``
(CI, where ``.ci/run`` installs Debian's ``default-jre-headless``), in which case it fails.
"""

import datetime as dt
import importlib.util
import os
import shutil

import pytest

from resolution.backends.sql import translate
from resolution.engine import make_engine
from resolution.model import LEVELS, pair_sql
from sandbox.canonical import canonical_cases
from sandbox.generator import GeneratorConfig, generate


@pytest.fixture(scope="module")
def java() -> str:
    """The ``java`` Spark runs on (and pyspark to drive it)."""
    missing = None
    if shutil.which("java") is None:
        missing = "Spark needs a Java runtime (java not on PATH; Debian package `default-jre-headless`)"
    elif importlib.util.find_spec("pyspark") is None:
        missing = "Spark needs pyspark (the `spark` extra)"
    if missing:
        if os.environ.get("BRIDGE_REQUIRE_SERVICES") == "1":
            pytest.fail(missing + " but BRIDGE_REQUIRE_SERVICES=1")
        pytest.skip(missing)
    return shutil.which("java")


def _clusters(result, keys) -> set[frozenset[str]]:
    labels = keys.assign(cluster=result.cluster)
    return {frozenset(g["source_record_id"]) for _, g in labels.groupby("cluster")}


@pytest.mark.spark
def test_spark_backend_agrees_with_duckdb(java):
    cases = canonical_cases(generate(GeneratorConfig(start=dt.date(2026, 3, 2), days=3, cases_per_day=40, seed=3)))
    found = {}
    for backend in ("duckdb", "spark"):
        engine = make_engine(backend=backend)
        try:
            engine.load(cases)
            found[backend] = (engine.resolve(), engine.keys.copy())
        finally:
            engine.close()
    duck, spark = (_clusters(*found[b]) for b in ("duckdb", "spark"))
    assert duck == spark
    assert len(found["spark"][0].links) == len(found["duckdb"][0].links) > 50
    truth = cases.groupby("true_case_id")["source_record_id"].apply(frozenset)
    assert set(truth) == spark  # and both are right on this sample


def test_the_model_sql_is_translated_by_sqlglot_not_by_text():
    """DuckDB's list functions that sqlglot reads as unknown (or as a string's length) come out as Spark's."""
    sound = translate(pair_sql(LEVELS["name_sound"], "level"), "spark")
    assert "FORALL(ZIP_WITH(" in sound and "LIST_" not in sound and "LENGTH(" not in sound
    assert "SIZE(ARRAY_INTERSECT(SPLIT(p_1, " in sound
    close = translate(pair_sql(LEVELS["address_close"], "level"), "spark")
    assert "SPLIT(address_norm_l, '')" in close and "\\Q" not in close  # one element per character, none trailing
    same = pair_sql(LEVELS["id_same_valid"], "level")
    assert translate(same, "duckdb") is same  # the model's own dialect is left as written


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown resolution backend"):
        make_engine(backend="oracle")
