"""Files clerks open in Excel: a cell that starts like a formula is written as text, never run.

Spreadsheet programs evaluate a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, through some import
paths, a tab or carriage return) as a formula: a name or case number crafted as ``=HYPERLINK(…)`` would run on
the clerk's machine. Such cells get a leading apostrophe, as OWASP recommends for CSV exports.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = r"^[=+\-@\t\r]"


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be taken for formulas (numbers and booleans are left alone)."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = values.astype("string")
            risky = text.str.contains(FORMULA_START, regex=True, na=False)
            if risky.any():
                safe[column] = values.where(~risky.to_numpy(), "'" + text)
    return safe
