"""What the bridge does with what the province's database answers (connectors/database_errors.py), on real servers
where possible: a statement refused for its data is that version's dead letter with the database's own words while
the rest of the batch goes; a connection that fails or is dropped leaves the versions queued with the error kept
and counts against the circuit breaker; tables that are not what the bridge was configured for stop the run.

The province's tables here are the published ones (``contracts/national``), in places made stricter than published
(a column NOT NULL or shorter), as a province's own database may be: the bridge's checks pass, the database refuses.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from connectors.database_errors import REFUSED, UNREACHED, UNUSABLE, TargetMisconfigured, classify, refusal
from connectors.province import ProvinceTableTarget
from connectors.targets import OutboxMessage
from core.warehouse import Warehouse
from delivery.outbox import drain
from sandbox.province.contract import contract, definitions
from sandbox.province.contract import table as contract_table
from tests.test_delivery import _case, _queue

IDS = {"tenant_id": 1, "org_id": 2, "user_id": 3}
LANDLINE = {"contact_phone": "0519-86543210"}  # no mobile: contact_mobile stays NULL


def _stricter_tables(engine: sa.Engine, version: str = "current", **changes: sa.Column) -> None:
    """The published tables of ``version``, with up_pro_accept's columns replaced by ``changes``."""
    meta = sa.MetaData()
    for definition in definitions(version).values():
        t = contract_table(meta, definition)
        if definition.name == "up_pro_accept":
            for column in changes.values():
                t._columns.replace(column.copy())  # a test's stricter copy of the published table
    meta.create_all(engine)


def _outcomes(warehouse: Warehouse) -> dict[str, tuple[str, str | None]]:
    rows = warehouse.read("SELECT golden_case_id, status, last_error FROM outbox ORDER BY golden_case_id")
    return {r.golden_case_id: (r.status, r.last_error) for r in rows.itertuples()}


def _letters(warehouse: Warehouse) -> dict[str, tuple[str, str]]:
    rows = warehouse.read("SELECT golden_case_id, reason_code, target_reason FROM dead_letters")
    return {r.golden_case_id: (r.reason_code, r.target_reason) for r in rows.itertuples()}


def _one_refused_among_good(url: str, warehouse: Warehouse) -> dict[str, tuple[str, str]]:
    engine = sa.create_engine(url)
    try:
        _stricter_tables(engine, contact_mobile=sa.Column("contact_mobile", sa.String(11), nullable=False))
    finally:
        engine.dispose()
    _queue(warehouse, "one_network", [("GC0", 1, _case(0)), ("GC1", 1, _case(1, **LANDLINE)), ("GC2", 1, _case(2))])
    target = ProvinceTableTarget(url=url, **IDS)
    drain(warehouse, "one_network", target)
    outcomes = _outcomes(warehouse)
    assert outcomes["GC0"][0] == outcomes["GC2"][0] == "sent"  # the good versions of the batch went
    assert outcomes["GC1"][0] == "dead_lettered" and "contact_mobile" in outcomes["GC1"][1]
    assert target.breaker.consecutive == 0  # the database answered: not an outage
    return _letters(warehouse)


@pytest.mark.unit
def test_a_refused_version_is_dead_lettered_with_the_databases_words_on_sqlite(tmp_path, warehouse):
    letters = _one_refused_among_good(f"sqlite:///{tmp_path / 'province.sqlite'}", warehouse)
    code, reason = letters["GC1"]
    assert code == "SQLite 1299" and reason == "NOT NULL constraint failed: up_pro_accept.contact_mobile"


@pytest.mark.integration
def test_a_refused_version_is_dead_lettered_with_the_databases_words_on_mariadb(mariadb_url, warehouse):
    assert _one_refused_among_good(mariadb_url, warehouse)["GC1"] == (
        "MySQL 1048",
        "Column 'contact_mobile' cannot be null",
    )


@pytest.mark.integration
def test_a_refused_version_is_dead_lettered_with_the_databases_words_on_postgresql(postgres_url, warehouse):
    code, reason = _one_refused_among_good(postgres_url, warehouse)["GC1"]
    assert code == "SQLSTATE 23502" and 'column "contact_mobile"' in reason and "Failing row" not in reason


@pytest.mark.integration
def test_too_long_for_a_stricter_column_on_both_servers(mariadb_url, postgres_url, warehouse):
    for url, expected in ((mariadb_url, "MySQL 1406"), (postgres_url, "SQLSTATE 22001")):
        engine = sa.create_engine(url)
        _stricter_tables(engine, address=sa.Column("address", sa.String(10)))
        engine.dispose()
        target = ProvinceTableTarget(url=url, **IDS)
        answers = target.send(
            _messages(
                [
                    ("GC8", 1, _case(8, address="江苏省常州市武进区湖塘镇人民中路1号")),
                    ("GC9", 1, _case(9, address="武进")),
                ]
            )
        )
        assert [(a.outcome, a.code) for a in answers] == [("rejected", expected), ("sent", None)]


def _messages(versions) -> list[OutboxMessage]:
    return [OutboxMessage(f"one_network:{g}:v{v}", g, v, p, "h") for g, v, p in versions]


@pytest.mark.integration
def test_the_current_ddl_refuses_a_bridge_configured_for_2020_version_by_version(mariadb_url):
    """The issue's own case: ids left to a database that does not number rows (MySQL 1364) is each version's
    dead letter with the server's words, never an outage."""
    engine = sa.create_engine(mariadb_url)
    _stricter_tables(engine)
    engine.dispose()
    target = ProvinceTableTarget(url=mariadb_url, ddl_version="2020")
    answers = target.send(_messages([("GC1", 1, _case(1)), ("GC2", 1, _case(2))]))
    assert {(a.outcome, a.code, a.reason) for a in answers} == {
        ("rejected", "MySQL 1364", "Field 'id' doesn't have a default value")
    }


@pytest.mark.integration
def test_tables_of_another_ddl_version_stop_the_run(mariadb_url, warehouse):
    engine = sa.create_engine(mariadb_url)
    _stricter_tables(engine, version="2020")
    engine.dispose()
    _queue(warehouse, "one_network", [("GC1", 1, _case(1))])
    with pytest.raises(TargetMisconfigured, match="up_pro_accept has no column tenant_id, create_org_id"):
        drain(warehouse, "one_network", ProvinceTableTarget(url=mariadb_url, **IDS))
    assert _outcomes(warehouse)["GC1"] == ("queued", None) and not _letters(warehouse)


@pytest.mark.integration
def test_no_server_on_the_port_is_a_retry_with_the_error_kept(warehouse):
    target = ProvinceTableTarget(url="mysql+pymysql://root@127.0.0.1:1/nothing", circuit_breaker_failures=2, **IDS)
    _queue(warehouse, "one_network", [(f"GC{n}", 1, _case(n)) for n in range(3)])
    drain(warehouse, "one_network", target)
    outcomes = _outcomes(warehouse)
    assert {status for status, _ in outcomes.values()} == {"queued"} and not _letters(warehouse)
    assert all("Can't connect" in (error or "") for _, error in outcomes.values())
    assert target.breaker.consecutive == 1


@pytest.mark.integration
def test_a_connection_dropped_mid_transaction_is_a_retry(mariadb_url, warehouse):
    """The server kills the bridge's connection while it waits on a table lock (as a DBA's KILL or a server restart
    would): nothing of that attempt is committed, the batch's transaction is done again (core.database_retry) and
    the versions go in the same run, each once; nothing is dead-lettered."""
    engine = sa.create_engine(mariadb_url)
    _stricter_tables(engine)
    _queue(warehouse, "one_network", [("GC1", 1, _case(1)), ("GC2", 1, _case(2))])
    target = ProvinceTableTarget(url=mariadb_url, circuit_breaker_failures=5, **IDS)
    admin = engine.connect()
    try:
        admin.exec_driver_sql("LOCK TABLES up_pro_accept WRITE, up_pro_process WRITE")
        runner = threading.Thread(target=drain, args=(warehouse, "one_network", target))
        runner.start()
        deadline = time.monotonic() + 20
        waiting = []
        while not waiting and time.monotonic() < deadline:
            time.sleep(0.2)
            waiting = [
                row[0]
                for row in admin.exec_driver_sql("SHOW PROCESSLIST").all()
                if row[6] and "lock" in str(row[6]).lower() and row[0] != admin.connection.dbapi_connection.thread_id()
            ]
        assert waiting, "the bridge never waited on the lock"
        for thread_id in waiting:
            admin.exec_driver_sql(f"KILL CONNECTION {thread_id}")
        admin.exec_driver_sql("UNLOCK TABLES")
        runner.join(timeout=30)
        assert not runner.is_alive()
    finally:
        admin.close()
    assert {status for status, _ in _outcomes(warehouse).values()} == {"sent"} and not _letters(warehouse)
    with engine.connect() as conn:  # one acceptance row per case: the killed attempt left nothing behind
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM up_pro_accept").scalar() == 2
    drain(warehouse, "one_network", target)  # a later run has nothing more to send
    assert {status for status, _ in _outcomes(warehouse).values()} == {"sent"}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM up_pro_accept").scalar() == 2
    engine.dispose()


@pytest.mark.unit
def test_sqlite_answers_are_told_apart_by_their_result_codes(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    meta = sa.MetaData()
    t = contract_table(meta, contract("current").tables["up_pro_material"])
    meta.create_all(engine)
    with pytest.raises(sa.exc.DBAPIError) as refused, engine.begin() as conn:
        conn.execute(t.insert().values(id=1))
    with pytest.raises(sa.exc.DBAPIError) as unusable, engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO up_pro_material (tenant) VALUES (1)")
    gone = sa.create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite'}")
    with pytest.raises(sa.exc.DBAPIError) as unreached, gone.connect():
        pass
    assert [classify(e.value) for e in (refused, unusable, unreached)] == [REFUSED, UNUSABLE, UNREACHED]
    assert refusal(refused.value)[0] == "SQLite 1299" and refusal(unreached.value)[0] == "SQLite 14"
    engine.dispose()
