"""The item catalogue (事项实施清单): the province's implementation list, imported as a versioned code table.

The province exports its list as CSV (UTF-8 or GBK), XLSX or JSON; the columns are the national task tables'
(``up_task_general_basic`` / ``_extend``), by their Chinese titles or their column names (see ``COLUMNS``). Every
row is checked before anything is written; one bad row refuses the whole file, each bad row named with its reason.

The 实施编码 (31 characters) is read as the implementing body's 18-character USCC (valid check digit), the 行使层级
digit (GB/T 39046 A.2: 1 国家级 … 4 县级 … 7 分级管理) and the 12-character 基本编码 (research note §3.2: an
inferred layout, checked against real codes).

The table, ``schemas/codes/catalogue.csv``, keeps history as ``required_materials.csv`` does: a refresh as of a
day adds a row for each new item and each changed one (``valid_from`` = that day), closes the changed and withdrawn
items' rows (``valid_to`` = the day before; inclusive) and leaves unchanged ones alone. The bureau's own notes on
each item (licence produced, 2345 target, the names clerks type) stay in ``items.csv``; ``schemas.case.items()``
joins the two.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from schemas.identifiers import USCC_PATTERN, uscc_check_char

CODES_DIR = Path(__file__).resolve().parent / "codes"
CATALOGUE_PATH = CODES_DIR / "catalogue.csv"
#: The shipped export the table was built from: a sandbox transcription in the export's own shape.
SANDBOX_EXPORT = CODES_DIR / "exports" / "implementation_list.sandbox.csv"

#: Canonical column → the headers an export may give it (the Chinese title in the national DDL, its column name,
#: spellings seen in provincial exports), matched without case, spaces or brackets: data, so that a province's
#: own headers are a line in ``exports/catalogue_columns.csv``, not code.
_HEADERS = pd.read_csv(CODES_DIR / "exports" / "catalogue_columns.csv", dtype=str, keep_default_na=False)
COLUMNS: dict[str, tuple[str, ...]] = {
    row.column: tuple(row.headers.split("|")) for row in _HEADERS.itertuples() if row.required == "yes"
}
#: Optional: when given, it must agree with the 实施编码's level digit.
USE_LEVEL: tuple[str, ...] = tuple(_HEADERS.set_index("column").loc["use_level", "headers"].split("|"))
#: How reasons name each column: its first header (the Chinese title).
TITLE = {column: headers[0] for column, headers in COLUMNS.items()}
TABLE_COLUMNS = [*COLUMNS, "use_level", "valid_from", "valid_to", "source"]
CONTENT_COLUMNS = [c for c in TABLE_COLUMNS if c not in ("valid_from", "valid_to", "source")]

USE_LEVELS = {
    "1": "国家级",
    "2": "省级",
    "3": "市级",
    "4": "县级",
    "5": "镇(乡、街道)",
    "6": "村(社区)",
    "7": "分级管理",
}
#: 时限单位 as exports write them (numeric, letters, words) → canonical. 3 小时, 4 分钟, 5 月 are refused.
UNITS = {
    "1": "workday",
    "G": "workday",
    "工作日": "workday",
    "2": "natural_day",
    "Z": "natural_day",
    "自然日": "natural_day",
}
UNSUPPORTED_UNITS = {"3": "小时", "4": "分钟", "5": "月", "小时": "小时", "分钟": "分钟", "月": "月"}
CASE_TYPES = {"1": "immediate", "即办件": "immediate", "2": "promised", "承诺件": "promised"}
FLAGS = {"1": True, "是": True, "Y": True, "TRUE": True, "0": False, "否": False, "N": False, "FALSE": False}
CATALOG_CODE = re.compile(r"^[0-9A-Z]{12}$")
WHOLE_NUMBER = re.compile(r"^\d+(\.0+)?$")


class CatalogueError(ValueError):
    """The export cannot be imported; ``problems`` holds one line per bad row (or per file-level problem)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------- reading an export
def _key(header: object) -> str:
    return re.sub(r"[\s()（）_\-]", "", str(header)).lower()


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CatalogueError([f"{path.name}: neither UTF-8 nor GBK text; export it again as CSV (UTF-8 or GBK) or XLSX"])


def read_export(path: Path) -> tuple[pd.DataFrame, str]:
    """The export's rows as text (columns as the file names them) and how rows are named in reasons ("row" =
    the line or spreadsheet row, header = row 1; "record" = the JSON array's 1-based position). The frame's index
    is that number."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            text = _decode(path.read_bytes(), path)
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)
            frame.index = frame.index + 2
            return frame, "row"
        if suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(path, dtype=str, engine="openpyxl", keep_default_na=False)
            frame.index = frame.index + 2
            return frame, "row"
        if suffix == ".json":
            document = json.loads(_decode(path.read_bytes(), path))
            if isinstance(document, dict):
                lists = [v for v in document.values() if isinstance(v, list)]
                document = lists[0] if len(lists) == 1 else None
            if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
                raise CatalogueError([f"{path.name}: JSON must be an array of objects (or one object holding one)"])
            frame = pd.DataFrame(
                [{k: "" if v is None else str(v) for k, v in record.items()} for record in document], dtype=str
            ).fillna("")
            frame.index = frame.index + 1
            return frame, "record"
    except CatalogueError:
        raise
    except Exception as error:  # pandas', openpyxl's and json's errors for a broken file have no common base
        raise CatalogueError([f"{path.name}: cannot be read ({type(error).__name__}: {error})"]) from None
    raise CatalogueError([f"{path.name}: unknown file type {suffix or '(none)'}: CSV, XLSX or JSON"])


# ---------------------------------------------------------------- validating rows
def _columns(frame: pd.DataFrame, name: str) -> tuple[dict[str, str], list[str]]:
    by_key = {_key(c): c for c in frame.columns}
    found, problems = {}, []
    for canonical, headers in COLUMNS.items():
        match = next((by_key[_key(h)] for h in headers if _key(h) in by_key), None)
        if match is None:
            problems.append(f"{name}: column {headers[0]} ({headers[1]}) is missing")
        else:
            found[canonical] = match
    level = next((by_key[_key(h)] for h in USE_LEVEL if _key(h) in by_key), None)
    if level is not None:
        found["use_level"] = level
    return found, problems


def _row_problems(row: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """One row's canonical values and what is wrong with it (empty when it may be imported)."""
    problems: list[str] = []
    out: dict[str, object] = {}
    catalog = row["item_code"].upper()
    task = row["task_code"].upper()
    out["item_code"], out["task_code"] = catalog, task
    if not CATALOG_CODE.match(catalog):
        hint = (
            " (a spreadsheet may have stored it as a number and dropped its leading zeros: format the column as text)"
            if catalog.isdigit() and len(catalog) < 12
            else ""
        )
        problems.append(f"基本编码 {catalog!r} is not 12 letters or digits{hint}")
    if len(task) != 31:
        problems.append(
            f"实施编码 {task!r} has {len(task)} characters, 31 expected (USCC 18 + 行使层级 1 + 基本编码 12)"
        )
    else:
        body, level, tail = task[:18], task[18], task[19:]
        if not USCC_PATTERN.match(body):
            problems.append(f"实施编码 {task}: the implementing body's code {body} is not a 统一社会信用代码")
        elif uscc_check_char(body[:17]) != body[17]:
            problems.append(
                f"实施编码 {task}: the implementing body's USCC {body} fails its check digit "
                f"({body[17]} where {uscc_check_char(body[:17])} is due)"
            )
        if level not in USE_LEVELS:
            problems.append(f"实施编码 {task}: 行使层级 {level!r} is not 1–7 (GB/T 39046 A.2)")
        if CATALOG_CODE.match(catalog) and tail != catalog:
            problems.append(f"实施编码 {task} ends in {tail}, not in the row's 基本编码 {catalog}")
        body_code = row["implementing_body_uscc"].upper()
        if body_code != body:
            problems.append(f"实施主体编码 {body_code or '(blank)'} is not the USCC in the 实施编码 ({body})")
        out["use_level"] = level
        given = row.get("use_level", "").strip()
        if given and given != level:
            problems.append(f"行使层级 {given!r} disagrees with the 实施编码's level digit {level!r}")
    out["implementing_body_uscc"] = row["implementing_body_uscc"].upper()
    for column in ("item_name", "implementing_body_name"):
        out[column] = row[column].strip()
        if not out[column]:
            problems.append(f"{TITLE[column]} is blank")
    version = row["task_version"].strip()
    if WHOLE_NUMBER.match(version) and int(float(version)) > 0:
        out["task_version"] = int(float(version))
    else:
        problems.append(f"事项版本 {version or '(blank)'} is not a whole number from 1")
    for limit, unit in (("promised_days", "promised_unit"), ("statutory_days", "statutory_unit")):
        title = TITLE[limit]
        days = row[limit].strip()
        if WHOLE_NUMBER.match(days):
            out[limit] = int(float(days))
        else:
            problems.append(f"{title} {days or '(blank)'} is not a whole number")
        code = row[unit].strip().upper()
        if code in UNITS:
            out[unit] = UNITS[code]
        elif not code:
            problems.append(f"{title}单位 is missing (1 工作日 or 2 自然日)")
        elif code in UNSUPPORTED_UNITS:
            problems.append(f"{title}单位 {code} ({UNSUPPORTED_UNITS[code]}) is not supported: 1 工作日 or 2 自然日")
        else:
            problems.append(f"{title}单位 {code!r} is not a unit: 1 工作日 or 2 自然日")
    kind = row["case_type"].strip()
    if kind in CASE_TYPES:
        out["case_type"] = CASE_TYPES[kind]
    else:
        problems.append(f"办件类型 {kind or '(blank)'!r} is not 1 即办件 or 2 承诺件")
    for flag in ("online", "express"):
        title = TITLE[flag]
        value = row[flag].strip().upper()
        if value in FLAGS:
            out[flag] = FLAGS[value]
        else:
            problems.append(f"{title} {value or '(blank)'!r} is not 1/是 or 0/否")
    return out, problems


def validate_export(frame: pd.DataFrame, name: str, unit: str = "row") -> pd.DataFrame:
    """The export's rows as canonical catalogue rows; :class:`CatalogueError` with one line per bad row."""
    columns, problems = _columns(frame, name)
    if problems:
        raise CatalogueError(problems)
    rows, seen = [], {}
    for number, record in zip(frame.index, frame.to_dict("records"), strict=True):
        values = {canonical: str(record[header]).strip() for canonical, header in columns.items()}
        if not any(values.values()):
            continue  # a blank line at the end of a spreadsheet
        row, row_problems = _row_problems(values)
        code = row["item_code"]
        if code in seen and CATALOG_CODE.match(code):
            row_problems.append(
                f"基本编码 {code} is already in {unit} {seen[code]}: the bridge keeps one implementation per item"
            )
        seen.setdefault(code, number)
        problems.extend(f"{name}, {unit} {number}: {p}" for p in row_problems)
        rows.append(row)
    if problems:
        raise CatalogueError(problems)
    if not rows:
        raise CatalogueError([f"{name}: no rows"])
    table = pd.DataFrame(rows)
    return table[CONTENT_COLUMNS].sort_values("item_code").reset_index(drop=True)


# ---------------------------------------------------------------- the versioned table
def read_table(path: Path = CATALOGUE_PATH) -> pd.DataFrame:
    """Every row of the code table, all versions, as stored (text; ``valid_to`` blank = open)."""
    if not path.exists():
        return pd.DataFrame(columns=TABLE_COLUMNS, dtype=str)
    return pd.read_csv(path, dtype=str, keep_default_na=False)[TABLE_COLUMNS]


def _as_text(rows: pd.DataFrame) -> pd.DataFrame:
    text = rows.copy()
    for flag in ("online", "express"):
        text[flag] = text[flag].map({True: "1", False: "0", "1": "1", "0": "0"})
    for column in ("task_version", "promised_days", "statutory_days"):
        text[column] = text[column].astype(int).astype(str)
    return text.astype(str)


@dataclass
class Refresh:
    """What a refresh did: the new table and the item codes added, changed (with what changed) and withdrawn."""

    table: pd.DataFrame
    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    withdrawn: list[str] = field(default_factory=list)
    unchanged: int = 0

    def summary(self, names: dict[str, str]) -> list[str]:
        lines = [f"added      {code} {names.get(code, '')}" for code in self.added]
        lines += [f"changed    {code} {names.get(code, '')}: {', '.join(what)}" for code, what in self.changed.items()]
        lines += [f"withdrawn  {code} {names.get(code, '')}" for code in self.withdrawn]
        lines.append(
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.withdrawn)} withdrawn, "
            f"{self.unchanged} unchanged"
        )
        return lines


def refresh(table: pd.DataFrame, rows: pd.DataFrame, as_of: dt.date, source: str) -> Refresh:
    """The table after importing ``rows`` (a whole export) as of ``as_of``: new and changed items get a row from
    that day, changed and withdrawn items' open rows close the day before; history is kept. Re-importing on the
    day a row starts corrects that row in place."""
    table = table.copy()
    new = _as_text(rows[CONTENT_COLUMNS]).set_index("item_code")
    open_rows = table[table["valid_to"] == ""]
    latest = max(table["valid_from"], default="")
    if latest and as_of.isoformat() < latest:
        raise CatalogueError([f"--as-of {as_of} is before the table's latest version ({latest}): history only grows"])
    day, day_before = as_of.isoformat(), (as_of - dt.timedelta(days=1)).isoformat()
    result = Refresh(table)
    current = open_rows.set_index("item_code")
    additions = []
    for code, row in new.iterrows():
        if code not in current.index:
            result.added.append(code)
        else:
            old = current.loc[code]
            differs = [c for c in CONTENT_COLUMNS if c != "item_code" and str(old[c]) != str(row[c])]
            if not differs:
                result.unchanged += 1
                continue
            result.changed[code] = [f"{c} {old[c]} → {row[c]}" for c in differs]
        additions.append({"item_code": code, **row.to_dict(), "valid_from": day, "valid_to": "", "source": source})
    withdrawn = sorted(set(current.index) - set(new.index))
    result.withdrawn = withdrawn
    closing = table["valid_to"].eq("") & table["item_code"].isin([*result.changed, *withdrawn])
    same_day = closing & table["valid_from"].eq(day)
    table.loc[closing & ~same_day, "valid_to"] = day_before
    table = table[~(same_day & table["item_code"].isin(list(result.changed)))]
    table = table[~(same_day & table["item_code"].isin(withdrawn))]
    table = pd.concat([table, pd.DataFrame(additions, columns=TABLE_COLUMNS)], ignore_index=True)
    result.table = table.sort_values(["item_code", "valid_from"], kind="stable").reset_index(drop=True)[TABLE_COLUMNS]
    return result


def import_export(
    path: Path, as_of: dt.date, table_path: Path = CATALOGUE_PATH, write: bool = True
) -> tuple[Refresh, pd.DataFrame]:
    """Validate the whole export, then (``write``) store the new version of the table. Returns the refresh and the
    imported rows. Nothing is written when any row is bad (:class:`CatalogueError`)."""
    frame, unit = read_export(path)
    rows = validate_export(frame, path.name, unit)
    result = refresh(read_table(table_path), rows, as_of, path.name)
    if write:
        result.table.to_csv(table_path, index=False, lineterminator="\n")
        catalogue_history.cache_clear()
    return result, rows


# ---------------------------------------------------------------- reading the table
@cache
def catalogue_history(path: Path = CATALOGUE_PATH) -> pd.DataFrame:
    """Every version of every item, typed: dates as ``datetime64`` (``valid_to`` NaT = open), limits and version as
    integers, flags as booleans."""
    table = read_table(path)
    typed = table.assign(
        task_version=table["task_version"].astype(int),
        promised_days=table["promised_days"].astype(int),
        statutory_days=table["statutory_days"].astype(int),
        online=table["online"].eq("1"),
        express=table["express"].eq("1"),
        valid_from=pd.to_datetime(table["valid_from"], format="%Y-%m-%d"),
        valid_to=pd.to_datetime(table["valid_to"].replace("", None), format="%Y-%m-%d"),
    )
    return typed


def catalogue(on: dt.date | None = None, path: Path = CATALOGUE_PATH) -> pd.DataFrame:
    """One row per item: the version in force on ``on``; without a day, each item's open (latest) row."""
    history = catalogue_history(path)
    if on is None:
        rows = history[history["valid_to"].isna()]
    else:
        day = pd.Timestamp(on)
        rows = history[(history["valid_from"] <= day) & (history["valid_to"].isna() | (day <= history["valid_to"]))]
    return rows.sort_values("item_code").reset_index(drop=True)


def versions_for(item_codes: pd.Series, days: pd.Series, path: Path = CATALOGUE_PATH) -> pd.DataFrame:
    """Per case (vectorised): the catalogue row of its item in force on its day (acceptance, say), indexed like
    ``item_codes``. A day before the item's first version, or no day, takes the item's open row; an item the
    catalogue lacks gives NA."""
    history = catalogue_history(path)
    cases = pd.DataFrame(
        {"item_code": item_codes.astype("string").to_numpy(), "day": pd.to_datetime(days).dt.normalize().to_numpy()}
    ).reset_index(names="_row")
    merged = cases.merge(history, on="item_code", how="left")
    in_force = (merged["valid_from"] <= merged["day"]) & (
        merged["valid_to"].isna() | (merged["day"] <= merged["valid_to"])
    )
    fallback = merged["valid_to"].isna()
    merged["_rank"] = (~in_force).astype(int) * 2 + (~fallback).astype(int)
    best = merged.sort_values(["_row", "_rank"], kind="stable").drop_duplicates("_row").set_index("_row")
    best = best.sort_index().drop(columns=["day", "_rank"])
    best.index = item_codes.index
    return best
