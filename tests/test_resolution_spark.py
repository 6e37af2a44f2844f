"""The same model on Splink's Spark backend (local mode, loopback only) finds the same cases as on DuckDB."""

import datetime as dt
import shutil

import pytest

from resolution.engine import make_engine
from sandbox.canonical import canonical_cases
from sandbox.generator import GeneratorConfig, generate

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime (java not on PATH)")


def _clusters(result, keys) -> set[frozenset[str]]:
    labels = keys.assign(cluster=result.cluster)
    return {frozenset(g["source_record_id"]) for _, g in labels.groupby("cluster")}


def test_spark_backend_agrees_with_duckdb():
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


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown resolution backend"):
        make_engine(backend="oracle")
