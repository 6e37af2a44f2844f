"""Clients of department systems, one kind per system kind, configured per department.

Every source answers ``fetch_changes(since, until)`` with the records changed in ``[since, until)``
exactly as the source wrote them; mapping onto the canonical case happens in staging, not here.
Times are naive Asia/Shanghai wall-clock, as department systems record them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
import sqlglot
import sqlglot.errors
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.http import call_with_retries, make_client, signed_send
from core import clock


@dataclass(frozen=True)
class RawRecord:
    record_key: str  # the source's own id; file#line when the source gave none
    changed_at: str | None
    payload: dict[str, Any]


@dataclass
class SourceBatch:
    records: list[RawRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a person should know about this pull
    complete: bool = True  # False when paging stopped early (page limit, a repeating cursor): re-pull the day

    @property
    def cursor(self) -> str | None:
        """The highest change time seen: where an incremental pull would resume."""
        return max((r.changed_at for r in self.records if r.changed_at), default=None)


class DepartmentSource(BaseModel, ABC):
    """A department system the bridge pulls cases from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def fetch_changes(self, since: dt.datetime, until: dt.datetime) -> SourceBatch: ...


def _dig(document: Any, dotted: str) -> Any:
    for part in dotted.split(".") if dotted else []:
        document = document.get(part) if isinstance(document, dict) else None
    return document


class SourceError(Exception):
    """A source answered, but with a business-level error code."""


class Paginator(ABC):
    """Which page to ask for next, from what the last page said (after dlt's paginators)."""

    stuck = False  # the source sent a position it had sent before: paging would never end

    @abstractmethod
    def params(self) -> dict[str, str]: ...

    @abstractmethod
    def advance(self, document: Any, rows: list) -> bool:
        """Move past ``document``'s page; False when it was the last."""


class PageNumberPaginator(Paginator):
    """``pageNo=1, 2, …`` until a page comes back empty or the rows seen reach the reported total."""

    def __init__(self, page_param: str, total_path: str) -> None:
        self.page_param, self.total_path = page_param, total_path
        self.page, self.seen = 1, 0

    def params(self) -> dict[str, str]:
        return {self.page_param: str(self.page)}

    def advance(self, document: Any, rows: list) -> bool:
        self.seen += len(rows)
        total = int(_dig(document, self.total_path) or 0)
        self.page += 1
        return bool(rows) and self.seen < total


class CursorPaginator(Paginator):
    """The source hands back an opaque next cursor; none (or an empty page) ends the listing."""

    def __init__(self, cursor_param: str, next_cursor_path: str) -> None:
        self.cursor_param, self.next_cursor_path = cursor_param, next_cursor_path
        self.cursor: str | None = None
        self.seen: set[str] = set()

    def params(self) -> dict[str, str]:
        return {self.cursor_param: self.cursor} if self.cursor else {}

    def advance(self, document: Any, rows: list) -> bool:
        cursor = _dig(document, self.next_cursor_path)
        if not cursor or not rows:
            return False
        self.stuck = str(cursor) in self.seen
        self.seen.add(str(cursor))
        self.cursor = str(cursor)
        return True


class RestSource(DepartmentSource):
    """A paged, signed REST/JSON API filtered by change time. Paging and field paths are configuration."""

    base_url: str
    path: str
    method: Literal["GET", "POST"] = "GET"
    paging: Literal["page", "cursor"] = "page"
    app_key: str
    app_secret: str = Field(description="secret shared with the department; set through an environment variable")
    sign_method: Literal["HMAC-SHA256", "HMAC-SM3"] = "HMAC-SHA256"
    timeout_seconds: float = 10.0
    page_size: int = 200
    max_pages: int = Field(default=1000, ge=1, description="stop (and say so) after this many pages of one window")
    since_param: str = "updatedFrom"
    until_param: str = "updatedTo"
    time_format: str = "%Y-%m-%d %H:%M:%S"
    page_param: str = "pageNo"
    size_param: str = "pageSize"
    cursor_param: str = "cursor"
    records_path: str = "data.rows"
    total_path: str = "data.total"
    next_cursor_path: str = "data.nextCursor"
    code_path: str = "code"
    success_codes: list[str] = Field(default_factory=lambda: ["200", "0"])
    id_field: str
    changed_field: str

    def fetch_changes(self, since: dt.datetime, until: dt.datetime) -> SourceBatch:
        window = {
            self.since_param: since.strftime(self.time_format),
            self.until_param: until.strftime(self.time_format),
        }
        batch = SourceBatch()
        paginator = self._paginator()
        with make_client(self.base_url, self.timeout_seconds) as client:
            for page in range(1, self.max_pages + 1):
                params = dict(window, **{self.size_param: str(self.page_size)}, **paginator.params())
                document = self._request(client, params)
                rows = _dig(document, self.records_path) or []
                batch.records.extend(
                    RawRecord(str(row.get(self.id_field) or f"page{page}#{i}"), row.get(self.changed_field), row)
                    for i, row in enumerate(rows)
                )
                if not paginator.advance(document, rows):
                    break
                if paginator.stuck:
                    batch.complete = False
                    batch.notes.append(f"{self.path}: the source gave the same cursor twice; stopped after page {page}")
                    break
            else:
                batch.complete = False
                batch.notes.append(
                    f"{self.path}: stopped at the page limit ({self.max_pages} pages of {self.page_size})"
                )
        return batch

    def _paginator(self) -> Paginator:
        if self.paging == "page":
            return PageNumberPaginator(self.page_param, self.total_path)
        return CursorPaginator(self.cursor_param, self.next_cursor_path)

    def _request(self, client, params: dict[str, str]) -> dict:
        signing = {"app_key": self.app_key, "secret": self.app_secret, "algorithm": self.sign_method}
        if self.method == "GET":
            send = lambda: signed_send(client, "GET", self.path, params=params, **signing)  # noqa: E731
        else:
            body = json.dumps(params, ensure_ascii=False).encode("utf-8")
            send = lambda: signed_send(client, "POST", self.path, body=body, **signing)  # noqa: E731
        document = call_with_retries(send).json()
        code = str(_dig(document, self.code_path))
        if code not in self.success_codes:
            raise SourceError(f"{self.path} answered business code {code}: {document.get('msg', '')}")
        return document


class SqlSource(DepartmentSource):
    """A department's own relational database, read directly (read-only account) with SQLAlchemy: a table, or a
    query declared with the source (its joins and aggregates over the system's own tables, so the department's DBA
    creates no view). The query is written once in standard SQL and translated to the database's dialect by
    sqlglot; the change window is applied around it, on its ``changed_column``."""

    url: str = Field(description="SQLAlchemy URL of the department database; credentials via environment")
    table: str | None = None
    query: str | None = Field(default=None, description="a SELECT read instead of a table (standard SQL)")
    id_column: str
    changed_column: str

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give either table or query, not both or neither")
        if self.query is not None:
            columns = query_columns(self.query)
            if missing := [c for c in (self.id_column, self.changed_column) if c not in columns]:
                raise ValueError(f"the query does not select {', '.join(missing)} (it selects {', '.join(columns)})")
        return self

    def fetch_changes(self, since: dt.datetime, until: dt.datetime) -> SourceBatch:
        engine = sa.create_engine(self.url, pool_pre_ping=True)
        try:
            if self.query is None:
                source = sa.Table(self.table, sa.MetaData(), autoload_with=engine)
            else:
                source = self._declared(engine.dialect.name)
            changed = source.c[self.changed_column]
            query = sa.select(source).where(changed >= since, changed < until).order_by(changed)
            with engine.connect() as conn:
                rows = [dict(row._mapping) for row in conn.execute(query)]
        finally:
            engine.dispose()
        records = []
        for row in rows:
            payload = {k: (v.isoformat(sep=" ") if isinstance(v, dt.datetime | dt.date) else v) for k, v in row.items()}
            records.append(RawRecord(str(payload[self.id_column]), payload[self.changed_column], payload))
        return SourceBatch(records)

    def _declared(self, dialect: str) -> sa.Subquery:
        """The declared query in ``dialect``, as a subquery whose change column is a timestamp (so the window's
        bounds compare as times on every database). Identifiers are quoted as written: the result's column names
        are the declaration's on every database."""
        translated = sqlglot.transpile(self.query, write=SQLGLOT_DIALECTS.get(dialect, dialect), identify=True)[0]
        translated = re.sub(r":(?=\w)", r"\\:", translated)  # a colon in the SQL is not a bind parameter
        columns = [
            sa.column(name, sa.DateTime() if name == self.changed_column else sa.types.NullType())
            for name in query_columns(self.query)
        ]
        return sa.text(translated).columns(*columns).subquery("declared")


#: SQLAlchemy's dialect names → sqlglot's, where they differ.
SQLGLOT_DIALECTS = {"postgresql": "postgres", "mariadb": "mysql", "mssql": "tsql"}


def query_columns(query: str) -> list[str]:
    """The column names a declared SELECT gives; one line saying what is wrong when it is not such a query."""
    try:
        parsed = sqlglot.parse_one(query)
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"the query is not readable SQL ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(parsed, sqlglot.exp.Select):
        raise ValueError(f"the query must be a SELECT, not {type(parsed).__name__}")
    columns = parsed.named_selects
    if "*" in columns or len(columns) != len(parsed.selects):
        raise ValueError("the query must name every column it selects (no *, an alias for each expression)")
    return columns


FILE_DATE = re.compile(r"(\d{8})")


class Unreadable(Exception):
    """A dropped file the bridge sets aside: the message is the reason a clerk can act on."""


class FileDropSource(DepartmentSource):
    """Daily Excel/CSV exports dropped into a folder; CSVs usually in GBK.

    The date in a file's name says which day's changes it holds. A file that cannot be read (not decodable, a
    row with more or fewer fields than the header, a corrupt or oversized workbook, a zip bomb, broken XML)
    becomes a single record carrying the reason, so staging quarantines it and the day's reconciliation still
    adds up; the rest of the drop loads. Symlinks and anything that resolves outside the folder are skipped.
    Workbooks are parsed with defused XML (openpyxl uses defusedxml when it is installed, as it is here).
    """

    directory: str
    pattern: str = "*"
    # Tried in order; gb18030 is the strict superset of GBK.
    encodings: list[str] = Field(default_factory=lambda: ["utf-8", "gb18030"])
    id_field: str
    changed_field: str
    max_file_bytes: int = Field(default=50 * 2**20, description="a bigger file is set aside, unread")
    max_unzipped_bytes: int = Field(default=200 * 2**20, description="a workbook that unpacks to more is set aside")

    def fetch_changes(self, since: dt.datetime, until: dt.datetime) -> SourceBatch:
        batch = SourceBatch()
        folder = Path(self.directory).resolve()
        for path in sorted(Path(self.directory).glob(self.pattern)):
            day, problem = self._day_of(path)
            if day is None or not (since.date() <= day < until.date()):
                continue
            if path.is_symlink() or not path.resolve().is_relative_to(folder) or not path.is_file():
                batch.notes.append(f"{path.name}: skipped (a link, or not a file inside the drop folder)")
                continue
            try:
                if problem:
                    raise Unreadable(problem)
                sheets, encoding = self._read(path)
            except Unreadable as exc:
                batch.records.append(RawRecord(path.name, None, {"_file": path.name, "_error": str(exc)}))
                batch.notes.append(f"{path.name}: set aside ({exc})")
                continue
            rows = sum(len(frame) for _, frame in sheets)
            shown = f", sheets {', '.join(name for name, _ in sheets)}" if len(sheets) > 1 else ""
            batch.notes.append(f"{path.name}: {rows} rows" + (f", decoded as {encoding}" if encoding else "") + shown)
            for sheet, frame in sheets:
                where = f"{sheet}!" if len(sheets) > 1 else ""
                for line, row in enumerate(frame.to_dict("records"), start=2):  # line 1 is the header
                    payload = {k: v for k, v in row.items() if v is not None and v == v and v != ""}
                    payload.update(_file=path.name, _line=f"{where}{line}" if where else line)
                    key = str(payload.get(self.id_field) or f"{path.name}#{where}{line}")
                    batch.records.append(RawRecord(key, payload.get(self.changed_field), payload))
        return batch

    @staticmethod
    def _day_of(path: Path) -> tuple[dt.date | None, str | None]:
        """The day a file's changes belong to: the date in its name. A name whose date is not a real day
        (``20261131``) is set aside on the day it was dropped (its modification day, Asia/Shanghai), once, with the
        reason, instead of stopping every day's pull."""
        match = FILE_DATE.search(path.name)
        if not match:
            return None, None
        try:
            return dt.datetime.strptime(match.group(1), "%Y%m%d").date(), None
        except ValueError:
            try:
                dropped = clock.day_of(path.stat().st_mtime)
            except OSError:
                return None, None
            return dropped, (
                f"the date in its name, {match.group(1)}, is not a day (YYYYMMDD); rename the export with the day it "
                "holds and drop it again"
            )

    def _read(self, path: Path) -> tuple[list[tuple[str, pd.DataFrame]], str | None]:
        """The file's rows per sheet (one, named ``csv``, for a CSV) and the encoding that read a CSV."""
        size = path.stat().st_size
        if size > self.max_file_bytes:
            raise Unreadable(f"{size} bytes, over the {self.max_file_bytes}-byte limit for one export")
        if size == 0:
            raise Unreadable("the file is empty (0 bytes): the export did not finish; export it again")
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return self._read_workbook(path), None
        text, encoding = decode_export(path.read_bytes(), self.encodings)
        if not text.strip():
            raise Unreadable("the file holds no header and no rows; export it again")
        check_fields(text)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
            raise Unreadable(
                f"the CSV cannot be parsed ({_first_line(exc)}); fix the quoting and drop it again"
            ) from None
        return [("csv", frame)], encoding

    def _read_workbook(self, path: Path) -> list[tuple[str, pd.DataFrame]]:
        """Every sheet that holds anything: one; several with the same header, read one after the other; several
        with different headers set aside (which columns would the rows of the second mean?)."""
        try:
            with zipfile.ZipFile(path) as archive:
                unpacked = sum(entry.file_size for entry in archive.infolist())
            if unpacked > self.max_unzipped_bytes:
                raise Unreadable(f"the workbook unpacks to {unpacked} bytes, over the {self.max_unzipped_bytes} limit")
            book = pd.read_excel(path, dtype=str, engine="openpyxl", sheet_name=None)
        except Unreadable:
            raise
        except zipfile.BadZipFile:
            raise Unreadable("not a readable .xlsx (the zip container is damaged); export it again") from None
        except Exception as exc:  # openpyxl's errors for broken or hostile XML have no common base
            raise Unreadable(
                f"the workbook cannot be parsed ({type(exc).__name__}: {_first_line(exc)}); export it again"
            ) from None
        sheets = [(name, frame) for name, frame in book.items() if len(frame.columns) or len(frame)]
        if not sheets:
            raise Unreadable("the workbook's sheets are all empty; export it again")
        headers = {tuple(frame.columns) for _, frame in sheets}
        if len(headers) > 1:
            raise Unreadable(
                f"the workbook has {len(sheets)} sheets with different columns ({', '.join(n for n, _ in sheets)}); "
                "export one sheet per file, or the same columns on every sheet"
            )
        return sheets


def _first_line(exc: Exception) -> str:
    """An error's first line (at most 200 characters), or its class's name when it says nothing."""
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def decode_export(raw: bytes, encodings: list[str]) -> tuple[str, str]:
    """The text of an export and the encoding that read it (tried in order), without a byte-order mark."""
    if b"\x00" in raw:
        raise Unreadable("the file holds NUL bytes: not a text export (saved as UTF-16 or binary?)")
    errors = []
    for encoding in encodings:
        try:
            return raw.decode(encoding).lstrip("\ufeff"), encoding
        except UnicodeDecodeError as exc:
            errors.append(f"{encoding}: {exc.reason} at byte {exc.start}")
    raise Unreadable("not decodable as " + "; ".join(errors))


def _swallowed_rows(value: str, columns: int) -> bool:
    """A multi-line value one of whose later lines holds half a row's separators or more (a row the quote ran
    into, whole or up to the quote that closed it); a remark or an address broken over lines holds few."""
    if columns < 3 or ("\n" not in value and "\r" not in value):
        return False
    return any(line.count(",") >= max(2, (columns - 1) // 2) for line in value.splitlines()[1:])


def check_fields(text: str) -> None:
    """Every row has as many fields as the header (a longer or shorter row would shift or lose columns), its
    quoting is well formed (strict: a quote inside an unquoted value, or text after a closing quote, is refused),
    and no value swallowed whole rows: an unescaped quote opening a value runs on to the next quote, taking the
    rows between into one field while the note still counts them as one row. A quoted value may span lines (an
    address, a remark); one whose later lines hold a row's worth of separators is taken for swallowed rows."""
    rows = csv.reader(io.StringIO(text), strict=True)
    try:
        header = next(rows, None)
        if header is None:
            return
        for row in rows:
            line = rows.line_num
            if row and len(row) != len(header):
                raise Unreadable(
                    f"row {line} has {len(row)} fields where the header has {len(header)}: "
                    "a separator inside a value, or a cut line; fix the export and drop it again"
                )
            if any(_swallowed_rows(value, len(header)) for value in row):
                raise Unreadable(
                    f'a value ending on line {line} spans several lines: an unescaped quote (") swallowed the rows '
                    "after it; fix the quoting and drop it again"
                )
    except csv.Error as exc:
        raise Unreadable(
            f"line {rows.line_num}: the quoting is broken ({exc}); fix the quoting and drop it again"
        ) from None


CONNECTORS: dict[str, type[DepartmentSource]] = {"rest": RestSource, "sql": SqlSource, "files": FileDropSource}
ENDPOINT_FIELD = {"rest": "base_url", "sql": "url", "files": "directory"}


def build_source(
    kind: str, settings: dict[str, Any], *, endpoint: str, app_key: str | None = None, app_secret: str | None = None
) -> DepartmentSource:
    """The connector of ``kind`` from a declaration's settings and the values taken from the environment."""
    given = dict(settings, **{ENDPOINT_FIELD[kind]: endpoint})
    if kind == "rest":
        given.update(app_key=app_key or "", app_secret=app_secret or "")
    return CONNECTORS[kind](**given)
