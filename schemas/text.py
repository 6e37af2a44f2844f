"""Vectorised text operations on Arrow: NFKC and regex work that pandas' string accessor does row by row.

pandas falls back to a Python loop for ``str.normalize`` and for regex replacements with back-references;
pyarrow.compute runs them in C++ (RE2 syntax) over the whole column.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pd.StringDtype("pyarrow")


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    return pa.array(values.astype(TEXT).array)


def _series(array, index: pd.Index) -> pd.Series:
    return pd.Series(
        pd.arrays.ArrowStringArray(pa.chunked_array([array]) if isinstance(array, pa.Array) else array), index=index
    )


def nfkc(values: pd.Series) -> pd.Series:
    """Compatibility normalisation: full-width letters, digits and brackets become their ASCII forms."""
    return _series(pc.utf8_normalize(_arrow(values), "NFKC"), values.index)


def sub(values: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """Regex replace (RE2); ``\\1`` in the replacement refers to a group."""
    return _series(pc.replace_substring_regex(_arrow(values), pattern, replacement), values.index)


def extract(values: pd.Series, pattern: str) -> pd.DataFrame:
    """Named groups of the first match as columns (all missing where the pattern does not match)."""
    result = pc.extract_regex(_arrow(values), pattern)
    if isinstance(result, pa.ChunkedArray):
        result = result.combine_chunks()
    return pd.DataFrame({name: _series(result.field(name), values.index) for name in result.type.names})


def per_distinct(values: pd.Series, compute) -> pd.Series:
    """``compute`` (distinct values as a Series → as many results) run once per distinct value and spread back:
    item names, catalogue codes and personal names repeat across a million records. Missing stays missing."""
    position, distinct = pd.factorize(values)
    found = pd.array(list(compute(pd.Series(distinct, dtype=TEXT))), dtype=TEXT)
    return pd.Series(found.take(position, allow_fill=True), index=values.index, dtype=TEXT)


def mapped(values: pd.Series, mapping: dict) -> pd.Series:
    """``values`` looked up in ``mapping`` once per distinct value (missing where absent)."""
    return per_distinct(values, lambda distinct: [mapping.get(v) for v in distinct])
