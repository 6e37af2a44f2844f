"""core.frames.isin gives pandas' own answer, Arrow-backed or not, whatever it is asked to look for."""

import numpy as np
import pandas as pd
import pytest

from core.frames import isin

pytestmark = pytest.mark.unit

COLUMN = pd.Series(["甲", "b", None, "c", "b", "320412"], index=[10, 11, 12, 13, 14, 15], name="id")
ASKED = [
    ["b", "x"],
    {"c", "甲"},
    pd.Series(["b", None]),
    pd.Series(["c", np.nan], dtype=object),
    np.array(["320412"], dtype=object),
    pd.Index(["b"]),
    [],
    [None],
    [1, "b"],
    [320412],
    pd.Series([], dtype="str"),
    pd.Series(["b", "c"], dtype="str").iloc[1:],
]


@pytest.mark.parametrize("values", ASKED, ids=range(len(ASKED)))
@pytest.mark.parametrize("dtype", ["str", object])
def test_the_same_answer_as_pandas(values, dtype):
    column = COLUMN.astype(dtype)
    pd.testing.assert_series_equal(isin(column, values), column.isin(values))


def test_arrow_text_never_takes_pandas_slow_path(monkeypatch):
    def slow(self, values):
        raise AssertionError("pandas' ArrowStringArray.isin: a pa.scalar per value looked for")

    monkeypatch.setattr(pd.arrays.ArrowStringArray, "isin", slow)
    got = isin(COLUMN, pd.Series(["b", "c", "x"]))
    assert got.tolist() == [False, True, False, True, True, False]


def test_a_generator_is_read_once():
    pd.testing.assert_series_equal(isin(COLUMN, (v for v in ["c", "b"])), COLUMN.isin(["c", "b"]))


def test_an_index_gets_an_array():
    index = pd.Index(["a", "b", None], dtype="str")
    np.testing.assert_array_equal(isin(index, ["b", None]), index.isin(["b", None]))


def test_a_multiindex_is_pandas_own_business():
    index = pd.MultiIndex.from_tuples([("a", "1"), ("b", "2")])
    np.testing.assert_array_equal(isin(index, [("b", "2")]), [False, True])


def test_many_values_on_several_chunks():
    column = pd.concat([pd.Series([f"G{i}" for i in range(0, 3000, 3)]), pd.Series([f"G{i}" for i in range(1, 90)])])
    values = pd.concat([pd.Series([f"G{i}" for i in range(0, 1500)]), pd.Series(["G2999", "G88"])])
    pd.testing.assert_series_equal(isin(column, values), column.isin(values))
    assert isin(column, values).sum() == 500 + 89  # G0 … G1497 by threes, and G1 … G89
