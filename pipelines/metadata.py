"""What the UI shows about a table asset and a check: column schemas from the warehouse tables, small tables."""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import tokenize
from collections.abc import Mapping, Sequence
from functools import cache

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableSchema,
)

import schemas.warehouse


@cache
def _source_comments() -> dict[tuple[str | None, str], str]:
    """The comment at the end of each ``Column(...)`` in schemas/warehouse.py, by (table, column); columns made by
    a shared helper (no table around them) under (None, column). The tables document their columns this way."""
    source = inspect.getsource(schemas.warehouse)
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and not token.string.startswith("#:")
    }

    def column(node: ast.AST) -> str | None:
        is_column = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Column"
        if is_column and node.args and isinstance(node.args[0], ast.Constant) and node.end_lineno in comments:
            return node.args[0].value
        return None

    found: dict[tuple[str | None, str], str] = {}
    in_tables = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Table" and node.args:
            table = node.args[0].value if isinstance(node.args[0], ast.Constant) else None
            in_tables |= {id(arg) for arg in node.args}
            for arg in node.args[2:]:
                if (name := column(arg)) is not None:
                    found[(table, name)] = comments[arg.end_lineno]
    for node in ast.walk(tree):
        if id(node) not in in_tables and (name := column(node)) is not None:
            found.setdefault((None, name), comments[node.end_lineno])
    return found


def _description(table: sa.Table, column: sa.Column) -> str | None:
    comments = _source_comments()
    return column.comment or column.doc or comments.get((table.name, column.name)) or comments.get((None, column.name))


def column_schema(table: sa.Table) -> TableSchema:
    """The table's columns as Dagster shows them: name, SQL type, nullability, uniqueness and what it holds."""
    key = [c.name for c in table.primary_key.columns]
    return TableSchema(
        columns=[
            TableColumn(
                name=c.name,
                type=str(c.type),
                description=_description(table, c),
                constraints=TableColumnConstraints(
                    nullable=bool(c.nullable) and not c.primary_key,
                    unique=bool(c.unique) or key == [c.name],
                    other=["primary key"] if c.primary_key else [],
                ),
            )
            for c in table.columns
        ],
        constraints=TableConstraints(other=[f"primary key ({', '.join(key)})"] if key else []),
    )


def table_metadata(table: sa.Table, *also: sa.Table) -> dict:
    """Definition metadata of an asset stored in ``table`` (and writing ``also``): its columns in the UI."""
    return {
        "dagster/table_name": table.name,
        "dagster/column_schema": column_schema(table),
        **{f"columns of {other.name}": MetadataValue.table_schema(column_schema(other)) for other in also},
    }


def md(frame: pd.DataFrame, empty: str = "none") -> MetadataValue:
    """A short markdown table for a person reading the UI."""
    return MetadataValue.md(frame.to_markdown(index=False) if len(frame) else empty)


def check_result(*, failing: bool, unverified: list[str], metadata: dict) -> AssetCheckResult:
    """A check's verdict: a failure is an error; what the check could not verify (each with why) is a warning,
    never a pass."""
    return AssetCheckResult(
        passed=not failing and not unverified,
        severity=AssetCheckSeverity.ERROR if failing else AssetCheckSeverity.WARN,
        metadata={**metadata, "could_not_verify": MetadataValue.md("\n".join(f"- {u}" for u in unverified) or "none")},
    )


def report_days(
    context: AssetExecutionContext,
    days: Sequence[Mapping] | pd.DataFrame,
    rows: str,
    *,
    asset_key: str | AssetKey | None = None,
) -> None:
    """Each partition of the run gets its own figures: ``days`` has one row per day (or per day and source, summed
    here) with ``partition_date`` and numbers; the column ``rows`` becomes that day's ``dagster/row_count``. A
    week's run then shows 61 rows on a day of 61 rows, not the week's 556, and the UI plots each day."""
    frame = pd.DataFrame(list(days) if not isinstance(days, pd.DataFrame) else days)
    keys = context.partition_keys
    if frame.empty:
        frame = pd.DataFrame({"partition_date": keys, rows: 0})
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.strftime("%Y-%m-%d")
    numbers = frame.select_dtypes(include=["number", "bool"]).columns
    flags = frame[numbers].select_dtypes(include="bool").columns
    per_day = frame.groupby("partition_date")[list(numbers)].agg({c: ("max" if c in flags else "sum") for c in numbers})
    per_day = per_day.reindex(keys)
    for key in keys:
        figures = per_day.loc[key]
        metadata = {
            name: (bool(value) if name in flags else int(value))
            for name, value in figures.items()
            if pd.notna(value) and name != rows
        }
        metadata["dagster/row_count"] = int(figures[rows]) if pd.notna(figures[rows]) else 0
        context.add_asset_metadata(metadata, asset_key=asset_key, partition_key=key)


def fingerprint(frame: pd.DataFrame) -> DataVersion:
    """A data version from the facts an asset wrote (its rows, in a canonical order): the same facts give the same
    version, so a run that changed nothing does not count as an update downstream (pipelines/automation.py)."""
    canonical = frame.astype(str).sort_values(list(frame.columns)).to_csv(index=False) if len(frame) else ""
    return DataVersion(hashlib.sha256(f"{list(frame.columns)}\n{canonical}".encode()).hexdigest()[:24])
