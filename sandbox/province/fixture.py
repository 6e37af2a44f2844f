"""The province's table definitions, read from ``tables/<family>.yaml``, as SQLAlchemy Core tables.

Families: ``national`` (up_pro_* with the error table dn_audit_abnormal and the mirrors dn_pro_*), ``pre`` (the
provincial front-end PRE_* family) and ``interim`` (ex_case_info, the flat table the bridge writes today).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlalchemy as sa
import yaml

HERE = Path(__file__).parent
FAMILIES = ("national", "pre", "interim")
#: The stand-in's own bookkeeping of the national rows it has processed (no published table: the up_pro_* tables
#: carry no status column). Not part of the interface; the sender reads dn_pro_* and dn_audit_abnormal.
LEDGER = "sandbox_province_ledger"
_TYPE = re.compile(r"(varchar)\((\d+)\)|(int|datetime|text)")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str  # varchar | int | datetime | text
    length: int | None
    nullable: bool
    codes: str | None
    rule: str | None
    comment: str | None

    def sa_type(self) -> sa.types.TypeEngine:
        if self.type == "varchar":
            return sa.String(self.length)
        return {"int": sa.Integer(), "datetime": sa.DateTime(), "text": sa.Text()}[self.type]


@dataclass(frozen=True)
class TableSpec:
    name: str
    comment: str | None
    parent: str | None
    primary_key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class FamilySpec:
    family: str
    source: str
    tables: dict[str, TableSpec]  # in the order the province processes them (parents first)
    abnormal: TableSpec | None
    mirror_prefix: str | None

    def mirror_name(self, table: str) -> str:
        return f"{self.mirror_prefix}{table.removeprefix('up_')}"


def _column(entry: dict) -> ColumnSpec:
    match = _TYPE.fullmatch(entry["type"])
    if not match:
        raise ValueError(f"column {entry['name']}: unknown type {entry['type']!r}")
    kind = match.group(1) or match.group(3)
    return ColumnSpec(
        name=entry["name"],
        type=kind,
        length=int(match.group(2)) if match.group(2) else None,
        nullable=bool(entry.get("nullable", True)),
        codes=entry.get("codes"),
        rule=entry.get("rule"),
        comment=entry.get("comment"),
    )


@cache
def family(name: str) -> FamilySpec:
    """The family's definitions, as ``tables/<name>.yaml`` transcribes them."""
    raw = yaml.safe_load((HERE / "tables" / f"{name}.yaml").read_text(encoding="utf-8"))
    sync = tuple(_column(c) for c in raw.get("sync_columns") or ())
    tables = {}
    for table_name, body in raw["tables"].items():
        own = tuple(_column(c) for c in body["columns"])
        tables[table_name] = TableSpec(
            name=table_name,
            comment=body.get("comment"),
            parent=body.get("parent"),
            primary_key=tuple(body.get("primary_key") or raw.get("primary_key") or ()),
            columns=own + tuple(c for c in sync if c.name not in {o.name for o in own}),
        )
    abnormal = None
    if raw.get("abnormal"):
        a = raw["abnormal"]
        abnormal = TableSpec(a["name"], a.get("comment"), None, (), tuple(_column(c) for c in a["columns"]))
    return FamilySpec(name, raw["source"], tables, abnormal, raw.get("mirror_prefix"))


@cache
def codes() -> dict[str, dict[str, str]]:
    """The province's code lists: list name -> {code: meaning}."""
    raw = yaml.safe_load((HERE / "codes.yaml").read_text(encoding="utf-8"))
    return {name: {str(k): str(v) for k, v in values.items()} for name, values in raw.items()}


def _table(
    meta: sa.MetaData,
    spec: TableSpec,
    *,
    name: str | None = None,
    key: tuple[str, ...] | None = None,
    extra: tuple[sa.Column, ...] = (),
) -> sa.Table:
    key = spec.primary_key if key is None else key
    columns = [
        sa.Column(
            c.name,
            c.sa_type(),
            nullable=c.nullable and c.name not in key,
            primary_key=c.name in key,
            autoincrement=False,
            comment=c.comment,
        )
        for c in spec.columns
    ]
    if not key:  # the error table: a surrogate key of its own
        columns.insert(0, sa.Column("abnormal_id", sa.Integer, primary_key=True, autoincrement=True))
    return sa.Table(name or spec.name, meta, *columns, *extra, comment=spec.comment, mysql_charset="utf8mb4")


def build_metadata(names: tuple[str, ...] = FAMILIES) -> sa.MetaData:
    """The province's tables of the given families in one MetaData (create_all / drop_all on any dialect)."""
    meta = sa.MetaData()
    for name in names:
        spec = family(name)
        for table in spec.tables.values():
            _table(meta, table)
            if spec.mirror_prefix:
                _table(
                    meta,
                    table,
                    name=spec.mirror_name(table.name),
                    key=("row_guid",),
                    extra=(sa.Column("update_time", sa.DateTime, nullable=False, comment="进入汇聚区日期"),),
                )
        if spec.abnormal:
            _table(meta, spec.abnormal)
        if name == "national":
            sa.Table(
                LEDGER,
                meta,
                sa.Column("table_sql_name", sa.String(100), primary_key=True),
                sa.Column("row_guid", sa.String(50), primary_key=True),
                sa.Column("cd_batch", sa.String(32), primary_key=True),
                sa.Column("project_no", sa.String(50)),
                sa.Column("outcome", sa.String(10), nullable=False),  # accepted / rejected
                sa.Column("err_type", sa.String(10)),
                sa.Column("processed_at", sa.DateTime, nullable=False),
                mysql_charset="utf8mb4",
            )
    return meta


#: Every table of every family, built once.
PROVINCE_METADATA = build_metadata()


def table(name: str) -> sa.Table:
    return PROVINCE_METADATA.tables[name]
