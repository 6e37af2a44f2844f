"""Warehouse access: SQLAlchemy on a SQLite file by default, PostgreSQL by setting one URL.

Partitioned writes are delete-then-insert inside one transaction, so re-running a partition replaces
exactly that partition and a crash leaves the previous state intact.

On PostgreSQL the marts are in their own schema, ``marts`` (``schemas.warehouse.schema_of``), created with the
tables; on SQLite and MariaDB the engine maps that schema onto the default one (``schema_translate_map``).
Every engine on the warehouse comes from :func:`create_engine`, so the same Table objects work on all three.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, Field, PrivateAttr
from sqlalchemy.ext.compiler import compiles

from core.database_retry import with_retries
from schemas.warehouse import MARTS, metadata

INSERT_CHUNK = 5_000
T = TypeVar("T")
log = logging.getLogger(__name__)

#: The warehouse's tables (its schema and the marts') this account owns whose rows changed by more than
#: PostgreSQL's default autovacuum threshold since their last ANALYZE: 50 rows plus a tenth of the table
#: (``autovacuum_analyze_threshold``, ``autovacuum_analyze_scale_factor``), quoted for an ANALYZE statement.
STALE_STATISTICS = sa.text(
    """
    SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname)
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE s.schemaname IN (current_schema(), :marts)
      AND pg_has_role(c.relowner, 'USAGE')
      AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)
    ORDER BY 1
    """
)


class Warehouse(BaseModel):
    url: str = Field(
        description="SQLAlchemy URL; sqlite:///… on the embedded default, postgresql+psycopg2://… in production"
    )
    _engine: sa.Engine | None = PrivateAttr(default=None)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = create_engine(self.url)
            create_tables(self._engine)
        return self._engine

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn
        self.keep_statistics()

    def transaction(self, work: Callable[[sa.Connection], T], what: str = "warehouse") -> T:
        """``work(conn)`` in one transaction, done again from the start while the database is briefly locked or
        out of reach (:mod:`core.database_retry`): the failed attempt was rolled back whole."""

        def once() -> T:
            with self.engine.begin() as conn:
                return work(conn)

        done = with_retries(what, once)
        self.keep_statistics()
        return done

    def keep_statistics(self) -> list[str]:
        """On PostgreSQL, ANALYZE the warehouse's tables that changed by more than autovacuum's own threshold since
        they were last analysed (:data:`STALE_STATISTICS`); returns their names. Called after every transaction.

        A day's load writes thousands of rows into tables the planner may never have measured: the server's
        autovacuum analyses them a minute later at best, and not at all where it is switched off (as on the
        test server). Without statistics the planner joins a day's few hundred golden cases to the whole
        history by hash instead of by index, a cost that grows with the history. Cheap when nothing is stale (one
        read of ``pg_stat_user_tables``); a table another run is analysing is skipped (``lock_timeout``); only
        tables this account owns. Nothing to do on SQLite and MariaDB (InnoDB keeps its statistics itself)."""
        if self.engine.dialect.name != "postgresql":
            return []
        try:
            with self.engine.connect() as conn:
                stale = conn.execute(STALE_STATISTICS, {"marts": MARTS}).scalars().all()
        except sa.exc.DBAPIError as error:  # the work is committed: a failed look at the statistics must not fail it
            log.warning("warehouse statistics not looked at: %s", str(error.orig).splitlines()[0])
            return []
        analysed = []
        for table in stale:
            try:
                with self.engine.begin() as conn:
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                    conn.exec_driver_sql(f"ANALYZE {table}")
            except sa.exc.DBAPIError as error:  # statistics are an optimisation: the load goes on without them
                log.warning("warehouse statistics of %s not refreshed: %s", table, str(error.orig).splitlines()[0])
            else:
                analysed.append(table)
        return analysed

    def read(self, query: sa.Executable | str, conn: sa.Connection | None = None, **params: Any) -> pd.DataFrame:
        """A query's rows as a frame: in ``conn``'s transaction, or on a connection of its own (retried while the
        database is briefly locked or out of reach)."""
        statement = sa.text(query) if isinstance(query, str) else query
        if conn is not None:
            return frame_of(conn.execute(statement, params))

        def once() -> pd.DataFrame:
            with self.engine.connect() as own:
                return frame_of(own.execute(statement, params))

        return with_retries("warehouse read", once)

    def scalar(self, query: str, **params: Any) -> Any:
        def once() -> Any:
            with self.engine.connect() as conn:
                return conn.execute(sa.text(query), params).scalar()

        return with_retries("warehouse read", once)

    def replace_partition(
        self, conn: sa.Connection, table: sa.Table, partition: dt.date, frame: pd.DataFrame, **where: Any
    ) -> int:
        """Delete ``table``'s rows of ``partition`` (narrowed by ``where``) and insert ``frame`` instead."""
        condition = table.c.partition_date == partition
        for column, value in where.items():
            condition = condition & (table.c[column] == value)
        conn.execute(table.delete().where(condition))
        return insert_frame(conn, table, frame)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def has_schemas(dialect_name: str) -> bool:
    """Whether the warehouse keeps the marts in a schema of their own there (PostgreSQL), rather than mapping the
    marts schema onto the default one (SQLite; MariaDB, whose schemas are databases)."""
    return dialect_name == "postgresql"


def schema_translate_map(dialect_name: str) -> dict[str | None, str | None]:
    return {} if has_schemas(dialect_name) else {MARTS: None}


def create_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine on the warehouse at ``url`` that finds the marts where they are (see the module). It creates
    nothing: a read-only account (the dashboard's) can use it. :func:`create_tables` creates what is missing."""
    url = sa.make_url(url)
    kwargs.setdefault("pool_pre_ping", True)
    if url.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 60})
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg2":
        # an UPDATE or DELETE of many rows (an outbox's statuses) in pages of psycopg2's execute_batch, not one
        # round trip a row; rowcount is then unknown for them, which nothing here reads
        kwargs.setdefault("executemany_mode", "values_plus_batch")
        kwargs.setdefault("executemany_batch_page_size", 500)
    options = kwargs.pop("execution_options", {})
    translate = schema_translate_map(url.get_backend_name())
    if translate:
        options = {**options, "schema_translate_map": translate}
    engine = sa.create_engine(url, execution_options=options, **kwargs)
    if url.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def on_warehouse_schemas(engine: sa.Engine) -> sa.Engine:
    """``engine`` (made elsewhere, by ``sqlalchemy.create_engine``) with the marts mapping of :func:`create_engine`."""
    translate = schema_translate_map(engine.dialect.name)
    if not translate or engine.get_execution_options().get("schema_translate_map") == translate:
        return engine
    return engine.execution_options(schema_translate_map=translate)


def create_tables(engine: sa.Engine, meta: sa.MetaData = metadata) -> None:
    """The schemas ``meta``'s tables name (on PostgreSQL: CREATE SCHEMA IF NOT EXISTS, only when missing, so an
    account without CREATE on the database can still open a built warehouse), then every table missing."""
    engine = on_warehouse_schemas(engine)
    if has_schemas(engine.dialect.name):
        schemas = sorted({t.schema for t in meta.tables.values() if t.schema})
        with engine.begin() as conn:
            for schema in schemas:
                if not engine.dialect.has_schema(conn, schema):
                    conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    meta.create_all(engine)
    add_missing_columns(engine, meta)
    add_missing_indexes(engine, meta)


def _existing_tables(
    conn: sa.Connection, engine: sa.Engine, meta: sa.MetaData
) -> Iterator[tuple[sa.Table, str | None, sa.Inspector]]:
    """Each table of ``meta`` the database already has, with its schema as the engine translates it: what an
    upgrade step looks at (a new table is made whole by ``create_all``)."""
    translate = engine.get_execution_options().get("schema_translate_map") or {}
    inspector = sa.inspect(conn)
    for table in meta.sorted_tables:
        schema = translate.get(table.schema, table.schema)
        if inspector.has_table(table.name, schema=schema):
            yield table, schema, inspector


def add_missing_columns(engine: sa.Engine, meta: sa.MetaData = metadata) -> list[str]:
    """Columns a release added to an existing table, where each may be empty (nullable, no key): added with
    ``ALTER TABLE … ADD COLUMN`` so a warehouse built by an earlier release opens (its old rows read NULL, which
    such a column means: not known). A new column that may not be empty is not added here: that upgrade needs its
    own step. Returns ``table.column`` for each column added."""
    engine = on_warehouse_schemas(engine)
    preparer = engine.dialect.identifier_preparer
    added: list[str] = []
    with engine.begin() as conn:
        for table, schema, inspector in list(_existing_tables(conn, engine, meta)):
            found = {c["name"] for c in inspector.get_columns(table.name, schema=schema)}
            for column in table.columns:
                if column.name in found or not column.nullable or column.primary_key:
                    continue
                name = preparer.quote(table.name)
                name = f"{preparer.quote_schema(schema)}.{name}" if schema else name
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN {preparer.quote(column.name)} {kind}"))
                added.append(f"{table.name}.{column.name}")
    return added


def add_missing_indexes(engine: sa.Engine, meta: sa.MetaData = metadata) -> list[str]:
    """Indexes a release added to an existing table, or whose columns it changed (``create_all`` makes them only
    with a new table): created here, so a warehouse built by an earlier release reads a day's rows by index too.
    Returns their names."""
    engine = on_warehouse_schemas(engine)
    added: list[str] = []
    with engine.begin() as conn:
        for table, schema, inspector in list(_existing_tables(conn, engine, meta)):
            if not table.indexes:
                continue
            found = {index["name"]: index["column_names"] for index in inspector.get_indexes(table.name, schema=schema)}
            for index in sorted(table.indexes, key=lambda i: i.name):
                if index.name in found and found[index.name] == [c.name for c in index.columns]:
                    continue
                if index.name in found:  # an earlier release's columns: made again as this release defines it
                    index.drop(conn)
                index.create(conn)
                added.append(index.name)
    return added


def rebuilt_if_changed(conn: sa.Connection, table: sa.Table) -> bool:
    """A derived table (a mart) whose columns in the database differ from its definition, after an upgrade that
    changed it: dropped and created anew (its rows are rebuilt by the caller anyway). True when it was."""
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(table.schema, table.schema)
    found = {c["name"] for c in sa.inspect(conn).get_columns(table.name, schema=schema)}
    if found == {c.name for c in table.columns}:
        return False
    table.drop(conn)
    table.create(conn)
    return True


def replace_table(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, say=None) -> int:
    """A table rebuilt whole (a mart, a state table): created anew first if its columns changed with an upgrade
    (``say`` is told so), emptied, and filled with ``frame``. Returns the rows written."""
    if rebuilt_if_changed(conn, table) and say is not None:
        say(f"{table.name}: its columns changed with this version; created anew")
    conn.execute(table.delete())
    return insert_frame(conn, table, frame)


class json_text(sa.sql.expression.FunctionElement):
    """``json_text(column, name)``: the top-level member ``name`` of the JSON object stored as text in ``column``,
    as text (NULL when absent), taken out by the database: SQLite's ``json_extract``, PostgreSQL's ``->>``. A
    check reads one field of every raw record without parsing every payload in Python."""

    type = sa.String()
    inherit_cache = False  # the member is not among the clauses: no statement cached under another member's key
    name = "json_text"

    def __init__(self, column: sa.ColumnElement, member: str) -> None:
        if not member.replace("_", "").isalnum():
            raise ValueError(f"json_text: a member name of letters, digits and _ only, not {member!r}")
        self.member = member
        super().__init__(column)


@compiles(json_text)
def _json_text_sqlite(element: json_text, compiler, **kw) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(json_extract({column}, '$.\"{element.member}\"') AS TEXT)"


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler, **kw) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"(CAST({column} AS JSON) ->> '{element.member}')"


#: Values per ``IN (…)`` list: well under SQLite's and PostgreSQL's parameter limits, and short statements.
IN_LIST = 500


def in_lists(values: Sequence[Any], size: int = IN_LIST) -> Iterator[list[Any]]:
    """``values`` in lists of at most ``size``: one ``IN (…)`` each."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the UI, marts) do not block the loader
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def frame_of(result: sa.CursorResult | sa.Result) -> pd.DataFrame:
    """A result's rows as a frame, built column by column: the same frame as ``pd.DataFrame(rows, columns=…)``
    at a third to a half of its CPU (pandas infers each column once rather than walking row tuples; 45,000 outbox
    rows: 0.88 s against 1.76 s). Same-named columns (a join selecting two ``id``s) keep both, row-wise."""
    keys = list(result.keys())
    rows = result.fetchall()
    if not rows or len(set(keys)) != len(keys):
        return pd.DataFrame(rows, columns=keys)
    return pd.DataFrame(dict(zip(keys, zip(*rows, strict=True), strict=True)))


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """DataFrame rows as dicts for SQLAlchemy: missing values as None, plain Python scalars (column-wise)."""
    converted = {}
    for column in columns:
        series = frame[column] if column in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        if pd.api.types.is_datetime64_any_dtype(series):
            values = np.array(series.dt.to_pydatetime(), dtype=object)
        else:
            values = series.astype(object).to_numpy(copy=True)
        values[pd.isna(series).to_numpy()] = None
        converted[column] = values
    return [dict(zip(columns, row, strict=True)) for row in zip(*converted.values(), strict=True)]


def insert_frame(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    columns = [c.name for c in table.columns if c.name in frame.columns]
    rows = records(frame, columns)
    for start in range(0, len(rows), INSERT_CHUNK):
        conn.execute(table.insert(), rows[start : start + INSERT_CHUNK])
    return len(rows)
