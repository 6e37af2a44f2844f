"""A day's cost does not grow with history: resolving a day reads its own rows and its neighbours' by index,
never a table of all history (SQLite's query plans say so), and a warehouse built before an index existed gets it
when it is opened."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, create_engine, create_tables, insert_frame
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
    """The table a query plan's step reads whole: a scan (even of an index), a search on coarse columns only, or
    one that pins only coarse columns and bounds the rest on one side (``source_system=? AND partition_date>?``:
    every later day of a department, more of it the older the day)."""
    scan = re.match(r"SCAN (\w+)", step)
    if scan:
        return scan.group(1)
    search = re.match(r"SEARCH (\w+) USING .*\((.*)\)", step)
    if not search:
        return None
    terms = [term.strip() for term in search.group(2).split(" AND ")]
    pinned = {t.split("=")[0].strip() for t in terms if re.match(r"^\w+=", t)}
    bounded = [re.split(r"[<>]", t)[0].strip() for t in terms if re.search(r"[<>]", t)]
    one_sided = any(bounded.count(column) == 1 for column in bounded)
    if pinned | set(bounded) <= COARSE or (pinned <= COARSE and one_sided):
        return search.group(1)
    return None


def _history_reads(engine: sa.Engine, statements: list[tuple[str, object]]) -> dict[str, str]:
    """The tables the statements' query plans read whole (see :func:`_reads_history`), with the step and statement."""
    scanned: dict[str, str] = {}
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            for row in plan:
                table = _reads_history(row[-1])
                # a subquery's rows (anon_N) are what its own steps, listed too, read
                # CONSTANT: SQLite's one-row stand-in for an empty IN list, no table; a scan for the first row of
                # a table (no condition, a LIMIT: is it empty?) stops at once
                first_row = " WHERE " not in statement.upper() and re.search(r"\sLIMIT\s", statement.upper())
                if (
                    table
                    and table not in SMALL | {"CONSTANT"}
                    and not first_row
                    and not re.fullmatch(r"anon_\d+", table)
                ):
                    scanned[table] = f"{row[-1]}: {statement[:160]}"
    return scanned


@pytest.mark.parametrize(
    ("step", "reads"),
    [
        ("SCAN staged_cases", "staged_cases"),
        ("SEARCH s USING INDEX ix (source_system=?)", "s"),
        ("SEARCH newer USING INDEX pk (source_system=? AND partition_date>?)", "newer"),
        ("SEARCH newer USING INDEX ix (source_system=? AND source_record_id=? AND partition_date>?)", None),
        ("SEARCH l USING INDEX ix_day (partition_date>? AND partition_date<?)", None),
        ("SEARCH l USING INDEX ix_golden (golden_case_id=?)", None),
    ],
)
def test_what_counts_as_reading_history(step, reads):
    assert _reads_history(step) == reads


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
    assert _history_reads(warehouse.engine, statements) == {}


def test_the_daily_checks_of_a_day_read_no_table_whole(tmp_path):
    """A week's checks ran 2.5, 5.7, 8 s in the first three weeks of the year benchmark: the check of one item per
    golden case looked for a newer state of each record among every later record of its department."""
    import pipelines.definitions  # noqa: F401 (registers every daily check)
    from pipelines.partitions import JUDGES
    from pipelines.resolve.assets import resolve_partition

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    days = _days(warehouse)
    for day in days:
        warehouse.transaction(lambda conn, day=day: resolve_partition(conn, day))
    assert len(JUDGES) >= 10
    statements = _record_statements(warehouse.engine)
    for name, judge in sorted(JUDGES.items()):
        verdicts = judge(warehouse, days[1:3])
        assert set(verdicts) == set(days[1:3]), name
    assert len(statements) > 20
    assert _history_reads(warehouse.engine, list(statements)) == {}


def test_recording_answers_reads_no_table_whole(tmp_path):
    """An acknowledgement closes the case's earlier dead letters: by an index of the case (week 34 of the year
    benchmark spent 4.5 % of its time scanning every dead letter of the receiver for each acknowledged version)."""
    from connectors.targets import Delivery
    from delivery.outbox import _record
    from schemas.warehouse import dead_letters, outbox

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    now = dt.datetime(2026, 11, 20, 9)
    keys = [f"one_network:GC{n}:2" for n in range(3)]
    with warehouse.begin() as conn:
        conn.execute(outbox.insert(), [
            {"target": "one_network", "idempotency_key": k, "golden_case_id": f"GC{n}", "version": 2,
             "partition_date": now.date(), "payload": "{}", "payload_hash": "h", "status": "sent", "attempts": 1,
             "created_at": now} for n, k in enumerate(keys)])  # fmt: skip
        conn.execute(dead_letters.insert(), [
            {"target": "one_network", "idempotency_key": f"one_network:GC{n}:1", "golden_case_id": f"GC{n}",
             "version": 1, "created_at": now} for n in range(3)])  # fmt: skip
    sent = pd.DataFrame({"idempotency_key": keys, "golden_case_id": ["GC0", "GC1", "GC2"], "version": 2,
                         "receipt_id": "R", "sent_at": now})  # fmt: skip
    answers = [Delivery(keys[0], "acknowledged", "R0"), Delivery(keys[1], "rejected", "R1", "E1", "bad")]
    statements = _record_statements(warehouse.engine)
    warehouse.transaction(lambda conn: _record(conn, "one_network", sent, answers))
    statements = list(statements)  # the recording's own, not the reads below
    assert warehouse.scalar("SELECT COUNT(*) FROM dead_letters WHERE closed_at IS NOT NULL") == 1
    assert len(statements) >= 3
    assert _history_reads(warehouse.engine, statements) == {}


def test_an_older_warehouse_gets_the_indexes_it_lacks_when_opened(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:  # as an earlier release left it: no index on the link table's day
        conn.exec_driver_sql("DROP INDEX ix_case_links_day")
        conn.exec_driver_sql("DROP INDEX ix_staged_cases_record")  # and this one had fewer columns
        conn.exec_driver_sql("CREATE INDEX ix_staged_cases_record ON staged_cases (source_system, source_record_id)")
    engine.dispose()
    warehouse = Warehouse(url=url)
    with warehouse.begin() as conn:
        names = {index["name"] for index in sa.inspect(conn).get_indexes(case_links.name)}
        record = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("staged_cases")}
        names |= set(record)
    assert record["ix_staged_cases_record"] == ["source_system", "source_record_id", "partition_date"]
    with warehouse.begin() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT golden_case_id FROM case_links WHERE partition_date = '2026-11-02'"
        ).all()
    assert {"ix_case_links_day", "ix_staged_cases_record"} <= names
    assert "ix_case_links_day" in plan[0][-1]
    assert pd.isna(warehouse.scalar(f"SELECT MAX(version) FROM {golden_cases.name}"))


def test_a_result_read_column_by_column_is_the_frame_read_row_by_row(tmp_path):
    """``frame_of`` builds frames by column (cheaper); every type the warehouse stores, missing values, an empty
    result and two columns of one name come out as ``pd.DataFrame(rows, columns=keys)`` makes them."""
    from core.warehouse import frame_of

    engine = create_engine(f"sqlite:///{tmp_path / 'f.sqlite'}")
    meta = sa.MetaData()
    t = sa.Table(
        "t",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String),
        sa.Column("amount", sa.Float),
        sa.Column("day", sa.Date),
        sa.Column("at", sa.DateTime),
        sa.Column("flag", sa.Boolean),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            t.insert(),
            [
                {"id": 1, "name": "张伟", "amount": 1.5, "day": dt.date(2026, 11, 2), "at": dt.datetime(2026, 11, 2, 9)}
                | {"flag": None},
                {"id": 2, "name": None, "amount": None, "day": None, "at": None, "flag": True},
                {"id": 3, "name": "", "amount": 0.0, "day": dt.date(2026, 12, 1), "at": None, "flag": False},
            ],
        )
    u = t.alias("u")
    queries = [
        sa.select(t),
        sa.select(t).where(t.c.id > 9),  # empty
        sa.select(t.c.id, t.c.name).where(t.c.id == 2),  # one row, all missing but the key
        sa.select(t.c.id, u.c.id).select_from(t.join(u, u.c.id == t.c.id)),  # same name twice (a join's)
    ]
    with engine.connect() as conn:
        for query in queries:
            expected = conn.execute(query)
            expected = pd.DataFrame(expected.fetchall(), columns=list(expected.keys()))
            pd.testing.assert_frame_equal(frame_of(conn.execute(query)), expected)
    engine.dispose()


def test_a_licence_day_reads_no_table_whole(tmp_path):
    """The licence repository's day (its events, holders, refold, supervision and the cases' parties) reads by
    index: the sixteen-week benchmark's `licence_repository` grew from 4.9 s (week 2) to 5.9 s (week 16), found
    with py-spy in the replacement of the day's events (``source = 'case' AND source_ref IN (…) OR …``, no index
    of the case)."""
    from pipelines.licences.assets import _load_day
    from pipelines.resolve.assets import resolve_partition

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    days = _days(warehouse)
    for day in days:
        warehouse.transaction(lambda conn, day=day: resolve_partition(conn, day))
    with warehouse.begin() as conn:
        conn.execute(golden_cases.update().values(status="办结", completed_at=dt.datetime(2026, 11, 6, 9)))
    now = dt.datetime(2026, 11, 6, 18)
    with warehouse.begin() as conn:  # a warehouse without parties yet fills them whole on its first day: once
        _load_day(warehouse, conn, days[0], now.date(), now)
    statements = _record_statements(warehouse.engine)
    for day in days:
        with warehouse.begin() as conn:
            _load_day(warehouse, conn, day, now.date(), now)
    statements = list(statements)
    assert warehouse.scalar("SELECT COUNT(*) FROM case_parties") > 0
    assert len(statements) > 20
    assert _history_reads(warehouse.engine, statements) == {}


def test_the_corrections_read_the_refused_cases_versions_by_index(tmp_path):
    """The corrections read every version of each refused case for the receiver that refused it by index: the
    year benchmark's `corrections` grew from 0.3 s (week 1) to 3.6 s (week 27), found with py-spy in this read,
    which named no receiver and so read the whole outbox for every 500 refused cases."""
    from reporting.corrections import read_facts
    from schemas.warehouse import dead_letters, outbox

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    create_tables(warehouse.engine)
    now = dt.datetime(2026, 11, 6, 18)
    rows = [
        {"target": target, "idempotency_key": f"{target}:GC{i}:{v}", "golden_case_id": f"GC{i}", "version": v,
         "partition_date": dt.date(2026, 11, 6), "payload": "{}", "payload_hash": "x", "status": status,
         "attempts": 1, "created_at": now}
        for i in range(40) for target in ("one_network", "municipal") for v, status in ((1, "dead_lettered"),
                                                                                      (2, "acknowledged"))
    ]  # fmt: skip
    letters = [
        {"target": "municipal", "idempotency_key": f"municipal:GC{i}:1", "golden_case_id": f"GC{i}", "version": 1,
         "reason_code": "E1001", "created_at": now}
        for i in range(0, 40, 3)
    ]  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame(rows))
        insert_frame(conn, dead_letters, pd.DataFrame(letters))
    statements = _record_statements(warehouse.engine)
    with warehouse.begin() as conn:
        facts = read_facts(conn)
    versions = [(s, p) for s, p in statements if "FROM outbox" in s and "golden_case_id IN" in s]
    assert versions
    assert _history_reads(warehouse.engine, versions) == {}
    assert set(facts.versions["target"]) == {"municipal"} and len(facts.versions) == 2 * len(letters)
    warehouse.dispose()
