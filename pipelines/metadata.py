"""What the UI shows about a table asset and a check: column schemas from the warehouse tables, small tables."""

from __future__ import annotations

import ast
import inspect
import io
import tokenize
from functools import cache

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
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
