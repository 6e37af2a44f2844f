"""Files clerks open in Excel: a cell that starts like a formula is written as text, never run.

Spreadsheet programs evaluate a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, through some import
paths, a tab or carriage return) as a formula: a name or case number crafted as ``=HYPERLINK(…)`` would run on
the clerk's machine. Such cells get a leading apostrophe, as OWASP recommends for CSV exports.
:func:`write_workbook` writes every XLSX the bridge hands out (the key-project report, the correction lists) in
one shape.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA_START = r"^[=+\-@\t\r]"
#: A cell with one of these is quoted in a CSV (``csv.QUOTE_MINIMAL``, pandas' default).
NEEDS_QUOTES = r'[,"\r\n]'


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be taken for formulas. Only text is touched: a number (``-3``)
    or a boolean stays what it is, even in a column of mixed values."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = values.astype("string")
            # A text column holds only text (and blanks); an object column may mix in numbers, asked cell by cell.
            is_text = values.notna() if isinstance(values.dtype, pd.StringDtype) else _is_text(values)
            risky = text.str.contains(FORMULA_START, regex=True, na=False) & is_text
            if risky.any():
                safe[column] = values.where(~risky.to_numpy(), "'" + text)
    return safe


def _is_text(values: pd.Series) -> pd.Series:
    return values.map(lambda v: isinstance(v, str)).astype(bool)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as a UTF-8 CSV without its index, formula-like text made safe: the bytes of
    ``spreadsheet_safe(frame).to_csv(path, index=False)``, written through Arrow when every column is text,
    whole numbers, floats or booleans and no cell or heading needs quotes (the dedup output's million rows in a
    fraction of a second, where pandas' writer takes seconds); by pandas' writer otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as arrow_csv

    headings = [str(name) for name in frame.columns]
    # A row of one blank cell is quoted (""), else it would be an empty line: one column goes to pandas.
    cells = [_csv_cells(frame[name]) for name in frame.columns] if len(headings) > 1 else [None]
    if (
        any(c is None for c in cells)
        or any(re.search(NEEDS_QUOTES, h) for h in headings)
        or any(pc.any(pc.match_substring_regex(c, NEEDS_QUOTES)).as_py() for c in cells)
    ):
        spreadsheet_safe(frame).to_csv(path, index=False, encoding="utf-8")
        return
    with open(path, "wb") as out:
        out.write((",".join(headings) + "\n").encode("utf-8"))
        if len(frame):
            options = arrow_csv.WriteOptions(include_header=False, quoting_style="none")
            arrow_csv.write_csv(pa.table(cells, names=headings), out, write_options=options)


def _csv_cells(values: pd.Series):
    """A column's cells as pandas' CSV writer renders them (blank for a missing value), formula-like text made
    safe, as Arrow strings; None for another kind of column (or an object column holding anything but text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.dtype == bool:
        return pa.array(np.where(values.to_numpy(), "True", "False"), type=pa.string())
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        return pa.array(values.to_numpy().astype(str), type=pa.string())
    if values.dtype == np.float64:
        # Once per distinct value, as pandas renders them (numpy's shortest repr: 1.0, 0.999999, 1e-07).
        numbers = values.to_numpy()
        present = ~np.isnan(numbers)
        distinct, where = np.unique(numbers[present], return_inverse=True)
        rows = np.full(len(numbers), -1, dtype=np.int64)
        rows[present] = where
        rendered = pa.array(distinct.astype(str), type=pa.string())
        return pc.fill_null(rendered.take(pa.array(rows, mask=~present)), "")
    if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
        try:
            text = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column holding numbers or dates beside text
            return None
        risky = pc.fill_null(pc.match_substring_regex(text, FORMULA_START), False)
        return pc.fill_null(pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text), "")
    return None


def write_workbook(path: Path, sheets: dict[str, tuple[pd.DataFrame, dict[str, str]]]) -> dict[str, int]:
    """An XLSX of one sheet per entry of ``sheets`` (name → rows, and each column's heading in column order): a
    styled header row that stays in view, columns as wide as what they hold, and text cells that would start a
    formula written as text. Returns the rows written per sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    header = PatternFill("solid", fgColor="1F4E78")
    counts = {}
    for name, (frame, headings) in sheets.items():
        frame = frame[list(headings)]
        sheet = book.create_sheet(name)
        sheet.append([headings[c] for c in frame.columns])
        safe = spreadsheet_safe(frame)  # on the frame's own types: numbers stay numbers
        safe = safe.astype(object).where(safe.notna(), None)
        for row in safe.itertuples(index=False):
            sheet.append([None if v is pd.NA else v for v in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = header
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for index, column in enumerate(frame.columns, start=1):
            widest = max([len(str(headings[column])) * 2, *(len(str(v)) for v in frame[column].dropna())], default=8)
            sheet.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, 8), 48)
        sheet.freeze_panes = "A2"
        counts[name] = len(frame)
    book.save(path)  # the caller checks the folder: a report is never written somewhere nobody asked for
    return counts
