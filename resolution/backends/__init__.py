"""Where candidate pairs are scored: one interface, a backend per engine, chosen by name.

A :class:`Backend` takes the prepared features of one run (``features.prepare``), materialises them, returns the
node attributes the constraints read, and scores candidate pairs with a trained model. The model's SQL is
written once, in DuckDB's dialect (``model.MODEL_DIALECT``); a backend on another engine translates it with
sqlglot (``backends/sql.py``). What happens to the scored pairs (the case definition, constraints, a reviewer's
decisions, clustering) is the engine's and the same on every backend (``engine.py``).

- ``duckdb`` (:class:`backends.duckdb.DuckDBBackend`): one machine, the default.
- ``spark`` (:class:`backends.spark.SparkBackend`): Splink's Spark backend, beyond one machine (pyspark, Java 17+).

``BRIDGE_RESOLUTION_BACKEND`` names the backend; the ``dedup`` command's ``--backend`` overrides it. Backends
import the model, never the other way round; this package imports its backends only when one is asked for, so
pyspark stays optional.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

import pandas as pd

BACKENDS = ("duckdb", "spark")


class Backend(ABC):
    """One resolution run's features and scoring on one engine."""

    #: The backend's name (``BRIDGE_RESOLUTION_BACKEND``) and the sqlglot dialect its SQL is written in.
    name: ClassVar[str]
    dialect: ClassVar[str]

    @abstractmethod
    def load(self, prepared: pd.DataFrame) -> pd.DataFrame:
        """Materialise the prepared features (learned item classes and package days added); return the node
        attributes the constraints read, one row per record in ``uid`` order."""

    @abstractmethod
    def score(self, model: dict, review_threshold: float) -> pd.DataFrame:
        """Candidate pairs with probability ≥ ``review_threshold`` under the trained ``model`` (in the model's
        dialect): :func:`score_columns` of Splink's predictions, as numbers."""

    def close(self) -> None:  # noqa: B027 - a backend holding nothing closes nothing
        """Release what the run holds (a shared session stays open: it is the caller's)."""


def score_columns(names: Iterable[str]) -> list[str]:
    """Only numbers leave the backend: pair ids, probability, weight, and per field its level and match weight."""
    names = list(names)
    wanted = ["uid_l", "uid_r", "match_probability", "match_weight"]
    return wanted + [n for n in names if n.startswith(("gamma_", "mw_")) and not n.startswith("mw_tf_")]


def backend_named(name: str | None = None) -> Backend:
    """The backend called ``name``, else ``BRIDGE_RESOLUTION_BACKEND``, else DuckDB."""
    name = name or os.environ.get("BRIDGE_RESOLUTION_BACKEND") or "duckdb"
    if name == "duckdb":
        from resolution.backends.duckdb import DuckDBBackend

        return DuckDBBackend()
    if name == "spark":
        from resolution.backends.spark import SparkBackend

        return SparkBackend()
    raise ValueError(f"unknown resolution backend {name!r}; use one of {', '.join(BACKENDS)}")
