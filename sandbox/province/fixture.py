"""The province stand-in's front-end database: the national tables as published (``contracts/national``, read by
:mod:`sandbox.province.contract`), its audit rules (``checks.yaml``), its code lists (``codes.yaml``) and one table
of its own bookkeeping.

The bookkeeping table ``sandbox_province_ledger`` is the stand-in's private note of which rows its audit has taken
and how it judged them: the published up_pro_* tables carry no status column, so the province must remember
elsewhere. It is NOT part of the interface: the bridge never reads it; the province answers through
``dn_audit_abnormal`` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlalchemy as sa
import yaml

from sandbox.province.contract import VERSIONS, TableDefinition, definitions
from sandbox.province.contract import build_metadata as contract_metadata

HERE = Path(__file__).parent
LEDGER = "sandbox_province_ledger"
FEEDBACK = "dn_audit_abnormal"
#: The stand-in reads the same variable as the bridge to know which published DDL its tables follow.
DDL_VARIABLE = "ONE_NETWORK_DDL_VERSION"


def ddl_version() -> str:
    version = os.environ.get(DDL_VARIABLE, "").strip() or "current"
    if version not in VERSIONS:
        raise ValueError(f"{DDL_VARIABLE}={version!r}: the stand-in knows {', '.join(VERSIONS)}")
    return version


@dataclass(frozen=True)
class Check:
    codes: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class AuditedTable:
    """One up_pro_* table as the province audits it: its published definition, its own checks, its parent."""

    definition: TableDefinition
    checks: dict[str, Check]
    parent: str | None

    @property
    def name(self) -> str:
        return self.definition.name


@cache
def _checks() -> dict:
    return yaml.safe_load((HERE / "checks.yaml").read_text(encoding="utf-8"))


@cache
def audited(version: str = "current") -> dict[str, AuditedTable]:
    """The tables the province audits, parents first (the order it takes them in)."""
    raw, tables = _checks(), definitions(version)
    found = {}
    for name, own in raw["tables"].items():
        checks = {column: Check(**how) for column, how in {**raw["every_table"], **(own or {})}.items()}
        found[name] = AuditedTable(tables[name], checks, raw["parents"].get(name))
    return found


@cache
def codes() -> dict[str, dict[str, str]]:
    """The province's code lists: list name -> {code: meaning}."""
    raw = yaml.safe_load((HERE / "codes.yaml").read_text(encoding="utf-8"))
    return {name: {str(k): str(v) for k, v in values.items()} for name, values in raw.items()}


def ledger_table(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        LEDGER,
        meta,
        sa.Column("table_sql_name", sa.String(50), primary_key=True),
        sa.Column("row_id", sa.BigInteger, primary_key=True, autoincrement=False),  # the row's id in its table
        sa.Column("row_guid", sa.String(50), nullable=False),
        sa.Column("cd_batch", sa.String(32), nullable=False),
        sa.Column("cd_operation", sa.String(2)),
        sa.Column("project_no", sa.String(50)),
        sa.Column("outcome", sa.String(10), nullable=False),  # accepted / refused
        sa.Column("err_type", sa.String(100)),
        sa.Column("processed_at", sa.DateTime, nullable=False),
        # each row's audit looks up what the province holds by row and by case, newest last: found by index, not
        # by a scan. The row id closes each index so it gives the order too: without it SQLite took the primary key
        # (table, row id) to avoid the sort and read every row of the table (a year benchmark's stand-ins spent
        # most of their time there, and held the front-end database while the bridge waited to write)
        sa.Index(f"ix_{LEDGER}_guid_row", "table_sql_name", "row_guid", "row_id"),
        sa.Index(f"ix_{LEDGER}_case_row", "table_sql_name", "project_no", "row_id"),
        comment="the province stand-in's own bookkeeping of its audit (not part of the interface)",
        mysql_charset="utf8mb4",
    )


@cache
def front_end_metadata(version: str = "current") -> sa.MetaData:
    """Every table of the stand-in's front-end database: the published ones of ``version`` and its ledger."""
    meta = contract_metadata(version)
    ledger_table(meta)
    _lookup_indexes(meta)
    return meta


#: Columns the province's tables are looked up by, a case's rows and a batch's (the bridge's reads, the audit's).
#: Assumed: the published DDL shows the primary key only; an exchange area of a year's rows needs these indexes,
#: as its DBA would add them, or each lookup reads the whole table (docs/operations.md, "A year of the district").
LOOKUP_COLUMNS = ("project_no", "row_guid", "cd_batch", "table_cd_batch")


def _lookup_indexes(meta: sa.MetaData) -> None:
    for table in list(meta.tables.values()):
        if table.name == LEDGER:
            continue
        for column in LOOKUP_COLUMNS:
            name = f"ix_{table.name}_{column}"
            if column in table.c and name not in {index.name for index in table.indexes}:
                sa.Index(name, table.c[column])


def table(name: str, version: str = "current") -> sa.Table:
    return front_end_metadata(version).tables[name]
