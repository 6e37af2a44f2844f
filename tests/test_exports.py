"""CSV exports: ``write_csv`` writes the bytes pandas' writer would, formula-like text made safe, on every kind
of column, and falls back to pandas where a cell or heading needs quotes."""

import numpy as np
import pandas as pd
import pytest

from core.exports import spreadsheet_safe, write_csv

pytestmark = pytest.mark.unit

TEXT = pd.StringDtype("pyarrow", na_value=float("nan"))


def pandas_bytes(frame: pd.DataFrame, tmp_path) -> bytes:
    path = tmp_path / "pandas.csv"
    spreadsheet_safe(frame).to_csv(path, index=False, encoding="utf-8")
    return path.read_bytes()


def written(frame: pd.DataFrame, tmp_path) -> bytes:
    path = tmp_path / "ours.csv"
    write_csv(frame, path)
    return path.read_bytes()


def frames() -> dict[str, pd.DataFrame]:
    text = ["market_regulation", "=1+1", "-3", "@SUM(A1)", "\t税务", "常州市武进区", None, ""]
    n = len(text)
    return {
        "every kind": pd.DataFrame(
            {
                "source_system": pd.Series(text, dtype=TEXT),
                "object_text": pd.Series([None if v is None else f"G{v}" for v in text], dtype=object).where(
                    lambda s: s.index != 3, "+86 138"
                ),
                "probability": [1.0, 0.999999, np.nan, 1e-07, 0.5, 123456789.125, 0.1 + 0.2, 2.0],
                "in_review": [True, False] * (n // 2),
                "count": np.arange(n, dtype=np.int64) - 3,
            }
        ),
        "no rows": pd.DataFrame({"a": pd.Series([], dtype=TEXT), "b": pd.Series([], dtype=float)}),
        "a comma in a cell": pd.DataFrame({"a": ["甲,乙", "x"], "b": [1.0, 2.0]}),
        "a quote in a cell": pd.DataFrame({"a": ['他说"好"', "x"], "b": [1, 2]}),
        "a line break in a cell": pd.DataFrame({"a": ["一\n二", "x"], "b": [True, False]}),
        "a comma in a heading": pd.DataFrame({"a,b": ["x", "y"], "c": ["1", "2"]}),
        "numbers among text": pd.DataFrame({"a": pd.Series(["=1", 2, None], dtype=object), "b": [1.0, 2.0, 3.0]}),
        "one column": pd.DataFrame({"a": ["", "x"]}),
        "pd.NA in text": pd.DataFrame({"a": pd.Series(["x", pd.NA, "-y"], dtype=object), "b": [0.25, np.nan, 1.0]}),
    }


#: Frames Arrow writes itself: no cell or heading needs quotes, every column text, numbers or booleans.
THROUGH_ARROW = ("every kind", "no rows", "pd.NA in text")


@pytest.mark.parametrize("name", list(frames()))
def test_write_csv_writes_what_pandas_writes(name, tmp_path, monkeypatch):
    frame = frames()[name]
    expected = pandas_bytes(frame, tmp_path)
    if name in THROUGH_ARROW:  # pandas' writer is not what wrote these

        def refused(_):
            raise AssertionError("written by pandas")

        monkeypatch.setattr("core.exports.spreadsheet_safe", refused)
    assert written(frame, tmp_path) == expected


def test_formula_like_text_is_written_as_text(tmp_path):
    frame = pd.DataFrame({"name": pd.Series(["=cmd|' /C calc'!A0", "常州恒达", "-3"], dtype=TEXT), "n": [-3, 0, 1]})
    lines = written(frame, tmp_path).decode("utf-8").splitlines()
    assert lines == ["name,n", "'=cmd|' /C calc'!A0,-3", "常州恒达,0", "'-3,1"]  # the number -3 stays a number
