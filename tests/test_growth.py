"""A day's cost does not grow with history: resolving a day reads its own rows and its neighbours' by index,
never a table of all history (SQLite's query plans say so), and a warehouse built before an index existed gets it
when it is opened."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, create_engine
from schemas.warehouse import case_links, golden_cases, metadata
from tests.test_resolution import CO, CO_ID, cases, clerk, dept, stage_into

pytestmark = pytest.mark.unit

#: Tables a day may read whole: a person's decisions (a handful, added by hand).
SMALL = {"review_decisions"}


def _days(warehouse: Warehouse) -> list[dt.date]:
    """Four days of filings and their re-entries, with a later state of one record."""
    rows = []
    for n in range(4):
        day = dt.date(2026, 11, 2) + dt.timedelta(days=n)
        name, ident = f"{CO[:-6]}{n}号有限公司", CO_ID
        rows.append(dept(f"MR-{n}", "000102001000", name, ident, f"{day} 09:00"))
        rows.append(clerk(f"AP-{n}", "000102001000", name, ident, f"{day} 00:00"))
    rows.append(dept("MR-1", "000102001000", f"{CO[:-6]}1号有限公司", CO_ID, "2026-11-05 10:00"))  # a later state
    stage_into(warehouse, cases(*rows))
    return sorted({dt.date(2026, 11, 2) + dt.timedelta(days=n) for n in range(4)})


#: Columns with a handful of values: a search on them alone (the source system, the receiver) reads all history.
COARSE = {"source_system", "target"}


def _reads_history(step: str) -> str | None:
    """The table a query plan's step reads whole: a scan (even of an index), or a search on coarse columns only."""
    scan = re.match(r"SCAN (\w+)", step)
    if scan:
        return scan.group(1)
    search = re.match(r"SEARCH (\w+) USING .*\((.*)\)", step)
    if (
        search
        and {term.split("=")[0].split(">")[0].split("<")[0].strip() for term in search.group(2).split(" AND ")}
        <= COARSE
    ):
        return search.group(1)
    return None


def _record_statements(engine: sa.Engine) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            seen.append((statement, parameters[0] if executemany else parameters))

    return seen


def test_resolving_a_day_reads_no_table_whole(tmp_path):
    from pipelines.resolve.assets import resolve_partition

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    days = _days(warehouse)
    statements = _record_statements(warehouse.engine)
    for day in days:
        warehouse.transaction(lambda conn, day=day: resolve_partition(conn, day))
    statements = list(statements)  # resolution's own, not the reads below
    assert warehouse.scalar("SELECT COUNT(*) FROM case_links") == warehouse.scalar("SELECT COUNT(*) FROM staged_cases")
    assert len(statements) > 50
    scanned: dict[str, str] = {}
    with warehouse.engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            for row in plan:
                table = _reads_history(row[-1])
                if table and table not in SMALL:
                    scanned[table] = f"{row[-1]}: {statement[:160]}"

    assert scanned == {}


def test_an_older_warehouse_gets_the_indexes_it_lacks_when_opened(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:  # as an earlier release left it: no index on the link table's day
        conn.exec_driver_sql("DROP INDEX ix_case_links_day")
        conn.exec_driver_sql("DROP INDEX ix_staged_cases_record")
    engine.dispose()
    warehouse = Warehouse(url=url)
    with warehouse.begin() as conn:
        names = {index["name"] for index in sa.inspect(conn).get_indexes(case_links.name)}
        names |= {index["name"] for index in sa.inspect(conn).get_indexes("staged_cases")}
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT golden_case_id FROM case_links WHERE partition_date = '2026-11-02'"
        ).all()
    assert {"ix_case_links_day", "ix_staged_cases_record"} <= names
    assert "ix_case_links_day" in plan[0][-1]
    assert pd.isna(warehouse.scalar(f"SELECT MAX(version) FROM {golden_cases.name}"))
