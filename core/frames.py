"""Column operations pandas 3 makes slow for Arrow-backed strings, done by Arrow itself.

pandas 3 keeps text in Arrow (``str``); its ``isin`` on such a column still builds a Python ``pa.scalar`` for
every value looked for before asking Arrow (``ArrowStringArray.isin``): 0.3 s to look 5,000 ids up among
50,000, where ``pyarrow.compute.is_in`` on the same arrays takes 2 ms. The resolution asks this of a day's links
among its window's records, the numbering of a day's cases among the window's, the delivery of a batch among
the rows already written (``benchmarks/year.py`` found it in the load's hottest steps).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray


def _arrow_strings(values) -> pa.Array | None:
    """``values`` as Arrow strings, or None when they are not all text (pandas' own rules then apply)."""
    array = getattr(values, "array", values)
    if isinstance(array, ArrowStringArray):
        return array._pa_array.combine_chunks() if len(array) else None
    if not isinstance(values, (np.ndarray, pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        values = list(values)
    try:
        converted = pa.array(np.asarray(values, dtype=object), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    if converted.type not in (pa.string(), pa.large_string()):
        return None
    return converted


def isin(column: pd.Series | pd.Index, values: Iterable) -> pd.Series | np.ndarray:
    """``column.isin(values)``: the same answer (a Series on the column's index, or an array for an Index),
    asked of Arrow when the column is Arrow-backed text and ``values`` are text (a missing value matches a missing
    one, as in pandas); otherwise pandas' own ``isin``."""
    array = None if isinstance(column, pd.MultiIndex) else column.array
    if isinstance(array, ArrowStringArray) and not isinstance(values, (str, bytes)):
        wanted = _arrow_strings(values)
        if wanted is not None:
            own = array._pa_array
            found = pc.is_in(own, value_set=wanted.cast(own.type)).to_numpy(zero_copy_only=False)
            found = np.asarray(found, dtype=np.bool_)
            if isinstance(column, pd.Index):
                return found
            return pd.Series(found, index=column.index, name=column.name)
    return column.isin(values)
