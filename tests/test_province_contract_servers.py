"""The province's fixture tables on PostgreSQL and MariaDB: the database itself holds the published constraints
(NOT NULL refused by the server; over-long text refused by PostgreSQL's varchar and by MariaDB in strict mode,
lengths counted in characters), and the exchange process decides rows there as on SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from sandbox.province.exchange import NationalExchange, PreExchange
from sandbox.province.fixture import PROVINCE_METADATA, family
from tests.test_province_contract import LATER, accept_row, apasinfo_row, process_row

pytestmark = pytest.mark.integration


def _engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    if engine.dialect.name in ("mysql", "mariadb"):

        @sa.event.listens_for(engine, "connect")
        def strict(dbapi_connection, _record):  # the province's server runs in strict mode
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")

    PROVINCE_METADATA.create_all(engine)
    return engine


def _constraints_hold(url: str) -> None:
    engine = _engine(url)
    try:
        inspector = sa.inspect(engine)
        for name in ("national", "pre"):
            for spec in family(name).tables.values():
                reflected = {c["name"]: c for c in inspector.get_columns(spec.name)}
                for column in spec.columns:
                    got = reflected[column.name]
                    assert got["nullable"] == (column.nullable and column.name not in spec.primary_key), (
                        spec.name,
                        column.name,
                    )
                    if column.type == "varchar":
                        assert getattr(got["type"], "length", None) == column.length, (spec.name, column.name)
        t = PROVINCE_METADATA.tables["up_pro_accept"]
        with engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(org_name="局" * 100)))  # 100 characters: fits
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(row_guid="a-null", applyer_name=None)))
        with pytest.raises(sa.exc.DataError), engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(row_guid="a-long", org_name="局" * 101)))
        with pytest.raises(sa.exc.DataError), engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(row_guid="a-code", project_type="即办件")))
        pre = PROVINCE_METADATA.tables["PRE_APASINFO"]
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(pre.insert().values(**apasinfo_row(BATCHNO=None)))

        # What the database lets through, the exchange process decides: the same outcomes as on SQLite.
        with engine.begin() as conn:
            conn.execute(
                PROVINCE_METADATA.tables["up_pro_process"].insert(),
                [process_row(), process_row(row_guid="p-2", event_name="9", cd_batch="B9")],
            )
            conn.execute(pre.insert(), [apasinfo_row(), apasinfo_row(PROJID="X" * 43, DATAVERSION=1)])
        national, front = NationalExchange(engine), PreExchange(engine)
        assert national.process_once(LATER) == 3
        (refused,) = national.rejections()
        assert (refused["table_row_guid"], refused["err_type"]) == ("p-2", "04")
        assert refused["remark"] == "字段event_name的值9不在代码表event_name中"
        assert [h["process_rows"] for h in national.holdings()] == [1]
        assert front.process_once(LATER + dt.timedelta(days=1)) == 2
        (bad,) = front.rejections()
        assert bad["PROJID"] == "X" * 43 and "实施编码" in bad["SYNC_ERROR"]
    finally:
        PROVINCE_METADATA.drop_all(engine)
        engine.dispose()


def test_fixture_constraints_on_postgresql(postgres_url):
    _constraints_hold(postgres_url)


def test_fixture_constraints_on_mariadb(mariadb_url):
    _constraints_hold(mariadb_url)
