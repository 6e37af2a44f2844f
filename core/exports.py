"""Files clerks open in Excel: a cell that starts like a formula is written as text, never run.

Spreadsheet programs evaluate a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, through some import
paths, a tab or carriage return) as a formula: a name or case number crafted as ``=HYPERLINK(…)`` would run on
the clerk's machine. Such cells get a leading apostrophe, as OWASP recommends for CSV exports.
:func:`write_workbook` writes every XLSX the bridge hands out (the key-project report, the correction lists) in
one shape.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_START = r"^[=+\-@\t\r]"


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be taken for formulas. Only text is touched: a number (``-3``)
    or a boolean stays what it is, even in a column of mixed values."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = values.astype("string")
            is_text = values.map(lambda v: isinstance(v, str)).astype(bool)  # a report's rows: not a hot path
            risky = text.str.contains(FORMULA_START, regex=True, na=False) & is_text
            if risky.any():
                safe[column] = values.where(~risky.to_numpy(), "'" + text)
    return safe


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
