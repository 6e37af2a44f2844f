"""The published definitions of the national tables (``contracts/national/<version>.yaml``) as SQLAlchemy tables.

The contracts are column-by-column transcriptions of public MySQL DDL (each file names its source). This reader
turns one into tables that SQLite, MariaDB and PostgreSQL create alike: the published types (``bigint(20)``,
``varchar(N)``, ``int(10)``, ``datetime``, ``longtext``), NOT NULL, the published defaults, the comments, the primary
key and, where published, AUTO_INCREMENT. It is the stand-in's and the tests' way to the province's tables; the
product never reads ``contracts/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlalchemy as sa
import yaml

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "national"
VERSIONS = ("current", "2020")
FEEDBACK = "dn_audit_abnormal"  # only in the current schema; a 2020 target answers through it all the same
_TYPE = re.compile(r"(bigint|int|varchar|datetime|longtext)(?:\((\d+)\))?")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # bigint | int | varchar | datetime | longtext
    length: int | None  # varchar's length; the display width of bigint(20)/int(10) is not a limit
    not_null: bool
    default: str | None  # the published DEFAULT clause ("NULL", "'1'"), None where there is none
    auto_increment: bool
    comment: str | None

    def sa_type(self) -> sa.types.TypeEngine:
        if self.type == "varchar":
            return sa.String(self.length)
        if self.type == "bigint":
            # SQLite numbers rows only through an INTEGER PRIMARY KEY; BIGINT everywhere else
            return sa.BigInteger().with_variant(sa.Integer(), "sqlite") if self.auto_increment else sa.BigInteger()
        return {"int": sa.Integer(), "datetime": sa.DateTime(), "longtext": sa.Text()}[self.type]

    def server_default(self) -> sa.TextClause | None:
        if self.default is None or self.default == "NULL":
            return None
        return sa.text(self.default)


@dataclass(frozen=True)
class TableDefinition:
    name: str
    comment: str | None
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    source: str
    charset: str  # the published table option (MySQL/MariaDB)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Contract:
    version: str
    source: str
    changed: str
    tables: dict[str, TableDefinition]


def _column(entry: dict) -> Column:
    match = _TYPE.fullmatch(entry["type"])
    if not match:
        raise ValueError(f"column {entry['name']}: a type the reader does not know: {entry['type']!r}")
    kind, width = match.group(1), match.group(2)
    return Column(
        name=entry["name"],
        type=kind,
        length=int(width) if kind == "varchar" else None,
        not_null=bool(entry["not_null"]),
        default=entry.get("default"),
        auto_increment=bool(entry.get("auto_increment", False)),
        comment=entry.get("comment"),
    )


@cache
def contract(version: str = "current", directory: Path = CONTRACTS) -> Contract:
    """One DDL version's tables, as ``contracts/national/<version>.yaml`` transcribes them."""
    if version not in VERSIONS:
        raise ValueError(f"no national DDL version {version!r} (versions: {', '.join(VERSIONS)})")
    raw = yaml.safe_load((directory / f"{version}.yaml").read_text(encoding="utf-8"))
    tables = {
        name: TableDefinition(
            name=name,
            comment=body.get("comment"),
            primary_key=tuple(body["primary_key"]),
            columns=tuple(_column(c) for c in body["columns"]),
            source=body.get("source") or raw["source"],
            charset=body["charset"],
        )
        for name, body in raw["tables"].items()
    }
    return Contract(version=str(raw["ddl_version"]), source=raw["source"], changed=raw["changed"], tables=tables)


def definitions(version: str = "current") -> dict[str, TableDefinition]:
    """The tables a front-end database of ``version`` holds: its up_pro_* tables and the feedback table (a 2020
    database gets the current schema's, the only one published)."""
    tables = dict(contract(version).tables)
    tables.setdefault(FEEDBACK, contract("current").tables[FEEDBACK])
    return tables


def table(meta: sa.MetaData, definition: TableDefinition, *, name: str | None = None) -> sa.Table:
    """``definition`` as a table of ``meta`` (``name``: under another name, for a test's private copy)."""
    columns = [
        sa.Column(
            c.name,
            c.sa_type(),
            nullable=not c.not_null,
            primary_key=c.name in definition.primary_key,
            autoincrement=c.auto_increment,
            server_default=c.server_default(),
            comment=c.comment,
        )
        for c in definition.columns
    ]
    return sa.Table(
        name or definition.name,
        meta,
        *columns,
        comment=definition.comment,
        mysql_engine="InnoDB",
        mysql_charset=definition.charset,  # as published: utf8 (3 bytes a character on MySQL and MariaDB)
    )


def build_metadata(version: str = "current", meta: sa.MetaData | None = None) -> sa.MetaData:
    """The national tables of ``version`` in one MetaData: ``create_all`` makes them on any of the databases."""
    meta = meta if meta is not None else sa.MetaData()
    for definition in definitions(version).values():
        table(meta, definition)
    return meta
